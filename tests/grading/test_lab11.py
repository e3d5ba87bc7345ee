"""Lab 11's graded exercises: a real escape attempt works on the flawed hypervisor and is
stopped by the real one; a fake or a misaimed one earns nothing; the performance numbers are
checked against the trace."""
from __future__ import annotations

import json

from vmlab.grading.labs import ASSIGNMENTS
from vmlab.grading.lab11 import lab11, nano_truth
from vmlab.grading.lab11_run import attack, study_trace, time_shares
from vmlab.grading.lab11 import _assemble


def _grade(name, student, arts):
    ex = lab11.exercises[name]
    p = ex.params(student)
    return ex.check(arts, p, ex.cases(student, p, hidden=True, secret="s"))


def read_attempt(p, miss: int = 0) -> str:
    return f"""
_start: li      a0, {p['secret_len']}
        li      a1, {p['ram_end'] + p['secret_gpa'] - 0x8000_0000 + miss:#x}
        li      a2, 0
        li      a6, 0
        li      a7, 0x4442434E
        ecall
        j       shutdown
"""


def dma_attempt(p, miss: int = 0) -> str:
    return f"""
_start: la      sp, stack_top
        li      a0, {p['ram_end'] + p['secret_gpa'] - 0x8000_0000 + miss:#x}
        li      a1, 5
        call    vio_read
        j       shutdown
"""


def test_lab11_is_an_assignment_and_instances_differ():
    assert ASSIGNMENTS["lab11"] is lab11
    for ex in lab11.exercises.values():
        instances = {json.dumps(ex.params(f"student{i}"), sort_keys=True) for i in range(20)}
        assert len(instances) >= 10, ex.name


def test_the_flaw_is_real_and_the_hypervisor_stops_it():
    p = lab11.exercises["escape_read"].params("ann")
    elf = _assemble(read_attempt(p))
    assert attack(elf, p, "dbcn", flawed=True)["leaked"]
    real = attack(elf, p, "dbcn", flawed=False)
    assert not real["leaked"] and real["reason"] == "halt"


def test_escape_read_graded():
    ex = lab11.exercises["escape_read"]
    p = ex.params("ann")
    assert _grade("escape_read", "ann", {"source": {"value": read_attempt(p)}}).score == ex.points
    off = _grade("escape_read", "ann", {"source": {"value": read_attempt(p, miss=-0x1000)}})
    assert off.score == 0                       # a page off: the other VM, but not its secret
    assert _grade("escape_read", "ann", {"source": {"value": "_start: j shutdown"}}).score == 0


def load_attempt(p, n=None) -> str:
    return f"""
_start: li      t0, {p['ram_end'] + p['secret_gpa'] - 0x8000_0000:#x}
        li      t1, {n or p['secret_len']}
1:      lbu     a0, 0(t0)
        li      a7, 1
        ecall
        addi    t0, t0, 1
        addi    t1, t1, -1
        bnez    t1, 1b
        j       shutdown
"""


def test_escape_load_graded():
    ex = lab11.exercises["escape_load"]
    p = ex.params("eve")
    assert _grade("escape_load", "eve", {"source": {"value": load_attempt(p)}}).score == ex.points
    short = _grade("escape_load", "eve", {"source": {"value": load_attempt(p, p["secret_len"] - 1)}})
    assert short.score == 0                     # one byte short: the secret never shows whole
    own = load_attempt(p).replace(f"{p['ram_end'] + p['secret_gpa'] - 0x8000_0000:#x}",
                                  f"{p['secret_gpa']:#x}")
    assert _grade("escape_load", "eve", {"source": {"value": own}}).score == 0   # its own RAM


def test_escape_dma_graded():
    ex = lab11.exercises["escape_dma"]
    p = ex.params("bo")
    assert _grade("escape_dma", "bo", {"source": {"value": dma_attempt(p)}}).score == ex.points
    # off by one page past the secret: the flawed hypervisor lets it through, but it misses
    assert _grade("escape_dma", "bo", {"source": {"value": dma_attempt(p, miss=0x1000)}}).score == 0


def test_time_shares_graded_against_the_trace():
    ex = lab11.exercises["exit_time_share"]
    p = ex.params("cy")
    shares = time_shares(study_trace(p))
    assert abs(sum(shares.values()) - 100) < 1e-6
    top = max(shares, key=shares.get)
    ok = {"shares": shares, "optimize": top}
    assert _grade("exit_time_share", "cy", {"answers": {"value": ok}}).score == ex.points
    vm = study_trace(p)                          # by count, not by cost: a common mistake
    counts = {k: v for k, v in vm.trace.handler_counts.items() if k in shares}
    by_count = {k: 100 * v / sum(counts.values()) for k, v in counts.items()}
    assert _grade("exit_time_share", "cy", {"answers": {"value": dict(ok, shares=by_count)}}).score < ex.points


def test_nanobench_rows_are_whole_numbers():
    from vmlab.bench import nanobench
    from vmlab.grading.lab11 import NANO_ROWS
    for name, tech in NANO_ROWS:
        exits = nanobench.measure(name, tech, 8).exits
        assert exits == round(exits), (name, tech, exits)


def test_nanobench_predictions():
    ex = lab11.exercises["nanobench_predict"]
    p = ex.params("dee")
    truth = nano_truth(p)
    assert _grade("nanobench_predict", "dee", {"answers": {"value": truth}}).score == ex.points
    guess = {k: 1 for k in truth}
    assert _grade("nanobench_predict", "dee", {"answers": {"value": guess}}).score < ex.points
