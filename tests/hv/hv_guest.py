"""Helpers for hypervisor tests: assemble a small guest and boot it in a fresh VM."""
from __future__ import annotations

from vmlab.asm import assemble
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

#: print the NUL-terminated string at a0 with SBI legacy putchar (clobbers a0, a7, t6)
PUTS_SBI = r'''
puts:   mv t6, a0
1:      lbu a0, 0(t6)
        beqz a0, 2f
        li a7, 1
        ecall
        addi t6, t6, 1
        j 1b
2:      ret
'''

#: power off through SBI SRST (shutdown, reason a1)
SHUTDOWN = r'''
shutdown:
        li a7, 0x53525354
        li a6, 0
        li a0, 0
        ecall
1:      j 1b
'''


def program(body: str, data: str = "", extra: str = "", march: str = "rv64imac"):
    """A program at 0x8000_0000: ``body`` from _start (a stack is set up), then helpers."""
    src = (".text\n.globl _start\n_start:\n la sp, stack_top\n" + body + "\n" + PUTS_SBI
           + SHUTDOWN + extra + "\n.data\n" + data
           + "\n.bss\n.balign 16\n.space 8192\nstack_top:\n")
    return assemble(src, march=march)


def guest(body: str, data: str = "", extra: str = "") -> bytes:
    """The ELF of :func:`program`."""
    return program(body, data, extra).elf


def boot(elf: bytes, *, bios: bool = False, ram_size: int = 8 << 20, host_ram: int = 32 << 20,
         vcpus: int = 1, **vm_args):
    """(hypervisor, vm) with ``elf`` booted: in vS with SBI from the hypervisor, or, with
    ``bios=True``, as firmware in virtual M-mode."""
    hv = Hypervisor(Machine(ram_size=host_ram))
    vm = hv.create_vm(ram_size=ram_size, vcpus=vcpus, **vm_args)
    if bios:
        vm.boot(bios=elf)
    else:
        vm.boot(kernel=elf)
    return hv, vm
