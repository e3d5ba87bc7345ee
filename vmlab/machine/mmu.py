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
"""
from __future__ import annotations

import numpy as np

from vmlab.isa.paging import (PPN_MASK, PTE_A, PTE_D, PTE_G, PTE_PPN_SHIFT, PTE_R,  # noqa: F401
                              PTE_U, PTE_V, PTE_W, PTE_X)
from vmlab.machine.bits import srl
from vmlab.machine.jit import jit
from vmlab.machine.layout import (
    ACC_FETCH, ACC_LOAD, ACC_STORE, C_RAM_BASE, C_RAM_SIZE, C_TLB_MISS, C_WALK_REFS, CAUSE_FETCH_ACCESS,
    CAUSE_FETCH_PAGE, CAUSE_LOAD_ACCESS, CAUSE_LOAD_PAGE, CAUSE_STORE_ACCESS, CAUSE_STORE_PAGE,
    PRIV_U, TLB_CTX, TLB_EMPTY, TLB_FLAGS, TLB_GLOBAL, TLB_PPAGE, TLB_SETS, TLB_TAG,
)

CTX_SUM, CTX_MXR, CTX_USER = 1, 2, 4


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
        if not (pte & PTE_V) or ((pte & PTE_W) and not (pte & PTE_R)) or srl(pte, 54) != 0:
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


@jit
def tlb_refill(tlb, mem, ctl, h, satp, va, acc, ctx):
    """On a TLB miss: walk, fill the entry, return the physical page base or -cause-1."""
    ctl[C_TLB_MISS] += 1
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
    """Drop the entries sfence.vma names: for one address (or all), one ASID (or all).

    An entry of a superpage matches any address inside the superpage.  Global mappings are
    kept when only one ASID is flushed, as the spec allows.
    """
    vpn = va >> 12
    for acc in range(3):
        for i in range(TLB_SETS):
            e = tlb[h, acc, i]
            if e[TLB_TAG] == TLB_EMPTY:
                continue
            if not all_va:
                shift = 9 * ((e[TLB_FLAGS] >> 1) & 3)
                if (e[TLB_TAG] >> shift) != (vpn >> shift):
                    continue
            if not all_asid:
                if (e[TLB_FLAGS] & TLB_GLOBAL) or (e[TLB_CTX] >> 3) != asid:
                    continue
            e[TLB_TAG] = TLB_EMPTY
