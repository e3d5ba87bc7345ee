"""End to end: lab 11's notebook with its exercise cells answered, graded by `vmlab grade`:
full marks; the untouched notebook, none."""
from __future__ import annotations

import pytest

from grading_support import ROOT, grade_answered_and_untouched

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


@pytest.mark.slow
def test_vmlab_grade_on_lab11(tmp_path):
    answered, untouched = grade_answered_and_untouched(tmp_path, LAB, "lab11", ANSWERS)
    assert answered == 24
    assert untouched == 0                                  # no stub earns a point
