"""The simplest shadow page table: a direct gpa -> hpa map, for guests that do not translate.

A guest whose satp is Bare (or that runs in virtual M-mode) uses guest-physical addresses
directly, so the table the real hart walks maps gva == gpa to the host frame backing that
gpa.  It is filled lazily: a page fault on a guest-RAM gpa allocates the frame (on first
touch) and maps one 4 KiB page; a fault on a device gpa is an MMIO access to emulate; a
fault anywhere else is an access fault *in the guest* -- no host memory is ever mapped
that is not one of the VM's own frames.

This is what :class:`vmlab.hv.shadow.ShadowPaging` builds as well when the guest's satp is
Bare; the hypervisor uses this class only where that module is not available, and it refuses
guests that switch Sv39 on.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from vmlab.hv.memory import FrameAllocator
from vmlab.machine import layout as L
from vmlab.sv39 import (PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, make_pte, make_satp,
                        pte_ppn, vpn)

#: device windows of the virt board, (gpa base, size): never mapped, always emulated
DEVICE_WINDOWS = ((L.UART_BASE, L.UART_SIZE), (L.VIRTIO_BASE, L.VIRTIO_SIZE),
                  (L.CLINT_BASE, L.CLINT_SIZE), (L.PLIC_BASE, L.PLIC_SIZE),
                  (L.TEST_BASE, L.TEST_SIZE))
ACCESS_FAULT = {L.CAUSE_FETCH_PAGE: L.CAUSE_FETCH_ACCESS, L.CAUSE_LOAD_PAGE: L.CAUSE_LOAD_ACCESS,
                L.CAUSE_STORE_PAGE: L.CAUSE_STORE_ACCESS}


def is_device(gpa: int) -> bool:
    return any(base <= gpa < base + size for base, size in DEVICE_WINDOWS)


@dataclass
class Fault:
    """What a shadow-paging fault turned out to be (the contract with vmlab.hv.shadow)."""

    kind: str            # "filled" | "guest" | "mmio" | "wp"
    cause: int = 0       # for "guest": the cause to reflect
    tval: int = 0
    gpa: int = 0         # for "mmio" / "wp"


def translating(vcpu) -> bool:
    """Does a data access of this vCPU go through the guest's page tables?"""
    satp, mstatus = vcpu.csr(L.SATP), vcpu.csr(L.MSTATUS)
    priv = vcpu.priv
    if priv == L.PRIV_M and mstatus & L.MS_MPRV:
        priv = (mstatus >> L.MS_MPP_SHIFT) & 3
    return priv != L.PRIV_M and (satp >> 60) != 0


class DirectMap:
    """gva == gpa -> hpa, one 4 KiB page at a time, in host frames owned by SHADOW."""

    def __init__(self, vm, strategy: str = "sfence"):
        self.vm = vm
        self.counters = Counter()
        self.root_hpa = vm.frames.alloc(FrameAllocator.SHADOW)

    def root_for(self, vcpu) -> int:
        if translating(vcpu):
            raise NotImplementedError("the guest turned Sv39 on: that needs vmlab.hv.shadow")
        return make_satp(self.root_hpa, asid=0)

    def handle_fault(self, vcpu, cause: int, gva: int) -> Fault:
        gpa = gva
        if self.vm.mem.contains(gpa):
            self._map(gpa & ~0xFFF, self.vm.mem.hpa(gpa & ~0xFFF))
            self.counters["fills"] += 1
            return Fault("filled")
        if is_device(gpa) and cause != L.CAUSE_FETCH_PAGE:
            return Fault("mmio", gpa=gpa)
        return Fault("guest", ACCESS_FAULT.get(cause, cause), gva)

    def sfence(self, vcpu, gva=None, asid=None) -> None:
        self.counters["sfence"] += 1         # nothing to do: the map never changes meaning

    def after_pt_write(self, vcpu, gpa: int) -> None:
        pass

    # --- building the table -------------------------------------------------------------
    def _pte_view(self, table_hpa: int) -> np.ndarray:
        off = table_hpa - self.vm.frames.ram_base
        return self.vm.frames.ram[off: off + 4096].view(np.int64)

    def _map(self, gpa: int, hpa: int) -> None:
        """Walk from the root, making the two upper levels as needed, and write the leaf."""
        table = self.root_hpa
        for level in (2, 1):
            ptes = self._pte_view(table)
            pte = int(ptes[vpn(gpa, level)])
            if not pte & PTE_V:
                new = self.vm.frames.alloc(FrameAllocator.SHADOW)
                ptes[vpn(gpa, level)] = make_pte(new, PTE_V)
                pte = make_pte(new, PTE_V)
            table = pte_ppn(pte) << 12
        flags = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
        self._pte_view(table)[vpn(gpa, 0)] = make_pte(hpa, flags)
