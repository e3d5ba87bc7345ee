"""Paravirtual switches: where the guest *asks* the hypervisor instead of being trapped.

Full virtualization lets an unmodified kernel poke a UART register, a timer register or a
page-table entry, and pays an exit (or a write-protect fault) for each poke.  A
paravirtual kernel knows it is a guest and makes one hypercall (an SBI ecall) for the
whole job.  Each pair below can be flipped per VM and measured with ``vmlab nanobench``:

==================  =====================================  =================================
job                 full virtualization (exit per poke)    paravirtual (one call)
==================  =====================================  =================================
console byte        store to the 16550's THR (MMIO exit)   SBI putchar / DBCN write
arm the timer       CLINT mtimecmp store (MMIO exit), or   SBI set_timer
                    stimecmp write (CSR exit)
page-table update   store + sfence.vma (shadow: sfence     MMU_UPDATE: a batch of
                    coherence), or a write-protect fault   (pte address, value) pairs,
                    per store                              written and flushed by us
block I/O           register-by-register device            virtio: a ring of requests
==================  =====================================  =================================

The console and timer switches need nothing of the hypervisor beyond what it has (SBI and
the emulated devices): the guest chooses.  MMU_UPDATE is ours, in the SBI's
firmware-specific extension range, in the style of Xen's ``mmu_update``: the hypervisor
checks every target is a guest PTE in guest RAM, writes it, and drops exactly the shadow
entries derived from it -- so the guest needs no sfence.vma, and the shadow pager needs
no write-protection to notice.  A VM gets it with ``enable(vm, mmu_update=True)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.guests.nano import EXT_MMU_UPDATE
from vmlab.hv import sbi

MAX_BATCH = 512                 # pairs per call: bounds the work one exit can ask for


@dataclass
class Switches:
    """A VM's paravirtual interfaces beyond plain SBI (all off by default)."""

    mmu_update: bool = False
    ptes_written: int = 0       #: PTEs MMU_UPDATE wrote for this VM so far


def switches(vm) -> Switches:
    """The VM's switches (a VM nobody configured has them all off)."""
    sw = getattr(vm, "paravirt", None)
    return sw if isinstance(sw, Switches) else Switches()


def enable(vm, *, mmu_update: bool = True) -> Switches:
    """Turn the paravirtual page-table interface on (or off) for ``vm``."""
    vm.paravirt = Switches(mmu_update=mmu_update)
    return vm.paravirt


def mmu_update(vcpu, fid, a):
    """SBI MMU_UPDATE(pairs_gva, count): write ``count`` PTEs and keep the shadows right.

    Each pair is two doublewords the guest placed in its memory: the *guest-virtual*
    address of a PTE (as the kernel sees its tables) and the new value.  Every address is
    checked before anything is written, so a bad batch changes nothing (ERR_INVALID_ADDRESS).
    """
    if not switches(vcpu.vm).mmu_update:
        return sbi.ERR_NOT_SUPPORTED, 0
    if fid != 0:
        return sbi.ERR_NOT_SUPPORTED, 0
    pairs_gva, count = a[0], a[1]
    if count > MAX_BATCH:
        return sbi.ERR_INVALID_PARAM, 0
    writes = _read_pairs(vcpu, pairs_gva, count)
    if writes is None:
        return sbi.ERR_INVALID_ADDRESS, 0
    for pte_gpa, value in writes:
        vcpu.vm.mem.write64(pte_gpa, value)
        vcpu.vm.shadow.after_pt_write(vcpu, pte_gpa)
    vcpu.tlb_stale = True
    switches(vcpu.vm).ptes_written += len(writes)
    return sbi.SUCCESS, len(writes)


def _read_pairs(vcpu, pairs_gva: int, count: int):
    """[(pte gpa, value)] from the guest's batch, or None if any address is bad."""
    writes = []
    for i in range(count):
        raw = vcpu.read_guest(pairs_gva + 16 * i, 16)
        if raw is None or len(raw) < 16:
            return None
        pte_gva = int.from_bytes(raw[:8], "little")
        pte_gpa = vcpu.gva_to_gpa(pte_gva)
        if pte_gpa is None or pte_gpa & 7 or not vcpu.vm.mem.contains(pte_gpa, 8):
            return None
        writes.append((pte_gpa, int.from_bytes(raw[8:], "little")))
    return writes


# The extension registers itself beside the standard ones; a VM without the switch
# answers "not supported", as a firmware without it would.
sbi.EXTENSIONS.setdefault(EXT_MMU_UPDATE, mmu_update)
sbi.OFFERED.setdefault(EXT_MMU_UPDATE, lambda vcpu: switches(vcpu.vm).mmu_update)
