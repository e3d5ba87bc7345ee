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


def test_virtual_m_mode_timer_from_the_virtual_clint():
    """Firmware in vM programs the VM's own CLINT mtimecmp; MTIP comes from that device model
    and is injected into vM through mtvec (vectored here: base + 4 * 7)."""
    body = r'''
        la t0, vec
        ori t0, t0, 1           # vectored mode
        csrw mtvec, t0
        li t1, 0x02004000       # CLINT mtimecmp of hart 0
        li t0, 0x0200bff8
        ld t2, 0(t0)
        addi t2, t2, 50
        sd t2, 0(t1)
        li t0, 1 << 7
        csrs mie, t0            # MTIE
        csrsi mstatus, 8        # MIE
1:      beqz s0, 1b
        csrr s1, mcause
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
2:      j 2b
        .balign 256
        .option norvc           # vector entries are 4 bytes apart
vec:    .rept 7
        j bad
        .endr
        j mti                   # entry 7: machine timer
        .option rvc
bad:    j bad
mti:    li s0, 1
        li t0, -1
        li t1, 0x02004000
        sd t0, 0(t1)            # disarm
        mret
    '''
    _, vm = boot(guest(body), bios=True)
    r = vm.run(instructions=100_000)
    assert r.reason == "halt"
    assert vm.vcpus[0].reg(9) == (1 << 63) | 7
    assert vm.trace.count(INJECT, INTERRUPT_FLAG | 7) == 1
    assert vm.trace.count(EXIT, INTERRUPT_FLAG | 7) == 1


def test_uart_receive_interrupt_through_the_virtual_plic():
    """A typed byte raises the VM's UART line, its PLIC signals SEIP for the S context, and
    the hypervisor injects a supervisor external interrupt; the kernel claims and reads it."""
    body = r'''
        la t0, trap
        csrw stvec, t0
        li t0, 0x10000001
        li t1, 1
        sb t1, 0(t0)            # UART IER: received-data interrupt
        li t0, 0x0c000028
        sw t1, 0(t0)            # PLIC priority of source 10
        li t0, 0x0c002080
        li t1, 1 << 10
        sw t1, 0(t0)            # enable source 10 for context 1 (hart 0, S-mode)
        li t0, 1 << 9
        csrs sie, t0            # SEIE
        csrsi sstatus, 2
1:      wfi
        beqz s0, 1b
        li a1, 0
        j shutdown
        .balign 4
trap:   csrr s1, scause
        li t0, 0x0c201004
        lw t1, 0(t0)            # claim
        mv s2, t1
        li t2, 0x10000000
        lbu s0, 0(t2)           # the byte
        sw t1, 0(t0)            # complete
        sret
    '''
    _, vm = boot(guest(body))
    r = vm.run(instructions=100_000)
    assert r.reason == "idle"                  # waiting in wfi: nothing can wake it
    vm.send_input("x")
    r = vm.run(instructions=100_000)
    assert r.reason == "halt"
    v = vm.vcpus[0]
    assert (v.reg(8), v.reg(9), v.reg(18)) == (ord("x"), (1 << 63) | 9, 10)
    assert vm.trace.count(INJECT, INTERRUPT_FLAG | 9) == 1
