"""End to end: lab 10's notebook with its exercise cells answered, graded by `vmlab grade`
(nbclient in the sandbox, the drivers booting VMs in the student's process): full marks; the
untouched notebook gets none of the points that need work."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest

from grading_support import ROOT

LAB = ROOT / "labs" / "10-devices-and-virtio.ipynb"
ANSWERS = {
    "def uart_exits(n):": "def uart_exits(n):\n    return 3 + 2 * n\n",
    "console_write_src = ": ("console_write_src = '''\nconsole_write:\n        mv t0, a0\n"
                             "        mv a0, a1\n        mv a1, t0\n        li a2, 0\n"
                             "        li a6, 0\n        li a7, 0x4442434E\n        ecall\n"
                             "        ret\n'''\n"),
    "def walk_chain(": (
        "def walk_chain(ram, q, head):\n    out, i = [], head\n    for _ in range(q.num):\n"
        "        if i >= q.num:\n            raise virtq.QueueError('outside')\n"
        "        addr, n, flags, nxt = virtq.DESC.unpack(ram.read(q.desc + 16 * i, 16))\n"
        "        if flags & virtq.INDIRECT:\n            raise virtq.QueueError('indirect')\n"
        "        out.append(virtq.Segment(addr, n, bool(flags & virtq.WRITE)))\n"
        "        if not flags & virtq.NEXT:\n            return out\n        i = nxt\n"
        "    raise virtq.QueueError('loop')\n"),
    "def serve(": ("def serve(ram, q, disk):\n    for head in virtq.available(ram, q):\n"
                   "        chain = walk_chain(ram, q, head)\n"
                   "        virtq.put_used(ram, q, head, virtq.block_request(ram, chain, disk))\n"),
    "disk_exits = {": ("P5 = student.params('lab10', 'disk_exits', STUDENT_ID)\n"
                       "disk_exits = {f'{k}_exits': run_disk(k, P5['sectors'], P5['first'])[1]['mmio']"
                       " for k in ('pio', 'virtio')}\n"),
}


def answered() -> nbformat.NotebookNode:
    nb = nbformat.read(LAB, 4)
    for cell in nb.cells:
        for start, answer in ANSWERS.items():
            if cell.cell_type == "code" and cell.source.startswith(start):
                cell.source = answer
    return nb


@pytest.mark.slow
def test_vmlab_grade_on_lab10(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(answered(), subs / "una.ipynb")
    nbformat.write(nbformat.read(LAB, 4), subs / "val.ipynb")            # untouched
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", "lab10",
                        "-j", "1", "--timeout", "900", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=1800)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert float(rows["una"]["total"]) == 29, rows["una"]
    assert float(rows["val"]["total"]) == 0, rows["val"]          # no stub earns a point
