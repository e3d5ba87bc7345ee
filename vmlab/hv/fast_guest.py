"""Guest memory as compiled code sees it: host-physical words, guest-physical words through
the VM's page map, and the guest's own Sv39 walk.

Every read and write here is bounds-checked against the machine's RAM array, and a guest page
that has no frame yet (or is shared copy-on-write, for writes) answers "ask Python" rather
than being backed here: allocating and breaking shares is the memory manager's job.
:func:`guest_walk` succeeds exactly where the reference walker (vmlab.sv39.walk) succeeds and
declines everything else (a test checks it on thousands of random walks).
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.fast_jit import jit
from vmlab.hv.memory import FLAGS as PAGE_FLAGS
from vmlab.hv.memory import READ_ONLY
from vmlab.isa.paging import (PAGE_SHIFT, PPN_BITS, PPN_MASK, PTE_PPN_SHIFT, PTE_R, PTE_U, PTE_V,
                              PTE_W, PTE_X, SATP_MODE_SHIFT, VPN_BITS)
from vmlab.machine import layout as L

ACC_FETCH, ACC_LOAD, ACC_STORE = L.ACC_FETCH, L.ACC_LOAD, L.ACC_STORE
VPN_MASK = (1 << VPN_BITS) - 1
PAGE_OFFSET = (1 << PAGE_SHIFT) - 1
PTE_RESERVED_SHIFT = PTE_PPN_SHIFT + PPN_BITS     # bits 63..54 must be zero


@jit
def pte_table(pte):
    """The address of the next-level table (or the frame) a PTE points to."""
    return ((pte >> PTE_PPN_SHIFT) & PPN_MASK) << PAGE_SHIFT


@jit
def pte_index(va, level):
    """The byte offset of ``va``'s entry in its level-``level`` table."""
    return 8 * ((va >> (PAGE_SHIFT + VPN_BITS * level)) & VPN_MASK)


# === host-physical words (shadow tables live in host RAM) =============================
@jit
def read_hpa64(mem, hpa):
    """The 8-byte word at host address ``hpa`` (-1 outside RAM: never a valid shadow PTE
    for the callers, who then leave the decision to Python)."""
    off = hpa - L.RAM_BASE
    if off < 0 or off + 8 > mem.size:
        return -1
    v = 0
    for k in range(8):
        v |= np.int64(mem[off + k]) << (8 * k)
    return v


@jit
def write_hpa64(mem, hpa, value):
    """Store a shadow PTE at host address ``hpa`` (out of RAM: nothing happens)."""
    off = hpa - L.RAM_BASE
    if off < 0 or off + 8 > mem.size:
        return
    for k in range(8):
        mem[off + k] = (value >> (8 * k)) & 0xFF


# === guest-physical words, through the VM's page map ==================================
@jit
def guest_bytes(mem, page_map, vctl, gpa, n):
    """``n`` (2 or 8) little-endian bytes at guest-physical ``gpa``, aligned, if that is
    backed guest RAM; else -1 (a page never touched, or not RAM: Python decides)."""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off + n > vctl[L.C_RAM_SIZE] or gpa & (n - 1):
        return -1
    entry = page_map[off >> PAGE_SHIFT]
    if entry < 0:
        return -1
    at = (entry & ~PAGE_FLAGS) + (off & PAGE_OFFSET) - L.RAM_BASE
    if at < 0 or at + n > mem.size:
        return -1
    v = 0
    for k in range(n):
        v |= np.int64(mem[at + k]) << (8 * k)
    return v


@jit
def writable_ram(page_map, vctl, gpa):
    """May compiled code store to guest RAM at ``gpa`` in place?  Not when the page has no
    frame, nor when its frame is shared copy-on-write (READ_ONLY): breaking a share is the
    memory manager's job, in Python."""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off >= vctl[L.C_RAM_SIZE]:
        return False
    entry = page_map[off >> PAGE_SHIFT]
    return entry >= 0 and (entry & READ_ONLY) == 0


@jit
def set_guest64(mem, page_map, vctl, gpa, value):
    """Store a PTE the walk read (the caller checked writable_ram; checked again here)."""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off + 8 > vctl[L.C_RAM_SIZE] or page_map[off >> PAGE_SHIFT] < 0:
        return
    write_hpa64(mem, (page_map[off >> PAGE_SHIFT] & ~PAGE_FLAGS) + (off & PAGE_OFFSET), value)


# === the guest's own page tables =======================================================
@jit
def leaf_permits(pte, access, priv_s, sum_, mxr):
    """sv39._permission_problem == "" for a vS (``priv_s``) or vU access."""
    if pte & PTE_U:
        if priv_s and (access == ACC_FETCH or not sum_):
            return False
    elif not priv_s:
        return False
    if access == ACC_FETCH:
        return pte & PTE_X != 0
    if access == ACC_LOAD:
        return pte & PTE_R != 0 or (mxr and pte & PTE_X != 0)
    return pte & PTE_W != 0


@jit
def bad_pte(pte):
    """A PTE the walk stops at with a fault: invalid, reserved bits, or W without R."""
    return (pte == -1 or pte & PTE_V == 0 or (pte >> PTE_RESERVED_SHIFT) & 0x3FF != 0
            or (pte & PTE_W != 0 and pte & PTE_R == 0))


@jit
def guest_walk(mem, page_map, vctl, satp, va, access, priv_s, sum_, mxr):
    """vmlab.sv39.walk where it succeeds: (True, gpa, the leaf PTE's gpa, the leaf PTE).
    Any fault, or a table in a page never touched, gives (False, ...): Python walks it
    again with the reference walker and decides."""
    top = va >> 38                                 # canonical: bits 63..38 all equal
    if top != 0 and top != -1:
        return False, 0, 0, 0
    table = (satp & PPN_MASK) << PAGE_SHIFT
    for level in range(2, -1, -1):
        pte_gpa = table + pte_index(va, level)
        pte = guest_bytes(mem, page_map, vctl, pte_gpa, 8)
        if bad_pte(pte):
            return False, 0, 0, 0
        if pte & (PTE_R | PTE_X):
            low = (1 << (VPN_BITS * level)) - 1   # a superpage's PPN is aligned to its size
            if (pte >> PTE_PPN_SHIFT) & low or not leaf_permits(pte, access, priv_s, sum_, mxr):
                return False, 0, 0, 0
            inside = (1 << (PAGE_SHIFT + VPN_BITS * level)) - 1
            return True, (pte_table(pte) & ~inside) | (va & inside), pte_gpa, pte
        table = pte_table(pte)
    return False, 0, 0, 0


@jit
def leaf_level(mem, page_map, vctl, satp, va):
    """The level of the leaf a successful guest walk of ``va`` ends at (2, 1 or 0)."""
    table = (satp & PPN_MASK) << PAGE_SHIFT
    for level in range(2, 0, -1):
        pte = guest_bytes(mem, page_map, vctl, table + pte_index(va, level), 8)
        if pte & (PTE_R | PTE_X):
            return level
        table = pte_table(pte)
    return 0


@jit
def fetch_half(mem, page_map, vctl, row, gva):
    """Two bytes of instruction at ``gva`` as the guest's fetch sees them, or -1."""
    satp, priv, status = row[L.SATP], row[L.PRIV], row[L.MSTATUS]
    gpa = gva
    if priv != L.PRIV_M and (satp >> SATP_MODE_SHIFT) & 0xF != 0:
        ok, gpa, _, _ = guest_walk(mem, page_map, vctl, satp, gva, ACC_FETCH, priv == L.PRIV_S,
                                   (status & L.MS_SUM) != 0, (status & L.MS_MXR) != 0)
        if not ok:
            return -1
    return guest_bytes(mem, page_map, vctl, gpa, 2)


@jit
def fetch_insn(mem, page_map, vctl, row, pc):
    """mmio.fetch_insn: the instruction bits at guest pc ``pc`` (the guest's own view:
    VCpu.gva_to_gpa for a fetch), or -1 where Python must look."""
    low = fetch_half(mem, page_map, vctl, row, pc)
    if low < 0 or low & 3 != 3:
        return low
    high = fetch_half(mem, page_map, vctl, row, pc + 2)
    return -1 if high < 0 else low | high << 16
