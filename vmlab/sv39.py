"""Sv39 virtual memory, written to be read: PTE layout, the page-table walk, a table iterator.

This is the *reference* walker.  The machine's jitted MMU is the fast one, and tests compare
the two; the hypervisor (to build shadow tables), the widgets (to draw trees and walks) and
the grading checks all use this one, so that there is one definition of "what does this
virtual address map to" across vmlab.

An Sv39 virtual address::

     63        39 38      30 29      21 20      12 11         0
    +------------+----------+----------+----------+------------+
    | = bit 38   |  VPN[2]  |  VPN[1]  |  VPN[0]  |   offset   |
    +------------+----------+----------+----------+------------+

A page-table entry (PTE), 8 bytes::

     63    54 53        28 27      19 18      10 9   8 7 6 5 4 3 2 1 0
    +--------+------------+----------+----------+-----+-+-+-+-+-+-+-+-+
    |reserved|   PPN[2]   |  PPN[1]  |  PPN[0]  | RSW |D|A|G|U|X|W|R|V|
    +--------+------------+----------+----------+-----+-+-+-+-+-+-+-+-+

A PTE with any of R, W, X set is a *leaf*; with none set it points to the next level.
A leaf found at level 2 maps a 1 GiB page, at level 1 a 2 MiB page, at level 0 a 4 KiB page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from vmlab.isa.causes import exception_code
from vmlab.isa.paging import (FLAG_NAMES, LEVELS, PAGE_SIZE, PPN_MASK, PTE_A, PTE_D,  # noqa: F401
                              PTE_PPN_SHIFT,
                              PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, SATP_ASID_MASK,
                              SATP_ASID_SHIFT, SATP_MODE_BARE, SATP_MODE_SHIFT,
                              SATP_MODE_SV39, SATP_PPN_MASK)

#: exception codes of the three page faults (vmlab.isa.causes: the spec's "mcause values")
FETCH_PAGE_FAULT, LOAD_PAGE_FAULT, STORE_PAGE_FAULT = (
    exception_code(n) for n in ("fetch_page_fault", "load_page_fault", "store_page_fault"))
#: and of the matching access faults (the walk itself touched memory that isn't there)
FETCH_ACCESS_FAULT, LOAD_ACCESS_FAULT, STORE_ACCESS_FAULT = (
    exception_code(n) for n in ("fetch_access", "load_access", "store_access"))

_PAGE_FAULT = {"fetch": FETCH_PAGE_FAULT, "load": LOAD_PAGE_FAULT, "store": STORE_PAGE_FAULT}
_ACCESS_FAULT = {"fetch": FETCH_ACCESS_FAULT, "load": LOAD_ACCESS_FAULT, "store": STORE_ACCESS_FAULT}


# --- field helpers ------------------------------------------------------------------------------

def vpn(va: int, level: int) -> int:
    """The 9-bit index into the level-``level`` table for virtual address ``va``."""
    return (va >> (12 + 9 * level)) & 0x1FF


def pte_ppn(pte: int) -> int:
    """The physical page number a PTE holds (44 bits)."""
    return (pte >> PTE_PPN_SHIFT) & PPN_MASK


def make_pte(pa: int, flags: int) -> int:
    """A PTE pointing at physical address ``pa`` (page aligned) with ``flags`` (PTE_* bits)."""
    return ((pa >> 12) << 10) | flags


def flag_string(pte: int) -> str:
    """``"DAGUXWRV"``-style flags, set ones as letters, clear ones as ``-`` (ordered V..D)."""
    return "".join(ch if pte >> i & 1 else "-" for i, ch in enumerate(FLAG_NAMES))


def satp_fields(satp: int) -> tuple[int, int, int]:
    """``(mode, asid, root_ppn)`` of a satp value."""
    return (satp >> SATP_MODE_SHIFT, (satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK,
            satp & SATP_PPN_MASK)


def make_satp(root_pa: int, asid: int = 0, mode: int = SATP_MODE_SV39) -> int:
    return mode << 60 | (asid & 0xFFFF) << 44 | (root_pa >> 12)


def canonical(va: int) -> bool:
    """Sv39 uses 39 bits; bits 63..39 must all equal bit 38 or the address faults."""
    top = va >> 38
    return top == 0 or top == (1 << 26) - 1


def page_size(level: int) -> int:
    return PAGE_SIZE << (9 * level)


# --- the walk -------------------------------------------------------------------------------------

@dataclass
class Step:
    """One PTE read during a walk."""

    level: int
    table_pa: int       #: physical address of the table being indexed
    index: int          #: VPN[level], the slot used
    pte_pa: int         #: physical address of the PTE (table_pa + 8 * index)
    pte: int            #: its value (before any A/D update)

    @property
    def flags(self) -> str:
        return flag_string(self.pte)

    @property
    def is_leaf(self) -> bool:
        return bool(self.pte & (PTE_R | PTE_W | PTE_X))


@dataclass
class Walk:
    """The result of translating one virtual address, with every step taken."""

    va: int
    access: str
    steps: list[Step] = field(default_factory=list)
    pa: int | None = None
    #: exception code when the translation faults (12/13/15 page fault, 1/5/7 access fault)
    fault: int | None = None
    #: why, in words a student can follow
    reason: str = ""
    #: the PTE value written back when A/D bits were set (None if none was)
    updated_pte: int | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def leaf(self) -> Step | None:
        return self.steps[-1] if self.ok and self.steps else None

    @property
    def page_size(self) -> int | None:
        return page_size(self.leaf.level) if self.leaf else None


ReadU64 = Callable[[int], "int | None"]
WriteU64 = Callable[[int, int], None]


def walk(read64: ReadU64, satp: int, va: int, access: str = "load", *, priv: str = "S",
         sum: bool = False, mxr: bool = False, write64: WriteU64 | None = None) -> Walk:
    """Translate ``va`` as the hardware would for an ``access`` ("fetch", "load", "store").

    ``read64(pa)`` returns the 8-byte little-endian word at ``pa`` or None when there is no
    memory there (an access fault).  ``priv`` is the effective privilege ("U", "S" or "M";
    M with a Bare/ignored satp is untranslated).  ``sum``/``mxr`` are the sstatus bits.
    When ``write64`` is given, the A (and for stores D) bits are set in memory as Sv39
    hardware with hardware A/D updating does; without it, the walk only looks.
    """
    if access not in _PAGE_FAULT:
        raise ValueError(f"access must be fetch, load or store, not {access!r}")
    w = Walk(va, access)
    mode, _asid, root_ppn = satp_fields(satp)
    if priv == "M" or mode == SATP_MODE_BARE:
        w.pa = va
        w.reason = "no translation (M-mode or satp Bare): physical = virtual"
        return w
    if mode != SATP_MODE_SV39:
        raise ValueError(f"satp mode {mode} is not Sv39")
    if not canonical(va):
        return _fail(w, _PAGE_FAULT[access], "bits 63..39 of the address are not copies of bit 38")
    table = root_ppn << 12
    for level in range(LEVELS - 1, -1, -1):
        index = vpn(va, level)
        pte_pa = table + 8 * index
        pte = read64(pte_pa)
        if pte is None:
            return _fail(w, _ACCESS_FAULT[access], f"the level-{level} PTE at {pte_pa:#x} is not in memory")
        step = Step(level, table, index, pte_pa, pte)
        w.steps.append(step)
        if not pte & PTE_V:
            return _fail(w, _PAGE_FAULT[access], f"level-{level} PTE is not valid (V=0)")
        if pte & PTE_W and not pte & PTE_R:
            return _fail(w, _PAGE_FAULT[access], "W without R is a reserved combination")
        if pte >> 54:
            return _fail(w, _PAGE_FAULT[access], "reserved PTE bits 63..54 are set")
        if step.is_leaf:
            return _leaf(w, step, priv, sum, mxr, write64)
        # U, A and D of a non-leaf PTE are reserved: software must clear them, but the
        # hardware (QEMU's and ours) does not check, so neither does the reference.
        table = pte_ppn(pte) << 12
    return _fail(w, _PAGE_FAULT[access], "level 0 PTE is not a leaf")


def _leaf(w: Walk, step: Step, priv: str, sum: bool, mxr: bool, write64: WriteU64 | None) -> Walk:
    pte, access, fault = step.pte, w.access, _PAGE_FAULT[w.access]
    why = _permission_problem(pte, access, priv, sum, mxr)
    if why:
        return _fail(w, fault, why)
    low_ppn_mask = (1 << (9 * step.level)) - 1
    if pte_ppn(pte) & low_ppn_mask:
        return _fail(w, fault, f"misaligned superpage: a level-{step.level} leaf must have PPN[{step.level - 1}:0] = 0")
    new = pte | PTE_A | (PTE_D if access == "store" else 0)
    if new != pte:
        if write64 is None:
            w.reason = "A/D bits would be set"
        else:
            write64(step.pte_pa, new)
            w.updated_pte = new
    offset_bits = 12 + 9 * step.level
    w.pa = (pte_ppn(pte) << 12 & ~((1 << offset_bits) - 1)) | (w.va & ((1 << offset_bits) - 1))
    if not w.reason:
        w.reason = f"level-{step.level} leaf: {page_size(step.level) // 1024} KiB page"
    return w


def permits(pte: int, access: str, *, priv: str = "S", sum: bool = False, mxr: bool = False) -> bool:
    """Whether a valid leaf ``pte`` allows ``access`` at ``priv`` (U or S) with these sstatus bits.

    The leaf check alone, without the walk: the hypervisor asks it for all three access
    kinds at once when it turns one guest PTE into a shadow PTE.
    """
    return not _permission_problem(pte, access, priv, sum, mxr)


def _permission_problem(pte: int, access: str, priv: str, sum: bool, mxr: bool) -> str:
    """Why a leaf forbids this access, or "" when it allows it."""
    if priv == "U" and not pte & PTE_U:
        return "U-mode access to a page without U"
    if priv == "S" and pte & PTE_U:
        if access == "fetch":
            return "S-mode may never execute from a U page"
        if not sum:
            return "S-mode access to a U page with sstatus.SUM clear"
    if access == "fetch" and not pte & PTE_X:
        return "fetch from a page without X"
    if access == "load" and not (pte & PTE_R or (mxr and pte & PTE_X)):
        return "load from a page without R" + ("" if mxr else " (MXR clear)")
    if access == "store" and not pte & PTE_W:
        return "store to a page without W"
    return ""


def _fail(w: Walk, cause: int, reason: str) -> Walk:
    w.fault, w.reason = cause, reason
    return w


# --- enumerating a table tree ------------------------------------------------------------------------

@dataclass
class Mapping:
    """One valid leaf: the virtual range it maps and where."""

    va: int
    pa: int
    level: int
    pte_pa: int
    pte: int

    @property
    def size(self) -> int:
        return page_size(self.level)

    @property
    def flags(self) -> str:
        return flag_string(self.pte)


def canonical_va(va: int) -> int:
    """A 39-bit address made canonical the way software writes it (bit 38 copied upward)."""
    return va | ~((1 << 39) - 1) & ((1 << 64) - 1) if va >> 38 & 1 else va


def mappings(read64: ReadU64, root_pa: int) -> Iterator[Mapping]:
    """Every valid leaf under the table at ``root_pa``, in virtual-address order.

    Invalid entries and entries outside memory are skipped.  The depth is fixed at three
    levels, so even a hostile tree (a table pointing at itself) cannot make this loop
    forever: at most 512**3 entries are ever looked at.
    """
    yield from _mappings(read64, root_pa, LEVELS - 1, 0)


def _mappings(read64: ReadU64, table: int, level: int, va_base: int) -> Iterator[Mapping]:
    for index in range(512):
        pte = read64(table + 8 * index)
        if pte is None or not pte & PTE_V:
            continue
        va = va_base | index << (12 + 9 * level)
        if pte & (PTE_R | PTE_W | PTE_X):
            yield Mapping(canonical_va(va), pte_ppn(pte) << 12, level, table + 8 * index, pte)
        elif level > 0:
            yield from _mappings(read64, pte_ppn(pte) << 12, level - 1, va)
