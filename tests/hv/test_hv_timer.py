"""Virtual timer interrupts: the run ends at the guest's next timer deadline (a host timer
exit), and the hypervisor injects the interrupt through the virtual hart's own take_trap."""
from __future__ import annotations

import pytest
from hv_guest import boot, guest
from hv_guest import program as assemble_guest

from vmlab.hv.exits import COSTS
from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG

TICKS, PERIOD = 5, 100          # five ticks, 100 mtime ticks (10 µs) apart

SET_TIMER = {
    "sbi": "li a7, 0x54494D45\n li a6, 0\n ecall",
    "sstc": "csrw stimecmp, a0",
}
WAIT = {"spin": "", "wfi": "wfi"}


def program(timer: str, wait: str):
    body = rf'''
        la t0, trap
        csrw stvec, t0
        li s0, 0
        li t0, 1 << 5
        csrs sie, t0            # STIE
        rdtime a0
        addi a0, a0, {PERIOD}
        mv s1, a0               # the deadline
        {SET_TIMER[timer]}
        csrsi sstatus, 2        # SIE
loop:   {WAIT[wait]}
        li t0, {TICKS}
        blt s0, t0, loop
        li a1, 0
        j shutdown
        .balign 4
trap:   rdtime t6
        sub t6, t6, s1          # how late the interrupt came, in mtime ticks
        la t4, late
        slli t3, s0, 3
        add t4, t4, t3
        sd t6, 0(t4)
        csrr s2, scause
        addi s0, s0, 1
        rdtime a0
        addi a0, a0, {PERIOD}
        mv s1, a0
        {SET_TIMER[timer]}
        sret
    '''
    return assemble_guest(body, f".balign 8\nlate: .space {8 * (TICKS + 1)}")


@pytest.mark.parametrize("timer", ["sbi", "sstc"])
@pytest.mark.parametrize("wait", ["spin", "wfi"])
def test_one_timer_exit_and_one_injection_per_tick(timer, wait):
    p = program(timer, wait)
    _, vm = boot(p.elf)
    r = vm.run(instructions=1_000_000)
    assert r.reason == "halt"
    v = vm.vcpus[0]
    assert v.reg(8) == TICKS
    assert v.reg(18) == (1 << 63) | 5                        # scause: supervisor timer
    sti = INTERRUPT_FLAG | 5
    assert vm.trace.count(INJECT, sti) == TICKS
    if wait == "spin":
        assert vm.trace.count(EXIT, sti) == TICKS            # the host timer ended each run
    late = vm.mem.read(p.symbols["late"], 8 * TICKS)
    # late by the modelled cost of the timer exit and the injection, plus a few instructions
    bound = (COSTS["switch"] + COSTS["timer"] + COSTS["reflect"] + 99) // 100 + 1
    for i in range(TICKS):
        assert 0 <= int.from_bytes(late[8 * i: 8 * i + 8], "little", signed=True) <= bound


def test_wfi_sleeps_instead_of_spinning():
    runs = {}
    for wait in ("spin", "wfi"):
        _, vm = boot(program("sbi", wait).elf)
        runs[wait] = vm.run(instructions=1_000_000).instructions
        if wait == "wfi":
            assert vm.trace.handler_counts["wfi"] == TICKS
            assert vm.machine.counters["idle_ns"] > TICKS * PERIOD * 100 // 2
    assert runs["wfi"] < runs["spin"] // 10


def test_masked_interrupt_is_not_injected_until_enabled():
    body = r'''
        li t0, 1 << 5
        csrs sie, t0
        rdtime a0
        addi a0, a0, 10
        li a7, 0x54494D45
        li a6, 0
        ecall
        li t0, 20000
1:      addi t0, t0, -1         # SIE is clear: the timer fires but stays pending
        bnez t0, 1b
        csrr s0, sip
        li a1, 0
        j shutdown
    '''
    _, vm = boot(guest(body))
    vm.run(instructions=100_000)
    assert vm.vcpus[0].reg(8) & (1 << 5)                     # STIP visible in sip
    assert vm.trace.count(INJECT) == 0
