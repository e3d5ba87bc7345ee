"""End to end: lab 10's notebook with its exercise cells answered, graded by `vmlab grade`
(nbclient in the sandbox, the drivers booting VMs in the student's process): full marks; the
untouched notebook gets none of the points that need work."""
from __future__ import annotations

import pytest

from grading_support import ROOT, grade_answered_and_untouched

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


@pytest.mark.slow
def test_vmlab_grade_on_lab10(tmp_path):
    answered, untouched = grade_answered_and_untouched(tmp_path, LAB, "lab10", ANSWERS)
    assert answered == 29
    assert untouched == 0                                  # no stub earns a point
