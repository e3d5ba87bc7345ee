"""Device emulation by MMIO traps: loads and stores (compressed ones too) to the virt board's
devices fault in the shadow, and the hypervisor fetches, decodes and emulates them."""
from __future__ import annotations

import pytest
from hv_guest import boot, guest

from vmlab.hv.mmio import decode_access
from vmlab.hv.trace import EXIT, INJECT

BODY = r'''
        la t0, trap
        csrw stvec, t0
        li a0, 0x0c000000       # PLIC: priority of source 1 (32-bit register)
        li a1, 0x1f
        c.sw a1, 4(a0)          # compressed store: keeps the 3 bits the PLIC implements
        c.lw a2, 4(a0)          # compressed load
        li a0, 0x0200bff8       # CLINT mtime
        c.ld a3, 0(a0)
        li a0, 0x10000000       # UART
        li a1, 0x4b             # 'K'
        sb a1, 0(a0)            # THR
        lbu a4, 5(a0)           # LSR: THR empty and transmitter idle
        lb a5, 6(a0)            # MSR = 0xb0: a signed byte load sign-extends
        lbu s2, 6(a0)
        li t1, 0x30000000       # no device and no RAM here: an access fault in the guest
        lw s3, 0(t1)            # (t1: no compressed form, so the handler may skip 4 bytes)
        mv s4, t5               # scause the trap handler saw
        mv s5, t4               # stval
        sw a1, 0(t1)
        mv s6, t5
        li a1, 0
        j shutdown
        .balign 4
trap:   csrr t5, scause
        csrr t4, stval
        csrr t3, sepc
        addi t3, t3, 4
        csrw sepc, t3
        sret
'''


@pytest.fixture(scope="module")
def ran():
    _, vm = boot(guest(BODY))
    r = vm.run(instructions=100_000)
    assert r.reason == "halt"
    return vm


def test_compressed_and_plain_accesses_reach_the_device_models(ran):
    v = ran.vcpus[0]
    assert v.reg(12) == 7                              # PLIC priority is 3 bits wide
    assert 0 < v.reg(13) <= ran.mtime()                # mtime from the virtual CLINT
    assert v.reg(14) == 0x60
    assert v.reg(15) == (0xB0 - 0x100) & (2**64 - 1) and v.reg(18) == 0xB0
    assert ran.console_output == "K"


def test_an_access_to_nothing_is_an_access_fault_in_the_guest(ran):
    v = ran.vcpus[0]
    assert v.reg(19) == 0 and (v.reg(20), v.reg(21)) == (5, 0x3000_0000)
    assert v.reg(22) == 7
    assert [e.cause for e in ran.trace.events() if e.kind == "inject"] == [5, 7]


def test_mmio_exits_record_the_instruction_and_the_device_gpa(ran):
    mmio = [e for e in ran.trace.events() if e.kind == "exit" and e.handler == "mmio"]
    assert len(mmio) == 7
    assert [e.insn for e in mmio[:3]] == [0xC14C, 0x4150, 0x6114]   # c.sw, c.lw, c.ld
    assert mmio[0].tval == 0x0C00_0004 and mmio[0].cause == 15 and mmio[1].cause == 13
    assert ran.devices.accesses == 7


@pytest.mark.parametrize("word,store,size,signed,reg,length", [
    (0x00452603, False, 4, True, 12, 4),     # lw a2, 4(a0)
    (0x00554703, False, 1, False, 14, 4),    # lbu a4, 5(a0)
    (0x00b53023, True, 8, True, 11, 4),      # sd a1, 0(a0)
    (0xC14C, True, 4, True, 11, 2),          # c.sw a1, 4(a0)
    (0x6114, False, 8, True, 13, 2),         # c.ld a3, 0(a0)
    (0x4502, False, 4, True, 10, 2),         # c.lwsp a0, 0(sp)
    (0xE02E, True, 8, True, 11, 2),          # c.sdsp a1, 0(sp)
])
def test_decode_access(word, store, size, signed, reg, length):
    a = decode_access(word)
    assert (a.store, a.size, a.signed, a.reg, a.length) == (store, size, signed, reg, length)


@pytest.mark.parametrize("word", [0x00b50533, 0x100522af, 0x0000_0013])   # add, lr.w, nop
def test_decode_access_refuses_what_is_not_a_load_or_store(word):
    assert decode_access(word) is None


def test_sifive_test_write_halts_with_the_status():
    body = "li t0, 0x100000\n li t1, (7 << 16) | 0x3333\n sw t1, 0(t0)\n1: j 1b"
    _, vm = boot(guest(body))
    r = vm.run(instructions=10_000)
    assert (r.reason, r.exit_code) == ("halt", 7)
    assert vm.trace.count(EXIT, 15) == 1 and vm.trace.count(INJECT) == 0


def test_htif_tohost_ends_a_riscv_tests_style_guest():
    """riscv-tests report through tohost in RAM: the hypervisor watches that word."""
    src = r'''
        .text
        .globl _start
_start: la t0, msg
        la t1, block
        sd t0, 16(t1)           # write(1, msg, 3) through a syscall block
        la t2, tohost
        sd t1, 0(t2)
1:      la t2, fromhost
        ld t3, 0(t2)
        beqz t3, 1b
        li t0, (5 << 1) | 1     # exit code 5
        la t2, tohost
        sd t0, 0(t2)
2:      j 2b
        .data
        .balign 8
block:  .dword 64, 1, 0, 3
msg:    .ascii "ok\n"
        .balign 64
        .globl tohost, fromhost
tohost: .dword 0
fromhost: .dword 0
'''
    from vmlab.asm import assemble
    _, vm = boot(assemble(src).elf, bios=True)
    r = vm.run(instructions=5_000_000)
    assert (r.reason, r.exit_code) == ("halt", 5)
    assert vm.console_output == "ok\n"
