"""Isolation: an adversarial guest -- stores to every address it can name, page-table entries
pointing outside its RAM, rewriting its own tables to escape, a flood of device accesses --
changes nothing outside its own frames.  Checked with checksums of all other host memory
(another VM's frames and every free frame) and of the other VM's device state."""
from __future__ import annotations

import numpy as np
import pytest
from hv_guest import guest

from vmlab import sv39
from vmlab.hv.memory import FrameAllocator
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X

RAM = 8 << 20
HOST = 40 << 20
ROOT_GPA = L.RAM_BASE + (6 << 20)               # the adversary's own page table
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
BARE_TARGETS = [L.RAM_BASE + RAM, L.RAM_BASE - 8, 0, 0x2000_0000, L.RAM_BASE + HOST - 8,
                L.RAM_BASE + RAM + (8 << 20)]   # (the last: where the other VM's frames are)

ADVERSARY = "".join(f"\n li t1, {a:#x}\n sd t2, 0(t1)" for a in BARE_TARGETS) + rf'''
        csrw satp, s1           # Sv39 with the tables the test put at ROOT_GPA
        sfence.vma
        li t1, {L.RAM_BASE + RAM + 0x1000:#x}
        sd t2, 0(t1)            # inside a 1 GiB guest superpage, but past guest RAM
        li t1, 0x40000000
        sd t2, 0(t1)            # a PTE naming gpa 0xc000_0000: no RAM there at all
        li t1, {ROOT_GPA + 8 * 3:#x}
        li t3, {sv39.make_pte(0x1_0000_0000, LEAF):#x}
        sd t3, 0(t1)            # rewrite its own root: gva 0xc000_0000 -> gpa 4 GiB
        sfence.vma
        li t1, 0xc0000000
        sd t2, 0(t1)
        li t1, 0x0c000000       # a flood of device stores across the PLIC window
        li t3, 2000
1:      sw t3, 0(t1)
        addi t1, t1, 260
        addi t3, t3, -1
        bnez t3, 1b
        li a1, 0
        j shutdown
        .balign 4
trap:   addi s0, s0, 1          # count faults, remember the last cause, skip the store
        csrr s2, scause
        csrr t4, sepc
        addi t4, t4, 4
        csrw sepc, t4
        sret
'''


def _others(frames: FrameAllocator, vm_id: int):
    """(owners, bytes) of host RAM, and the mask of frames the adversary may legitimately
    change: its own and the shadow tables' (including frames it was given meanwhile)."""
    mine = (frames.owner == vm_id) | (frames.owner == FrameAllocator.SHADOW)
    return frames.owner.copy(), frames.ram.reshape(-1, 4096).copy(), mine


def _unchanged_outside(frames: FrameAllocator, vm_id: int, before) -> bool:
    """Every frame the adversary does not hold now has its old bytes, and every frame
    another VM held is still that VM's."""
    owners, pages, _ = before
    _, now, mine = _others(frames, vm_id)
    held = (owners >= 0) & (owners != vm_id)
    return (np.array_equal(now[~mine], pages[~mine])
            and np.array_equal(frames.owner[held], owners[held]))


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
def test_adversarial_guest_changes_nothing_outside_its_frames(strategy):
    hv = Hypervisor(Machine(ram_size=HOST))
    victim = hv.create_vm(ram_size=RAM)
    victim.boot(kernel=guest("li t0, 0x5a5a5a5a\n li t1, 0x80010000\n" +
                             "".join(f" sd t0, {i * 8}(t1)\n" for i in range(64)) +
                             "li a1, 0\n j shutdown"))
    assert victim.run(instructions=10_000).reason == "halt"
    spare = hv.frames.alloc(99)                      # someone else's frame, with a secret
    hv.machine.write_mem(spare, b"secret" * 100)
    adversary = hv.create_vm(ram_size=RAM, shadow=strategy)
    adversary.boot(kernel=guest("la t0, trap\n csrw stvec, t0\n" + ADVERSARY))
    _tables(adversary)
    adversary.vcpus[0].set_reg(9, sv39.make_satp(ROOT_GPA))
    before = (_others(hv.frames, adversary.id), victim.devices.dev.copy(), victim.rows.copy())

    r = adversary.run(instructions=1_000_000)

    assert r.reason == "halt"
    v = adversary.vcpus[0]
    assert v.reg(8) == len(BARE_TARGETS) + 3 and v.reg(18) == L.CAUSE_STORE_ACCESS
    assert _unchanged_outside(hv.frames, adversary.id, before[0])
    assert hv.machine.read_mem(spare, 6) == b"secret"
    assert np.array_equal(victim.devices.dev, before[1]) and np.array_equal(victim.rows, before[2])
    assert adversary.devices.accesses >= 2000
    if strategy == "write-protect":                  # its store to its own root was emulated
        assert adversary.trace.handler_counts["pt-write"] == 1
    assert adversary.mem.resident_pages <= RAM // 4096


def _tables(vm) -> None:
    """Sv39 for the adversary: gva 0x8000_0000 = gpa 0x8000_0000 (a 1 GiB page, so it can
    also name gpas past its RAM), gva 0x4000_0000 -> gpa 0xc000_0000, and gva = gpa for the
    first GiB, where the devices are."""
    vm.mem.write(ROOT_GPA, bytes(4096))
    vm.mem.write64(ROOT_GPA + 8 * 2, sv39.make_pte(0x8000_0000, LEAF))
    vm.mem.write64(ROOT_GPA + 8 * 1, sv39.make_pte(0xC000_0000, LEAF))
    vm.mem.write64(ROOT_GPA + 8 * 0, sv39.make_pte(0, LEAF))          # the devices


def test_guest_frames_are_zeroed_and_owned_by_their_vm():
    hv = Hypervisor(Machine(ram_size=HOST))
    a, b = hv.create_vm(ram_size=RAM), hv.create_vm(ram_size=RAM)
    a.mem.write(L.RAM_BASE, b"A" * 4096)
    hpa = a.mem.hpa(L.RAM_BASE)
    assert hv.frames.owner[(hpa - L.RAM_BASE) // 4096] == a.id
    assert b.mem.read(L.RAM_BASE, 4096) == bytes(4096)
    assert b.mem.hpa(L.RAM_BASE) != hpa
