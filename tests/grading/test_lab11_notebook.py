"""End to end: lab 11's notebook with its exercise cells answered, graded by `vmlab grade`:
full marks; the untouched notebook, none."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest

from grading_support import ROOT

LAB = ROOT / "labs" / "11-isolation-security-performance.ipynb"


def _attack(name: str, body: str) -> str:
    return (f"P_{name} = student.params('lab11', 'escape_{name}', STUDENT_ID)\n"
            f"TARGET = P_{name}['ram_end'] + P_{name}['secret_gpa'] - 0x80000000\n"
            f"escape_{name}_src = f'''\n_start: {body}\n        j shutdown\n'''\n")


LOOP = ("li t0, {TARGET:#x}\n        li t1, {P_load['secret_len']}\n"
        "1:      lbu a0, 0(t0)\n        li a7, 1\n        ecall\n        addi t0, t0, 1\n"
        "        addi t1, t1, -1\n        bnez t1, 1b")
ANSWERS = {
    "escape_load_src = ": _attack("load", LOOP),
    "escape_read_src = ": _attack("read", "li a0, {P_read['secret_len']}\n        li a1, {TARGET:#x}\n"
                                  "        li a2, 0\n        li a6, 0\n        li a7, 0x4442434E\n"
                                  "        ecall"),
    "escape_dma_src = ": _attack("dma", "la sp, stack_top\n        li a0, {TARGET:#x}\n"
                                 "        li a1, 3\n        call vio_read"),
    "from vmlab.bench import nanobench": (
        "from vmlab.bench import nanobench\n"
        "nano_predictions = {f'{n} @ {t}': round(nanobench.measure(n, t, 8).exits)"
        " for n, t in P_NANO['rows']}\n"),
    "P_STUDY = ": (
        "P_STUDY = student.params('lab11', 'exit_time_share', STUDENT_ID)\n"
        "study_vm = lab11_run.study_trace(P_STUDY)\n"
        "rec = study_vm.trace.records(EXIT)\ncost = Counter()\n"
        "for h, c in zip(rec['handler'], rec['cost']):\n"
        "    cost[study_vm.trace.names[h]] += int(c)\n"
        "shares = {k: 100 * v / sum(cost.values()) for k, v in cost.items()}\n"
        "exit_shares = {'shares': shares, 'optimize': max(shares, key=shares.get)}\n"),
}


def answered() -> nbformat.NotebookNode:
    nb = nbformat.read(LAB, 4)
    for cell in nb.cells:
        for start, answer in ANSWERS.items():
            if cell.cell_type == "code" and cell.source.startswith(start):
                cell.source = answer
    return nb


@pytest.mark.slow
def test_vmlab_grade_on_lab11(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(answered(), subs / "ada.ipynb")
    nbformat.write(nbformat.read(LAB, 4), subs / "ben.ipynb")            # untouched
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", "lab11",
                        "-j", "1", "--timeout", "900", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=1800)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert float(rows["ada"]["total"]) == 24, rows["ada"]
    assert float(rows["ben"]["total"]) == 0, rows["ben"]
