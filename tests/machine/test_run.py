"""Running: budgets, steps, breakpoints, Ctrl-C, determinism, snapshot and restore."""
from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

from machine_asm import HARNESS, machine_for

from vmlab.machine import Machine

# A guest with timer interrupts, loads/stores and console output: enough moving parts for
# "the same run, however it is cut" to mean something.
BUSY = HARNESS.format(body="""
        li t0, 0x200BFF8
        ld t1, 0(t0)
        addi t1, t1, 37
        li t0, 0x2004000
        sd t1, 0(t0)                # a timer interrupt every 3.7 us
        li t0, 0x80
        csrs mie, t0
        csrsi mstatus, 8
        li s2, 0
        li s3, 20000
        la s4, buf
    1:  addi s2, s2, 1
        andi t2, s2, 255
        add t3, s4, t2
        sb s2, 0(t3)
        li t4, 0x10000000
        andi t5, s2, 1023
        bnez t5, 2f
        li t6, '.'
        sb t6, 0(t4)
    2:  blt s2, s3, 1b
""", extra="""
    .balign 8
buf: .zero 256
""").replace("""    bgez    s10, 5f
    li      t5, 1                   # interrupt: mask it in mie, resume where it hit
    sll     t5, t5, s10
    csrc    mie, t5
    mret""", """    bgez    s10, 5f
    li      t5, 0x2004000           # timer interrupt: re-arm 37 ticks later
    ld      t4, 0(t5)
    addi    t4, t4, 37
    sd      t4, 0(t5)
    mret""")


def state(m: Machine) -> list[np.ndarray]:
    return [m.cpu.copy(), m.mem.copy(), m.dev.copy(), m.ctl[64:].copy()]


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_busy_guest_finishes_with_interrupts():
    m, _ = machine_for(BUSY)
    r = m.run(instructions=2_000_000)
    assert r.reason == "halt"
    assert m.counters["interrupts"]["machine_timer"] > 10
    assert m.console_output == "." * 19


def test_the_same_run_however_it_is_cut():
    m1, _ = machine_for(BUSY)
    m1.run(instructions=150_000)
    m2, _ = machine_for(BUSY)
    for n in (1, 2, 3, 1000, 7, 12345, 50_000):
        m2.run(instructions=n)
    for _ in range(100):
        m2.step()
    m2.run(instructions=150_000 - m2.counters["instructions"])
    assert m1.counters["instructions"] == m2.counters["instructions"] == 150_000
    assert same(state(m1), state(m2))


def test_snapshot_restore_continues_exactly(tmp_path):
    m1, _ = machine_for(BUSY)
    m1.run(instructions=60_000)
    m1.snapshot(tmp_path / "snap.npz")
    m1.run(instructions=40_000)
    m2 = Machine.restore(tmp_path / "snap.npz")
    m2.run(instructions=40_000)
    assert same(state(m1), state(m2))
    assert m1.console_output == m2.console_output


def test_step_and_breakpoints():
    m, syms = machine_for(BUSY)
    r = m.step()
    assert (r.reason, r.instructions, m.pc) == ("budget", 1, 0x80000004)   # auipc of the la
    target = syms["pass"]
    m.add_breakpoint(target)
    r = m.run(instructions=5_000_000)
    assert (r.reason, m.pc) == ("breakpoint", target)
    r = m.run(instructions=1)                # resuming executes the breakpoint instruction
    assert r.reason == "budget" and m.pc != target
    m.remove_breakpoint(target)


def test_budget_counts_instructions_and_traps():
    m, _ = machine_for(HARNESS.format(body="1: .word 0xffffffff\n j 1b", extra=""))
    r = m.run(instructions=10_000)
    assert r.reason == "budget" and r.instructions == 10_000
    assert m.counters["traps"]["illegal_instruction"] > 100


def test_ctrl_c_stops_a_run_and_the_machine_continues():
    m, _ = machine_for(HARNESS.format(body="1: j 1b", extra=""))
    m.run(instructions=1000)             # compile before the clock starts
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        r = m.run(instructions=10**11)
    finally:
        timer.cancel()
    assert r.reason == "interrupted"
    assert m.run(instructions=1000).reason == "budget"


def test_wfi_with_nothing_armed_is_idle_and_input_wakes_it():
    m, _ = machine_for(HARNESS.format(body="""
        li t0, 0x10000001
        li t1, 1
        sb t1, 0(t0)                # UART RX interrupt on
        li t0, 0x0C000028
        sw t1, 0(t0)                # PLIC priority(10) = 1
        li t0, 0x0C002000
        li t1, 1 << 10
        sw t1, 0(t0)                # enabled for hart 0 M-mode
        li t0, 0x800
        csrs mie, t0                # MEIE (MIE stays off: wfi still wakes)
        wfi
        li t0, 0x10000000
        lbu a0, 0(t0)
    """, extra=""))
    r = m.run(instructions=100_000)
    assert r.reason == "idle"
    m.send_input("w")
    r = m.run(instructions=100_000)
    assert r.reason == "halt" and m.reg("a0") == ord("w")


def test_two_harts_share_memory_and_time():
    m, syms = machine_for(HARNESS.format(body="""
        csrr a0, mhartid
        la t0, counter
        li t1, 1
        amoadd.d zero, t1, (t0)
    1:  ld t2, 0(t0)
        li t3, 2
        blt t2, t3, 1b              # both harts have arrived
        bnez a0, 2f
        j pass
    2:  wfi
        j 2b
    """, extra=".balign 8\ncounter: .dword 0"), harts=2)
    r = m.run(instructions=100_000)
    assert r.reason == "halt"
    assert int.from_bytes(m.read_mem(syms["counter"], 8), "little") == 2
    assert m.harts[1].reg("a0") == 1


@pytest.mark.parametrize("bad", [dict(harts=0), dict(harts=9), dict(ram_size=12345)])
def test_bad_configurations_are_refused(bad):
    from vmlab.machine.errors import MachineError
    with pytest.raises(MachineError):
        Machine(**bad)


def test_hypervisor_mode_returns_traps_instead_of_taking_them():
    from vmlab.machine import layout as L
    m, syms = machine_for(HARNESS.format(body=f"""
        li t0, 8
        csrs mie, t0
        csrsi mstatus, 8
        ecall
        li t1, 0x2000000
        li t2, 1
        sw t2, 0(t1)                # MSIP: an interrupt, returned too
        nop
    """, extra=""))
    m.ctl[L.C_FLAGS] |= L.F_TRAP_EXIT
    r = m.run(instructions=1000)
    assert r.reason == "trap"
    assert (m.ctl[L.C_TRAP_CAUSE], m.ctl[L.C_TRAP_IRQ]) == (11, 0)
    assert m.ctl[L.C_TRAP_PC] == m.pc and m.priv == 3          # the hart is untouched
    assert m.read_mem(m.pc, 4) == (0x73).to_bytes(4, "little")
    m.pc += 4                                                   # "emulate" the ecall
    r = m.run(instructions=1000)
    assert r.reason == "trap" and (m.ctl[L.C_TRAP_CAUSE], m.ctl[L.C_TRAP_IRQ]) == (3, 1)
    assert m.csr("mcause") == 0                                 # nothing was taken
