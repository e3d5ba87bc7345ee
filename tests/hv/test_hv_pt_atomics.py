"""Atomic updates of write-protected guest page tables.  Linux clears and changes PTEs with
amoswap.d, amoand.d and lr.d/sc.d; with the write-protect coherence strategy each one traps
(its table page is read-only in the shadow) and the hypervisor must do it on guest RAM --
with the A extension's semantics -- and update the shadow at once."""
from __future__ import annotations

import pytest
from hv_guest import guest

from vmlab import sv39
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X

ROOT_GPA = L.RAM_BASE + (6 << 20)
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
WINDOW = sv39.make_pte(0x8000_0000, LEAF)       # gva 0x4000_0000 -> gpa 0x8000_0000

BODY = rf'''
        la t0, trap
        csrw stvec, t0
        csrw satp, s1
        sfence.vma
        li a2, {ROOT_GPA + 8:#x}        # root[1]: the gigapage at gva 0x4000_0000
        li a3, {WINDOW:#x}
        la a4, marker
        li a5, 0x40000000 - 0x80000000
        add a5, a4, a5                  # marker through the new window
        amoswap.d s2, a3, (a2)          # old PTE (0) back, the window mapped
        ld s3, 0(a5)                    # the marker, through the window
        li t1, ~{PTE_W}
        amoand.d s4, t1, (a2)           # old PTE back; the window is read-only now
        sfence.vma
        sd zero, 0(a5)                  # store page fault, reflected
        lr.d s5, (a2)
        sc.d s6, zero, (a2)             # succeeds (0): the window is gone
        sfence.vma
        ld s7, 0(a5)                    # load page fault, reflected
        sc.d s8, a3, (a2)               # no reservation: fails, PTE unchanged
        ld s9, 0(a2)
        li a1, 0
        j shutdown
        .balign 4
trap:   addi s0, s0, 1
        csrr s10, scause
        csrr t3, sepc
        addi t3, t3, 4
        csrw sepc, t3
        sret
'''


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
def test_amo_and_lr_sc_on_page_tables_as_the_hart_does_them(strategy):
    hv = Hypervisor(Machine(ram_size=40 << 20))
    vm = hv.create_vm(ram_size=8 << 20, shadow=strategy)
    vm.boot(kernel=guest(BODY, ".balign 8\nmarker: .dword 0x1234abcd"))
    vm.mem.write(ROOT_GPA, bytes(4096))
    vm.mem.write64(ROOT_GPA + 8 * 2, sv39.make_pte(0x8000_0000, LEAF))
    vm.mem.write64(ROOT_GPA, sv39.make_pte(0, LEAF))                 # the devices
    v = vm.vcpus[0]
    v.set_reg(9, sv39.make_satp(ROOT_GPA))
    assert vm.run(instructions=100_000).reason == "halt"
    regs = [v.reg(r) for r in (18, 19, 20, 21, 22, 23, 24, 25)]     # s2..s9
    assert regs == [0, 0x1234abcd, WINDOW, WINDOW & ~PTE_W, 0, 0, 1, 0]
    assert v.reg(8) == 2 and v.reg(26) == L.CAUSE_LOAD_PAGE
    if strategy == "write-protect":
        assert vm.trace.handler_counts["pt-write"] == 4      # the failing sc too
