"""Lab 10's graded exercises: right answers score full marks, wrong and subtly wrong ones
lose points with feedback that does not give the answer away, and students' instances differ."""
from __future__ import annotations

import json

from vmlab.grading import lab10_run as R
from vmlab.grading.artifacts import calls
from vmlab.grading.lab10 import lab10
from vmlab.grading.labs import ASSIGNMENTS
from vmlab.hv import virtq

DBCN_OK = """
console_write:
        mv      t0, a0
        mv      a0, a1
        mv      a1, t0
        li      a2, 0
        li      a7, 0x4442434E
        li      a6, 0
        ecall
        ret
"""


def _grade(name, student, arts):
    ex = lab10.exercises[name]
    p = ex.params(student)
    return ex.check(arts, p, ex.cases(student, p, hidden=True, secret="s"))


def _calls(name, student, fn):
    ex = lab10.exercises[name]
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True, secret="s")
    spec = ex.requests(p, cases)["calls"]
    out = ex.check({"calls": {"results": calls(fn, spec["args"], spec["driver"])}}, p, cases)
    return ex, out


def test_lab10_is_an_assignment_and_instances_differ():
    assert ASSIGNMENTS["lab10"] is lab10
    for ex in lab10.exercises.values():
        instances = {json.dumps(ex.params(f"student{i}"), sort_keys=True) for i in range(20)}
        assert len(instances) >= 10, ex.name


def test_uart_exits_model():
    ex, right = _calls("uart_exits", "ann", lambda n: 2 * n + 3)
    assert right.score == ex.points
    _, per_byte_only = _calls("uart_exits", "ann", lambda n: 2 * n)      # forgot uart_init
    assert 0 < per_byte_only.score < ex.points or per_byte_only.score == 0
    _, copied = _calls("uart_exits", "ann", lambda n: 2 * ex.params("ann")["n"] + 3)
    assert copied.score < ex.points                                    # one number, not a model
    assert not any("expected" in line.text for line in copied.lines if line.hidden)


def test_dbcn_console_right_and_wrong():
    ex = lab10.exercises["dbcn_console"]
    assert _grade("dbcn_console", "bo", {"source": {"value": DBCN_OK}}).score == ex.points
    off_by_one = DBCN_OK.replace("mv      a0, a1", "addi    a0, a1, -1")
    assert _grade("dbcn_console", "bo", {"source": {"value": off_by_one}}).score < ex.points
    clobbers = DBCN_OK.replace("ret", "li s0, 0\n        ret")
    assert _grade("dbcn_console", "bo", {"source": {"value": clobbers}}).score < ex.points
    uart = """
console_write:
        li      t1, 0x10000000
        add     a1, a0, a1
1:      bgeu    a0, a1, 2f
        lbu     t2, 0(a0)
        sb      t2, 0(t1)
        addi    a0, a0, 1
        j       1b
2:      ret
"""
    out = _grade("dbcn_console", "bo", {"source": {"value": uart}})
    assert 0 < out.score < ex.points                     # right text, but through the UART
    assert _grade("dbcn_console", "bo", {"source": {"value": "nonsense"}}).score == 0
    stub = "console_write:\n        ret\n"                          # the notebook's stub
    assert _grade("dbcn_console", "bo", {"source": {"value": stub}}).score == 0
    assert _grade("dbcn_console", "bo", {"source": {"value": "console_write: bogus x"}}).score == 0


def _walk_no_loop_check(ram, q, head):
    """Subtly wrong: never stops on a loop (relies on the budget)."""
    segs, i = [], head
    while True:
        if i >= q.num:
            raise virtq.QueueError("outside")
        addr, n, flags, nxt = virtq.DESC.unpack(ram.read(q.desc + 16 * i, 16))
        segs.append(virtq.Segment(addr, n, bool(flags & virtq.WRITE)))
        if not flags & virtq.NEXT:
            return segs
        i = nxt


def test_walk_chain_right_and_wrong():
    ex, right = _calls("virtq_walk", "cy", virtq.walk_chain)
    assert right.score == ex.points
    _, loops = _calls("virtq_walk", "cy", _walk_no_loop_check)
    assert 0 < loops.score < ex.points
    _, nothing = _calls("virtq_walk", "cy", lambda ram, q, head: [])
    assert nothing.score < ex.points / 3

    def refuse(ram, q, head):
        raise virtq.QueueError("the untouched stub")
    _, stub = _calls("virtq_walk", "cy", refuse)
    assert stub.score == 0


def _serve_without_writable_checks(ram, q, disk):
    """Subtly wrong: checks addresses but not which way each buffer goes."""
    for head in virtq.available(ram, q):
        chain = virtq.walk_chain(ram, q, head)
        status = chain[-1]
        if not ram.contains(status.gpa, 1):
            virtq.put_used(ram, q, head, 0)
            continue
        _, _, sector = virtq.REQUEST_HEADER.unpack(ram.read(chain[0].gpa, 16))
        data = chain[1:-1]
        content = None
        if all(ram.contains(s.gpa, s.length) for s in data):
            content = disk.read(sector, sum(s.length for s in data))
        done = 0
        for s in data if content else []:
            ram.write(s.gpa, content[done:done + s.length])
            done += s.length
        ram.write(status.gpa, bytes([0 if content else 1]))
        virtq.put_used(ram, q, head, done + 1)


def test_serve_right_and_subtly_wrong():
    ex, right = _calls("virtq_serve", "dee", virtq.serve)
    assert right.score == ex.points, right.feedback()
    _, sloppy = _calls("virtq_serve", "dee", _serve_without_writable_checks)
    assert 0.5 * ex.points < sloppy.score < ex.points
    assert any(not line.ok and line.hidden for line in sloppy.lines)


def test_disk_exits_numbers():
    ex = lab10.exercises["disk_exits"]
    p = ex.params("eve")
    truth = R.disk_exits_of(p)
    assert truth["pio_exits"] > 500 * p["sectors"] > truth["virtio_exits"]
    assert _grade("disk_exits", "eve", {"answers": {"value": truth}}).score == ex.points
    swapped = {"pio_exits": truth["virtio_exits"], "virtio_exits": truth["pio_exits"]}
    assert _grade("disk_exits", "eve", {"answers": {"value": swapped}}).score == 0


def test_dbcn_one_putchar_per_byte_is_not_enough():
    ex = lab10.exercises["dbcn_console"]
    putchar = """
console_write:
        mv      t0, a0
        add     t1, a0, a1
1:      bgeu    t0, t1, 2f
        lbu     a0, 0(t0)
        li      a7, 1
        ecall
        addi    t0, t0, 1
        j       1b
2:      ret
"""
    out = _grade("dbcn_console", "bo", {"source": {"value": putchar}})
    assert 0 < out.score < ex.points and out.lines[0].ok and not out.lines[1].ok
