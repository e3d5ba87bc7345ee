"""Sv39 address translation: the page-table walk, the TLB refill, and sfence.vma.

An Sv39 virtual address (bits 63..39 must copy bit 38)::

     38        30 29        21 20        12 11           0
    +------------+------------+------------+--------------+
    |   VPN[2]   |   VPN[1]   |   VPN[0]   | page offset  |
    +------------+------------+------------+--------------+

The walk starts at satp.PPN and reads one 8-byte PTE per level; a PTE with R or X set is a
leaf (at level 2 it maps 1 GiB, at level 1 2 MiB, at level 0 4 KiB).  PTE bits:
V R W X U G A D, then the PPN from bit 10.

The hot loop looks a translation up in a direct-mapped TLB (one per access kind: fetch, load,
store) and calls :func:`tlb_refill` only on a miss.  Keeping the refill a separate compiled
function (not inlined into the loop) is what keeps the loop fast.  An entry remembers the
context it was filled in -- ASID, privilege, SUM and MXR -- so that it is only reused where the
same permission check would pass again; it is dropped only by ``sfence.vma``, exactly as the
instruction's address and ASID operands say.

A/D bits are updated by the walk itself (in memory): a load or fetch sets A, a store sets A
and D.  Store entries are only cached once D is set, so the first store to a clean page always
walks and marks it dirty.

With the hypervisor extension a guest (V=1) translates in two stages: its own Sv39 tables
(vsatp) give a guest-physical address, and the hypervisor's Sv39x4 tables (hgatp) turn every
guest-physical address -- each of the guest's table entries, and the final one -- into a host
address (:func:`walk_guest`, :func:`g_stage`).  The TLB keeps the whole GVA -> HPA result,
under a context that also holds V and the VMID (:func:`guest_context`).
"""
from __future__ import annotations

import numpy as np

from vmlab.isa.paging import (PPN_BITS, PPN_MASK, PTE_A, PTE_D, PTE_G, PTE_PPN_SHIFT, PTE_R,  # noqa: F401
                              PTE_U, PTE_V, PTE_W, PTE_X)
from vmlab.machine.bits import srl
from vmlab.machine.jit import jit
from vmlab.isa.paging import (GPA_BITS, GSTAGE_ROOT_INDEX_BITS, HGATP_MODE_BARE, HGATP_MODE_SHIFT,
                              HGATP_PPN_MASK, SATP_MODE_SHIFT, SATP_MODE_SV39, VPN_BITS)
from vmlab.machine.layout import (
    C_FAULT_GPA, C_FAULT_TINST, C_HGATP, C_VSATP, CAUSE_FETCH_GUEST_PAGE, CAUSE_LOAD_GUEST_PAGE, CAUSE_STORE_GUEST_PAGE,
    ACC_FETCH, ACC_LOAD, ACC_STORE, C_RAM_BASE, C_RAM_SIZE, C_TLB_MISS, C_WALK_REFS, CAUSE_FETCH_ACCESS,
    CAUSE_FETCH_PAGE, CAUSE_LOAD_ACCESS, CAUSE_LOAD_PAGE, CAUSE_STORE_ACCESS, CAUSE_STORE_PAGE,
    PRIV_U, TLB_CTX, TLB_EMPTY, TLB_FLAGS, TLB_GLOBAL, TLB_PPAGE, TLB_SETS, TLB_TAG,
)

CTX_SUM, CTX_MXR, CTX_USER = 1, 2, 4
# The hypervisor extension's part of a context, above the 16-bit ASID (bits 3..18): V=1, the
# guest's VMID (hgatp), an HLVX load (needs execute permission), mstatus.MXR for the G-stage.
# So a guest's translations and the host's, or two guests', never share a TLB entry.
CTX_VIRT = 1 << 19
CTX_VMID_SHIFT = 20
CTX_HLVX = 1 << 34
CTX_GMXR = 1 << 35
CTX_SPACE = CTX_VIRT | (((1 << 14) - 1) << CTX_VMID_SHIFT)   # V and VMID: the address space


@jit(inline="always")
def context(asid, priv, sum_, mxr):
    """A number that is equal for two accesses iff the same TLB entry may serve both."""
    ctx = asid << 3
    if priv == PRIV_U:
        ctx |= CTX_USER
    if sum_:
        ctx |= CTX_SUM
    if mxr:
        ctx |= CTX_MXR
    return ctx


@jit(inline="always")
def guest_context(asid, vmid, priv, sum_, mxr, gmxr, hlvx):
    """The context of a guest's access (V=1): :func:`context` plus the VMID and the flags
    only two-stage translation has."""
    ctx = context(asid, priv, sum_, mxr) | CTX_VIRT | (vmid << CTX_VMID_SHIFT)
    if gmxr:
        ctx |= CTX_GMXR
    if hlvx:
        ctx |= CTX_HLVX
    return ctx


@jit
def page_fault(acc):
    """The page-fault cause for an access kind, as -cause-1 (how translations report it)."""
    if acc == ACC_FETCH:
        return -CAUSE_FETCH_PAGE - 1
    if acc == ACC_LOAD:
        return -CAUSE_LOAD_PAGE - 1
    return -CAUSE_STORE_PAGE - 1


@jit
def access_fault_cause(acc):
    """The access-fault cause for an access kind (nothing answers at that address)."""
    if acc == ACC_FETCH:
        return CAUSE_FETCH_ACCESS
    if acc == ACC_LOAD:
        return CAUSE_LOAD_ACCESS
    return CAUSE_STORE_ACCESS


@jit(inline="always")
def read_pte(mem, off):
    v = 0
    for i in range(8):
        v |= np.int64(mem[off + i]) << (8 * i)
    return v


@jit(inline="always")
def write_pte(mem, off, v):
    for i in range(8):
        mem[off + i] = (v >> (8 * i)) & 0xFF


@jit(inline="always")
def pte_malformed(pte):
    """A PTE that ends every walk with a page fault whatever the access: not valid, writable
    but not readable (a reserved encoding), or with bits set above the PPN (reserved; Svpbmt
    and Svnapot are not implemented).  One rule for the Sv39, G-stage and VS-stage walks."""
    return (not (pte & PTE_V) or ((pte & PTE_W) and not (pte & PTE_R))
            or srl(pte, PTE_PPN_SHIFT + PPN_BITS) != 0)


@jit
def permitted(pte, acc, ctx):
    """The leaf permission check for one access kind in one context."""
    user = (ctx & CTX_USER) != 0
    if user and not (pte & PTE_U):
        return False
    if acc == ACC_FETCH:
        return (pte & PTE_X) != 0 and (user or not (pte & PTE_U))
    if not user and (pte & PTE_U) and not (ctx & CTX_SUM):
        return False
    if acc == ACC_LOAD:
        return (pte & PTE_R) != 0 or ((ctx & CTX_MXR) != 0 and (pte & PTE_X) != 0)
    return (pte & PTE_W) != 0


@jit
def walk(mem, ctl, satp, va, acc, ctx):
    """Translate ``va``: return (physical page base, level, global) or (-cause-1, 0, 0).

    Sets A (and D for a store) in the leaf PTE as the hardware would.
    """
    top = va >> 38
    if top != 0 and top != -1:
        return page_fault(acc), 0, False   # not a sign-extended 39-bit address
    ram_base, ram_size = ctl[C_RAM_BASE], ctl[C_RAM_SIZE]
    table = (satp & PPN_MASK) << 12
    level = 2
    while True:
        idx = srl(va, 12 + 9 * level) & 0x1FF
        off = table + idx * 8 - ram_base
        if off < 0 or off > ram_size - 8:
            return -access_fault_cause(acc) - 1, 0, False
        pte = read_pte(mem, off)
        ctl[C_WALK_REFS] += 1             # one memory reference per level (the labs count them)
        if pte_malformed(pte):
            return page_fault(acc), 0, False
        ppn = srl(pte, PTE_PPN_SHIFT) & PPN_MASK
        if pte & (PTE_R | PTE_X):
            break
        level -= 1
        if level < 0:
            return page_fault(acc), 0, False
        table = ppn << 12
    if not permitted(pte, acc, ctx):
        return page_fault(acc), 0, False
    low = (1 << (9 * level)) - 1          # PPN bits a superpage takes from the address
    if ppn & low:
        return page_fault(acc), 0, False   # misaligned superpage
    new = pte | PTE_A
    if acc == ACC_STORE:
        new |= PTE_D
    if new != pte:
        write_pte(mem, off, new)
    page = ((ppn & ~low) | (srl(va, 12) & low)) << 12
    return page, level, (pte & PTE_G) != 0


#: What a G-stage translation is for: the guest's own (explicit) access, or one the VS-stage
#: walk makes (implicit): reading a VS-stage PTE, or writing one to set its A/D bits.
#: (numpy scalars: numba would compile a copy of g_stage for each literal int.)
EXPLICIT, IMPLICIT_READ, IMPLICIT_WRITE = np.int64(0), np.int64(1), np.int64(2)
#: htinst/mtinst for a guest-page fault of an implicit access: the spec's pseudoinstructions for
#: a 64-bit read (an ld's encoding with every register and offset field 0 and bits 1:0 clear)
#: and a 64-bit write (sd's, likewise)
TINST_IMPLICIT_LOAD, TINST_IMPLICIT_STORE = 0x3000, 0x3020


@jit
def guest_page_fault(ctl, acc, gpa, kind):
    """A guest-page fault for an access kind, as -cause-1, remembering the guest-physical
    address for htval/mtval2 and, for an implicit access, the pseudoinstruction for htinst.
    The cause is always the original access's (an A/D update for a load is a load fault)."""
    ctl[C_FAULT_GPA] = gpa
    ctl[C_FAULT_TINST] = (TINST_IMPLICIT_LOAD if kind == IMPLICIT_READ
                          else TINST_IMPLICIT_STORE if kind == IMPLICIT_WRITE else 0)
    if acc == ACC_FETCH:
        return -CAUSE_FETCH_GUEST_PAGE - 1
    if acc == ACC_LOAD:
        return -CAUSE_LOAD_GUEST_PAGE - 1
    return -CAUSE_STORE_GUEST_PAGE - 1


@jit
def g_permitted(pte, acc, ctx, kind):
    """The G-stage leaf check: every access is checked as U-mode, so U must be set; the VS-stage
    walk's own accesses as implicit loads (R) and stores (W), whatever the original access;
    HLVX needs X."""
    if not (pte & PTE_U):
        return False
    if kind == IMPLICIT_READ:
        return (pte & PTE_R) != 0
    if kind == IMPLICIT_WRITE:
        return (pte & PTE_W) != 0
    if acc == ACC_FETCH or (ctx & CTX_HLVX):
        return (pte & PTE_X) != 0
    if acc == ACC_LOAD:
        return (pte & PTE_R) != 0 or ((ctx & CTX_GMXR) != 0 and (pte & PTE_X) != 0)
    return (pte & PTE_W) != 0


@jit
def g_stage(mem, ctl, hgatp, gpa, acc, ctx, kind):
    """Guest-physical to host-physical through hgatp (Sv39x4): the host address, or -cause-1
    (a guest-page fault, with the GPA in ctl[C_FAULT_GPA], or an access fault).

    Sv39x4 is Sv39 with a 41-bit input: the root table has 2048 entries (16 KiB), indexed
    by GPA bits 40:30.  ``kind``: EXPLICIT, or the VS-stage walk's IMPLICIT_READ/WRITE."""
    if srl(hgatp, HGATP_MODE_SHIFT) == HGATP_MODE_BARE:
        if gpa < 0 or gpa >= (1 << 56):
            return -access_fault_cause(acc) - 1
        return gpa
    if srl(gpa, GPA_BITS) != 0:
        return guest_page_fault(ctl, acc, gpa, kind)
    ram_base, ram_size = ctl[C_RAM_BASE], ctl[C_RAM_SIZE]
    table = (hgatp & HGATP_PPN_MASK) << 12
    level = 2
    while True:
        bits = GSTAGE_ROOT_INDEX_BITS if level == 2 else VPN_BITS
        off = table + (srl(gpa, 12 + 9 * level) & ((1 << bits) - 1)) * 8 - ram_base
        if off < 0 or off > ram_size - 8:
            return -access_fault_cause(acc) - 1
        pte = read_pte(mem, off)
        ctl[C_WALK_REFS] += 1
        if pte_malformed(pte):
            return guest_page_fault(ctl, acc, gpa, kind)
        ppn = srl(pte, PTE_PPN_SHIFT) & PPN_MASK
        if pte & (PTE_R | PTE_X):
            break
        level -= 1
        if level < 0:
            return guest_page_fault(ctl, acc, gpa, kind)
        table = ppn << 12
    low = (1 << (9 * level)) - 1
    if not g_permitted(pte, acc, ctx, kind) or (ppn & low):
        return guest_page_fault(ctl, acc, gpa, kind)
    mark_accessed(mem, off, pte, kind == IMPLICIT_WRITE or (acc == ACC_STORE and kind == EXPLICIT))
    return (((ppn & ~low) | (srl(gpa, 12) & low)) << 12) | (gpa & 0xFFF)


@jit(inline="always")
def mark_accessed(mem, off, pte, store):
    """Set A (and D for a store) in a leaf PTE, as the hardware does."""
    new = pte | PTE_A
    if store:
        new |= PTE_D
    if new != pte:
        write_pte(mem, off, new)


@jit
def walk_guest(mem, ctl, vsatp, hgatp, gva, acc, ctx):
    """Two-stage translation of a guest virtual address: the VS-stage walk (vsatp, Sv39)
    whose every table read is itself a G-stage walk, then the G-stage for the final GPA --
    up to 3 x 3 + 3 + 3 = 15 memory references.  Returns walk()'s (page, level, global)."""
    if srl(vsatp, SATP_MODE_SHIFT) != SATP_MODE_SV39:
        hpa = g_stage(mem, ctl, hgatp, gva, acc, ctx, EXPLICIT)   # vsatp Bare: GVA = GPA
        return (hpa if hpa < 0 else hpa & ~0xFFF), 0, False
    top = gva >> 38
    if top != 0 and top != -1:
        return page_fault(acc), 0, False
    ram_base, ram_size = ctl[C_RAM_BASE], ctl[C_RAM_SIZE]
    table_gpa = (vsatp & PPN_MASK) << 12
    level = 2
    while True:
        pte_gpa = table_gpa + (srl(gva, 12 + 9 * level) & 0x1FF) * 8
        pte_hpa = g_stage(mem, ctl, hgatp, pte_gpa, acc, ctx, IMPLICIT_READ)
        if pte_hpa < 0:
            return pte_hpa, 0, False
        off = pte_hpa - ram_base
        if off < 0 or off > ram_size - 8:
            return -access_fault_cause(acc) - 1, 0, False
        pte = read_pte(mem, off)
        ctl[C_WALK_REFS] += 1
        if pte_malformed(pte):
            return page_fault(acc), 0, False
        ppn = srl(pte, PTE_PPN_SHIFT) & PPN_MASK
        if pte & (PTE_R | PTE_X):
            break
        level -= 1
        if level < 0:
            return page_fault(acc), 0, False
        table_gpa = ppn << 12
    low = (1 << (9 * level)) - 1
    if not permitted(pte, ACC_FETCH if ctx & CTX_HLVX else acc, ctx) or (ppn & low):
        return page_fault(acc), 0, False
    fault = update_vs_ad(mem, ctl, hgatp, pte_gpa, off, pte, acc, ctx)
    if fault < 0:
        return fault, 0, False
    gpa = (((ppn & ~low) | (srl(gva, 12) & low)) << 12) | (gva & 0xFFF)
    hpa = g_stage(mem, ctl, hgatp, gpa, acc, ctx, EXPLICIT)
    return (hpa if hpa < 0 else hpa & ~0xFFF), level, (pte & PTE_G) != 0


@jit
def update_vs_ad(mem, ctl, hgatp, pte_gpa, off, pte, acc, ctx):
    """Set A (and D for a store) in a VS-stage leaf PTE (at guest-physical ``pte_gpa``, RAM
    offset ``off``).  This is a write to guest memory, so the G-stage must allow it as an
    implicit store -- W, and it sets the G-stage leaf's A and D -- or the access ends in a
    guest-page fault of its own kind, htval the PTE's GPA >> 2, htinst 0x3020, the PTE left
    as it was.  Returns 0 or that fault (-cause-1).  The G-stage leaf is the one the walk
    just read this PTE through, so the check re-reads nothing a real MMU would not still
    hold: it is not counted in C_WALK_REFS."""
    new = pte | PTE_A
    if acc == ACC_STORE:
        new |= PTE_D
    if new == pte:
        return 0
    refs = ctl[C_WALK_REFS]
    hpa = g_stage(mem, ctl, hgatp, pte_gpa, acc, ctx, IMPLICIT_WRITE)
    ctl[C_WALK_REFS] = refs
    if hpa < 0:
        return hpa
    write_pte(mem, off, new)
    return 0


@jit
def tlb_refill(tlb, mem, ctl, h, satp, va, acc, ctx):
    """On a TLB miss: walk, fill the entry, return the physical page base or -cause-1.
    In a guest's context vsatp and hgatp come from ctl (hart.data_view leaves them there)."""
    ctl[C_TLB_MISS] += 1
    if ctx & CTX_VIRT:
        page, level, glob = walk_guest(mem, ctl, ctl[C_VSATP + h], ctl[C_HGATP + h], va, acc,
                                       ctx)
    else:
        page, level, glob = walk(mem, ctl, satp, va, acc, ctx)
    if page < 0:
        return page
    e = tlb[h, acc, (va >> 12) & (TLB_SETS - 1)]
    e[TLB_TAG] = va >> 12
    e[TLB_PPAGE] = page
    e[TLB_FLAGS] = (TLB_GLOBAL if glob else 0) | (level << 1)
    e[TLB_CTX] = ctx
    return page


@jit
def sfence_vma(tlb, h, va, asid, all_va, all_asid):
    """Drop the entries sfence.vma names: for one address (or all), one ASID (or all) -- of
    the host's own translations (V=0); a guest's are flushed by :func:`tlb_flush`.

    An entry of a superpage matches any address inside the superpage.  Global mappings are
    kept when only one ASID is flushed, as the spec allows.
    """
    tlb_flush(tlb, h, va, asid, all_va, all_asid, 0, CTX_VIRT)


@jit
def tlb_flush(tlb, h, va, asid, all_va, all_asid, space, space_mask):
    """sfence.vma generalised to address spaces: an entry is dropped only if its V and VMID
    bits, masked by ``space_mask``, equal ``space`` (so HFENCE.GVMA can drop one VMID's
    entries, a guest's sfence.vma only its own)."""
    vpn = va >> 12
    for acc in range(3):
        for i in range(TLB_SETS):
            e = tlb[h, acc, i]
            if e[TLB_TAG] == TLB_EMPTY or (e[TLB_CTX] & space_mask) != space:
                continue
            if not all_va:
                shift = 9 * ((e[TLB_FLAGS] >> 1) & 3)
                if (e[TLB_TAG] >> shift) != (vpn >> shift):
                    continue
            if not all_asid:
                if (e[TLB_FLAGS] & TLB_GLOBAL) or ((e[TLB_CTX] >> 3) & 0xFFFF) != asid:
                    continue
            e[TLB_TAG] = TLB_EMPTY
