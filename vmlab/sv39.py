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
from vmlab.isa.paging import (GPA_BITS, GSTAGE_ROOT_INDEX_BITS, HGATP_MODE_BARE, HGATP_MODE_SHIFT,
                              HGATP_MODE_SV39X4, HGATP_PPN_MASK, HGATP_VMID_MASK,
                              HGATP_VMID_SHIFT)

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


# --- two-stage translation (the hypervisor extension) -------------------------------------------
#
# A guest running with V=1 translates twice: its own Sv39 tables (vsatp, the *VS stage*) map a
# guest-virtual address to a guest-physical one, and the hypervisor's Sv39x4 tables (hgatp, the
# *G stage*) map every guest-physical address to a host-physical one.  "Every" is the point: the
# guest's tables live in guest-physical memory, so each VS-stage PTE read is first a G-stage
# walk of the PTE's own address::
#
#     vsatp ─▶ VS L2 ─▶ VS L1 ─▶ VS L0 ─▶ data GPA
#               ▲         ▲         ▲         ▲
#            G walk    G walk    G walk    G walk      (3 reads each for 4 KiB G pages)
#
# so a 4 KiB page over 4 KiB G-stage pages costs 3 × (3 + 1) + 3 = 15 memory references,
# where one-stage Sv39 (or a shadow table) costs 3.
#
# Sv39x4 is Sv39 with a 41-bit input: the root table has 2048 entries (16 KiB) indexed by GPA
# bits 40..30.  Every G-stage access is checked as a U-mode access (U must be set); a VS-stage
# table read needs R.  A fault in the G stage is a *guest-page fault* (20/21/23 by the kind
# of the original access) and reports the GPA; one in the VS stage is the usual page fault.

FETCH_GUEST_PAGE_FAULT, LOAD_GUEST_PAGE_FAULT, STORE_GUEST_PAGE_FAULT = (
    exception_code(n) for n in ("fetch_guest_page_fault", "load_guest_page_fault",
                                "store_guest_page_fault"))
_GUEST_PAGE_FAULT = {"fetch": FETCH_GUEST_PAGE_FAULT, "load": LOAD_GUEST_PAGE_FAULT,
                     "store": STORE_GUEST_PAGE_FAULT}


def size_words(level: int) -> str:
    """A level's page size as a student says it: "4 KiB", "2 MiB", "1 GiB"."""
    return ("4 KiB", "2 MiB", "1 GiB")[level]


def gpa_index(gpa: int, level: int) -> int:
    """The index into the level-``level`` G-stage table: 11 bits at the root, else 9."""
    bits = GSTAGE_ROOT_INDEX_BITS if level == LEVELS - 1 else 9
    return (gpa >> (12 + 9 * level)) & ((1 << bits) - 1)


def make_hgatp(root_pa: int, vmid: int = 0, mode: int = HGATP_MODE_SV39X4) -> int:
    """hgatp for an Sv39x4 root at ``root_pa`` (16 KiB aligned)."""
    return mode << HGATP_MODE_SHIFT | (vmid & HGATP_VMID_MASK) << HGATP_VMID_SHIFT | (root_pa >> 12)


@dataclass
class GWalk:
    """One G-stage walk: guest-physical ``gpa`` to host-physical ``hpa``.

    ``what`` says why the hardware walks it: ``"vs2"``/``"vs1"``/``"vs0"`` for the VS-stage
    PTE of that level (an *implicit* access, needing R), ``"data"`` for the final address.
    """

    gpa: int
    what: str
    steps: list[Step] = field(default_factory=list)
    hpa: int | None = None
    fault: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.fault is None


@dataclass
class VSStep:
    """One VS-stage level: the G-stage walk of the PTE's address, then the PTE read."""

    level: int
    table_gpa: int
    index: int
    g: GWalk            #: the G-stage walk of ``pte_gpa``
    pte: int | None = None    #: the VS-stage PTE, None when its G walk or read failed

    @property
    def pte_gpa(self) -> int:
        return self.table_gpa + 8 * self.index

    @property
    def is_leaf(self) -> bool:
        return self.pte is not None and bool(self.pte & (PTE_R | PTE_W | PTE_X))


@dataclass
class Ref:
    """One memory reference of a two-stage walk, numbered in the order the hardware makes it."""

    n: int
    stage: str          #: "G" (an hgatp table) or "VS" (a vsatp table)
    level: int
    pte_hpa: int
    pte: int
    what: str           #: for G: the address being translated ("vs2" .. "data"); for VS: "vsN"


@dataclass
class Walk2:
    """A two-stage translation: every VS-stage step (each with its G walk), then the final
    G walk; the GPA and HPA, or the fault with the address it reports."""

    gva: int
    access: str
    vs_steps: list[VSStep] = field(default_factory=list)
    final: GWalk | None = None
    gpa: int | None = None
    hpa: int | None = None
    fault: int | None = None
    #: the guest-physical address a guest-page fault reports (htval/mtval2 hold it >> 2)
    fault_gpa: int | None = None
    reason: str = ""
    level: int | None = None        #: the VS-stage leaf's level (None: Bare vsatp or fault)
    #: a guest-page fault in the G walk of a VS-stage table read (an *implicit* access: the
    #: hart reports it with htinst = a pseudoinstruction, 0x3000, rather than 0)
    implicit: bool = False

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def g_walks(self) -> list[GWalk]:
        return [s.g for s in self.vs_steps] + ([self.final] if self.final else [])

    @property
    def refs(self) -> list[Ref]:
        """Every PTE read, in the hardware's order: each VS level's G walk and then its PTE,
        then the final G walk."""
        out: list[Ref] = []
        for vs in self.vs_steps:
            out += [Ref(len(out) + i + 1, "G", st.level, st.pte_pa, st.pte, vs.g.what)
                    for i, st in enumerate(vs.g.steps)]
            if vs.pte is not None:
                out.append(Ref(len(out) + 1, "VS", vs.level, vs.g.hpa, vs.pte, vs.g.what))
        if self.final:
            out += [Ref(len(out) + i + 1, "G", st.level, st.pte_pa, st.pte, "data")
                    for i, st in enumerate(self.final.steps)]
        return out


def g_walk(read64: ReadU64, hgatp: int, gpa: int, access: str, what: str = "data", *,
           mxr: bool = False, write64: WriteU64 | None = None) -> GWalk:
    """Translate guest-physical ``gpa`` through ``hgatp`` (Sv39x4, or Bare: hpa = gpa).

    ``what`` other than ``"data"`` marks a VS-stage table read (needs R, never sets D; the
    spec also asks for W when the walk then sets the VS PTE's A/D bits, which the machine,
    and so this reference, does not check).
    ``mxr`` is the hypervisor's own mstatus.MXR (the guest's does not reach the G stage).
    """
    g = GWalk(gpa, what)
    mode = hgatp >> HGATP_MODE_SHIFT
    if mode == HGATP_MODE_BARE:
        g.hpa, g.reason = gpa, "hgatp Bare: host physical = guest physical"
        return g
    if mode != HGATP_MODE_SV39X4:
        raise ValueError(f"hgatp mode {mode} is not Sv39x4")
    if gpa >> GPA_BITS:
        return _gfail(g, access, f"the guest-physical address has bits above bit {GPA_BITS - 1}")
    table = (hgatp & HGATP_PPN_MASK) << 12
    for level in range(LEVELS - 1, -1, -1):
        pte_pa = table + 8 * gpa_index(gpa, level)
        pte = read64(pte_pa)
        if pte is None:
            g.fault, g.reason = _ACCESS_FAULT[access], f"the G-stage level-{level} PTE at {pte_pa:#x} is not in memory"
            return g
        step = Step(level, table, gpa_index(gpa, level), pte_pa, pte)
        g.steps.append(step)
        why = _malformed(pte, level)
        if why:
            return _gfail(g, access, "G-stage " + why)
        if step.is_leaf:
            return _g_leaf(g, step, access, mxr, write64)
        table = pte_ppn(pte) << 12
    return _gfail(g, access, "G-stage level 0 PTE is not a leaf")


def _malformed(pte: int, level: int) -> str:
    """Why a PTE ends any walk (both stages share the rule), or ""."""
    if not pte & PTE_V:
        return f"level-{level} PTE is not valid (V=0)"
    if pte & PTE_W and not pte & PTE_R:
        return "W without R is a reserved combination"
    if pte >> 54:
        return "reserved PTE bits 63..54 are set"
    return ""


def _g_leaf(g: GWalk, step: Step, access: str, mxr: bool, write64: WriteU64 | None) -> GWalk:
    pte, implicit = step.pte, g.what != "data"
    if not pte & PTE_U:
        return _gfail(g, access, "G-stage leaf without U (every guest access is checked as U-mode)")
    if implicit:
        why = "" if pte & PTE_R else "G-stage page without R holds a VS-stage page table"
    else:
        why = _permission_problem(pte, access, "U", False, mxr)
    if why:
        return _gfail(g, access, why if implicit else "G-stage " + why)
    low = (1 << (9 * step.level)) - 1
    if pte_ppn(pte) & low:
        return _gfail(g, access, f"misaligned G-stage superpage at level {step.level}")
    _set_ad(step, access == "store" and not implicit, write64)
    bits = 12 + 9 * step.level
    g.hpa = (pte_ppn(pte) << 12 & ~((1 << bits) - 1)) | (g.gpa & ((1 << bits) - 1))
    g.reason = f"G-stage level-{step.level} leaf: {size_words(step.level)} page"
    return g


def _set_ad(step: Step, store: bool, write64: WriteU64 | None) -> None:
    new = step.pte | PTE_A | (PTE_D if store else 0)
    if new != step.pte and write64 is not None:
        write64(step.pte_pa, new)


def _gfail(g: GWalk, access: str, reason: str) -> GWalk:
    g.fault, g.reason = _GUEST_PAGE_FAULT[access], reason
    return g


def walk2(read64: ReadU64, vsatp: int, hgatp: int, gva: int, access: str = "load", *,
          priv: str = "S", sum: bool = False, mxr: bool = False, gmxr: bool = False,
          write64: WriteU64 | None = None) -> Walk2:
    """Translate guest-virtual ``gva`` as a hart with V=1 does for ``access``.

    ``priv`` is the guest's privilege ("S" for VS-mode, "U" for VU-mode), ``sum``/``mxr``
    the guest's vsstatus bits (``mxr`` is also true when the hypervisor's MXR is), ``gmxr``
    the hypervisor's mstatus.MXR, which alone governs the G stage.  A Bare vsatp makes the
    GVA the GPA: only the G-stage walk is left.  With ``write64`` the A/D bits are set at
    both stages as the walk goes (the VS leaf's before the final G walk, as the hardware
    does).
    """
    if access not in _PAGE_FAULT:
        raise ValueError(f"access must be fetch, load or store, not {access!r}")
    w = Walk2(gva, access)
    mode, _asid, root_ppn = satp_fields(vsatp)
    if mode != SATP_MODE_SV39:
        w.gpa = gva
        return _final(w, read64, hgatp, gmxr, write64)
    if not canonical(gva):
        return _fail(w, _PAGE_FAULT[access], "bits 63..39 of the address are not copies of bit 38")
    table_gpa = root_ppn << 12
    for level in range(LEVELS - 1, -1, -1):
        vs = VSStep(level, table_gpa, vpn(gva, level), None)
        vs.g = g_walk(read64, hgatp, vs.pte_gpa, access, f"vs{level}", mxr=gmxr, write64=write64)
        w.vs_steps.append(vs)
        if not vs.g.ok:
            return _g_failed(w, vs.g)
        vs.pte = read64(vs.g.hpa)
        if vs.pte is None:
            return _fail(w, _ACCESS_FAULT[access], f"the VS-stage level-{level} PTE at host {vs.g.hpa:#x} is not in memory")
        why = _malformed(vs.pte, level)
        if why:
            return _fail(w, _PAGE_FAULT[access], "VS-stage " + why)
        if vs.is_leaf:
            return _vs_leaf(w, vs, read64, hgatp, priv, sum, mxr, gmxr, write64)
        table_gpa = pte_ppn(vs.pte) << 12
    return _fail(w, _PAGE_FAULT[access], "VS-stage level 0 PTE is not a leaf")


def _vs_leaf(w: Walk2, vs: VSStep, read64, hgatp, priv, sum, mxr, gmxr, write64) -> Walk2:
    """The VS-stage leaf: its permission check, its A/D bits, the GPA, then the final G walk."""
    why = _permission_problem(vs.pte, w.access, priv, sum, mxr)
    if why:
        return _fail(w, _PAGE_FAULT[w.access], "VS-stage " + why)
    low = (1 << (9 * vs.level)) - 1
    if pte_ppn(vs.pte) & low:
        return _fail(w, _PAGE_FAULT[w.access], f"misaligned VS-stage superpage at level {vs.level}")
    _set_ad(Step(vs.level, 0, vs.index, vs.g.hpa, vs.pte), w.access == "store", write64)
    bits = 12 + 9 * vs.level
    w.level = vs.level
    w.gpa = (pte_ppn(vs.pte) << 12 & ~((1 << bits) - 1)) | (w.gva & ((1 << bits) - 1))
    return _final(w, read64, hgatp, gmxr, write64)


def _final(w: Walk2, read64, hgatp: int, gmxr: bool, write64) -> Walk2:
    """The G walk of the final guest-physical address."""
    w.final = g_walk(read64, hgatp, w.gpa, w.access, "data", mxr=gmxr, write64=write64)
    if not w.final.ok:
        return _g_failed(w, w.final)
    w.hpa = w.final.hpa
    size = f"{size_words(w.level)} guest page, " if w.level is not None else "vsatp Bare, "
    w.reason = size + w.final.reason
    return w


def _g_failed(w: Walk2, g: GWalk) -> Walk2:
    """A G walk failed: a guest-page fault reporting its GPA (or an access fault)."""
    w.fault, w.reason = g.fault, g.reason
    if g.fault in _GUEST_PAGE_FAULT.values():
        w.fault_gpa, w.implicit = g.gpa, g.what != "data"
    return w
