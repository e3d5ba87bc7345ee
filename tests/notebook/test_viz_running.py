"""Running a guest under the views: the trap recorder and the run control's chunks.

TrapRecorder: every trap logged with its pc, and the guest none the wiser.

The recorder runs the machine in its trap-exit mode and takes each trap itself; these
tests hold it to the bare machine: same registers, CSRs, counters and simulated time
after the same number of instructions, with traps taken right after a vector changed,
timer interrupts and a trap storm.
"""
from __future__ import annotations

import time

from nb_kernels import require  # noqa: E402

require("anywidget")

from vmlab.asm import assemble
from vmlab.hv.trace import EXIT
from vmlab.machine.board import RunResult
from vmlab.notebook.session import Session
from vmlab.viz import RunControl, TrapLog, TrapRecorder
from vmlab.viz import runcontrol

# A timer interrupt every 30 mtime ticks, an ecall every 64 iterations, and every 64 iterations
# mtvec switched between two handlers with an ecall at once after the switch.
TICKS = """
_start: la t0, h1
        csrw mtvec, t0
        li s0, 0x02004000          # mtimecmp (hart 0)
        li s1, 0x0200BFF8          # mtime
        ld t0, 0(s1)
        addi t0, t0, 500
        sd t0, 0(s0)
        li t0, 0x80                # MTIE
        csrs mie, t0
        csrsi mstatus, 8           # MIE
loop:   addi s2, s2, 1
        andi t1, s2, 63
        bnez t1, loop
        ecall
        la t0, h2
        andi t1, s2, 64
        beqz t1, 1f
        la t0, h1
1:      csrw mtvec, t0
switched:
        ecall
        j loop
        .balign 4
h2:     addi s5, s5, 1
        j h1
        .balign 4
h1:     csrr t3, mcause
        bltz t3, tick
        csrr t3, mepc
        addi t3, t3, 4
        csrw mepc, t3
        addi s3, s3, 1
        mret
tick:   ld t3, 0(s1)
        addi t3, t3, 30
        sd t3, 0(s0)
        addi s4, s4, 1
        mret
"""

CSRS = ("mstatus", "mtvec", "mepc", "mcause", "mtval", "mie", "mip", "minstret", "mcycle")


def loaded(source):
    s = Session()
    p = assemble(source)
    s.load(p)
    s.machine.pc = p.entry
    return s.machine, p


def state(m):
    c = m.counters
    return ([m.reg(i) for i in range(32)], m.pc, m.priv, [m.csr(n) for n in CSRS],
            c["instructions"], c["traps"], c["time_ns"])


def test_recorded_run_leaves_the_machine_as_a_bare_run_does():
    bare, _ = loaded(TICKS)
    watched, p = loaded(TICKS)
    rec = TrapRecorder(watched)
    for _ in range(20):                      # in chunks, as RunControl runs it
        assert bare.run(instructions=25_000).reason == "budget"
        assert rec.run(25_000).reason == "budget"
        assert state(watched) == state(bare)
    assert watched.reg("s3") > 100 and watched.reg("s4") > 100 and watched.reg("s5") > 10
    log = TrapLog(rec.trace)
    log.refresh()
    assert log.total == sum(watched.counters["traps"].values())    # every one, none twice
    ecalls = [r for r in log.rows if r["insn"] == "ecall"]
    ticks = [r for r in log.rows if r["kind"] == "interrupt"]
    assert len(ecalls) + len(ticks) == len(log.rows)
    assert all(r["cause"] == "Machine timer interrupt" for r in ticks)
    # the ecall right after each switch of mtvec is seen with its pc, in the new handler
    after_switch = [r for r in ecalls if int(r["pc"], 16) == p.symbols["switched"]]
    assert after_switch
    handlers = {r["handler"] for r in after_switch}
    assert handlers == {f"M-mode handler at {p.symbols['h1']:#x}", f"M-mode handler at {p.symbols['h2']:#x}"}


def test_a_trap_storm_is_logged_as_a_count_and_the_run_goes_on():
    m, p = loaded("_start: li t0, 0x40\n csrw mtvec, t0\ngo: ecall\n")    # no code at 0x40
    rec = TrapRecorder(m)
    r = rec.run(100_000)
    assert r.reason == "budget" and r.instructions == 100_000
    rows = rec.trace.since(0)
    rows = rows[rows["kind"] == EXIT]
    exact, counted = rows[:TrapRecorder.MAX_TRAPS], rows[TrapRecorder.MAX_TRAPS:]
    assert len(exact) == TrapRecorder.MAX_TRAPS                   # the ecall, then 0x40 faults
    assert int(exact["pc"][0]) == p.symbols["go"] and (exact["pc"][1:] == 0x40).all()
    assert 0 < len(counted) <= TrapRecorder.MISSED_ROWS
    note = rec.trace.names[int(counted["handler"][-1])]
    total = sum(m.counters["traps"].values())
    assert f"and {total - TrapRecorder.MAX_TRAPS - len(counted):,} more like it" in note


def test_traps_taken_outside_the_recorder_are_logged_without_a_pc():
    m, p = loaded("_start: ecall\n ecall\n")
    rec = TrapRecorder(m)
    m.run(instructions=1)                    # the monitor's vector: taken, not recorded
    rec.run(1)
    rows = rec.trace.since(0)
    assert len(rows) >= 1 and int(rows["pc"][0]) == 0
    assert "pc unknown" in rec.trace.names[int(rows["handler"][0])]


class Paced:
    """A model that runs at a set pace (sleeping), for the run control's chunk sizing."""

    def __init__(self, mips: float):
        self.mips, self.calls = mips, []

    def run(self, instructions: int):
        self.calls.append(instructions)
        time.sleep(instructions / (self.mips * 1e6))
        return RunResult("budget", instructions)


def test_run_control_sizes_its_chunks_by_time():
    fast, slow = Paced(100), Paced(5)
    RunControl(fast).run(30_000_000, background=False)
    RunControl(slow).run(1_500_000, background=False)
    # ~20 ms a chunk: 2M instructions at 100 MIPS, 100k at 5 MIPS (sleeps only overshoot)
    assert fast.calls[0] == runcontrol.CHUNK and 1_000_000 <= fast.calls[-2] <= 2_000_000
    assert slow.calls[0] == runcontrol.CHUNK and runcontrol.CHUNK_RANGE[0] <= slow.calls[-2] <= 100_000
    fixed = Paced(100)
    RunControl(fixed, chunk=250_000).run(2_000_000, background=False)
    assert fixed.calls == [250_000] * 8
