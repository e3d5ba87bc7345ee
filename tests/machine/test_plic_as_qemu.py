"""Interrupt signalling as QEMU's virt models it, checked against QEMU itself.

A driver that never reads the 16550's IIR leaves "THR empty" unacknowledged (older teaching
OSes' uartintr reads only LSR and RBR).  On QEMU that costs one interrupt per event: its PLIC
sets a source pending when the device signals, and a complete does not re-pend it.  A PLIC
that re-pends every completed source whose wire is still high turns that into an endless
interrupt storm.  The guest below counts its interrupts; vmlab, bare and as a guest, must
print what QEMU prints."""
from __future__ import annotations

import subprocess

import pytest

from oracles import need_tool
from vmlab.asm import assemble
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

UNACKNOWLEDGED_THRE = r"""
    .globl _start
_start:
        la t0, trap
        csrw mtvec, t0
        li t0, 0x0C000000
        li t1, 1
        sw t1, 40(t0)               # priority(10) = 1
        li t0, 0x0C002000
        li t1, 1 << 10
        sw t1, 0(t0)
        li s0, 0x10000000
        li t1, 3
        sb t1, 1(s0)                # IER: RX and THR empty
        li t0, 1 << 11
        csrs mie, t0
        csrsi mstatus, 8
        li a0, 'h'
        call putc
        li a0, 'i'
        call putc
        li t0, 20000                # a while with interrupts on
1:      addi t0, t0, -1
        bnez t0, 1b
        csrci mstatus, 8
        la a0, count
        ld a0, 0(a0)
        addi a0, a0, '0'
        li t0, '9'
        bleu a0, t0, 2f
        li a0, '+'
2:      call putc
        li a0, '\n'
        call putc
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
3:      j 3b
putc:   lbu t1, 5(s0)               # LSR
        andi t1, t1, 0x20
        beqz t1, putc
        sb a0, 0(s0)
        ret
        .balign 4
trap:   li t0, 0x0C200004
        lw t1, 0(t0)                # claim
        lbu t2, 5(s0)               # LSR only, like an old uartintr: no IIR read
        andi t2, t2, 1
        beqz t2, 4f
        lbu t2, 0(s0)
4:      la t3, count
        ld t4, 0(t3)
        addi t4, t4, 1
        sd t4, 0(t3)
        sw t1, 0(t0)                # complete
        mret
        .data
        .balign 8
count:  .dword 0
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    path = tmp_path_factory.mktemp("plic") / "thre.elf"
    path.write_bytes(assemble(UNACKNOWLEDGED_THRE, base=0x8000_0000).elf)
    return path


def qemu_output(elf) -> str:
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    r = subprocess.run([qemu, "-M", "virt", "-bios", "none", "-kernel", str(elf), "-nographic",
                        "-serial", "stdio", "-monitor", "none"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    return r.stdout.decode().replace("\r", "")


def test_unacknowledged_thre_interrupts_as_often_as_on_qemu(elf):
    theirs = qemu_output(elf)
    assert theirs.startswith("hi") and theirs.strip()[-1].isdigit(), theirs
    m = Machine(ram_size=16 << 20)
    m.boot_virt(kernel=str(elf))
    r = m.run(instructions=2_000_000)
    assert r.reason == "halt", f"no end in 2e6 instructions: an interrupt storm ({r.pc:#x})"
    assert m.console_output.replace("\r", "") == theirs
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vm = hv.create_vm(ram_size=16 << 20)
    vm.boot(bios=str(elf))
    r = vm.run(instructions=2_000_000)
    assert r.reason == "halt"
    assert vm.console_output.replace("\r", "") == theirs
