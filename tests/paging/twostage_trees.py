"""Random two-stage page-table trees in a Machine's RAM, for the two-stage walk's tests.

Both stages are grown lazily along the path of each address about to be walked: a slot the
walk will read that nobody wrote yet gets a random entry -- a pointer to a table, a leaf
(4 KiB or a superpage, mostly aligned), an invalid or reserved one, W without R, a G-stage
leaf without U, a target outside RAM, a guest-physical address above 41 bits.  Slots once
written stay as they are, so later walks cross earlier ones' tables.
"""
from __future__ import annotations

import random

from vmlab import sv39
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

RAM_BASE = 0x8000_0000
#: RAM below this offset holds the fixed parts (the code page, the tables that map it);
#: random targets are never chosen there, and the code page is never written
FIXED = 0x1_0000
CODE_HPA = RAM_BASE
G_ROOT = RAM_BASE + 0x4000          # 16 KiB aligned
OUTSIDE = 0x4_0000_0000             # no memory here: a walk reading it takes an access fault
LEAVES = [PTE_R, PTE_R | PTE_W, PTE_R | PTE_X, PTE_X, PTE_R | PTE_W | PTE_X]
JUNK = [0, PTE_W, PTE_W | PTE_X, PTE_R]    # V clear, or W without R


def ram_io(machine, ram_size: int):
    """``read64``/``write64`` over a machine's RAM, None outside it (what walk2 wants)."""
    def read64(hpa: int):
        if not RAM_BASE <= hpa <= RAM_BASE + ram_size - 8:
            return None
        return int.from_bytes(machine.read_mem(hpa, 8), "little")

    def write64(hpa: int, value: int) -> None:
        machine.write_mem(hpa, value.to_bytes(8, "little"))
    return read64, write64


class TwoStageTrees:
    """A VS-stage tree (at a random guest-physical root) over a G-stage tree (at G_ROOT)."""

    def __init__(self, machine, rng: random.Random, ram_size: int, vs_root_gpa: int | None = None):
        self.m, self.rng, self.ram_size = machine, rng, ram_size
        self.read64, self._write64 = ram_io(machine, ram_size)
        self.written: set[int] = set()
        self.protected: set[int] = set()      #: host pages of the fixed mappings' tables
        self.vs_root_gpa = vs_root_gpa or RAM_BASE + rng.randrange(FIXED, ram_size, 4096)
        self.hgatp = sv39.make_hgatp(G_ROOT, vmid=3)
        self.vsatp = sv39.make_satp(self.vs_root_gpa, asid=7)
        self.map_g(self.vs_root_gpa, self.hpa(inside=True))     # every walk starts here

    # --- fixed mappings (made before any random growth: their slots are all still free) ---------
    def _map(self, root: int, index, target: int, leaf: int, new_table, host) -> int:
        """Map one 4 KiB page under ``root``: new tables where slots are empty, then the leaf.
        ``host(table)`` is the host address of a table; returns the leaf's host address."""
        table = root
        for level in (2, 1):
            slot = host(table) + 8 * index(level)
            if slot not in self.written:
                self.write64(slot, sv39.make_pte(new_table(), PTE_V))
            self.protected.add(slot & ~0xFFF)
            table = sv39.pte_ppn(self.read64(slot)) << 12
        slot = host(table) + 8 * index(0)
        self.write64(slot, sv39.make_pte(target, leaf))
        self.protected.add(slot & ~0xFFF)
        return slot

    def map_g(self, gpa: int, hpa: int) -> int:
        """The G stage maps ``gpa``'s page to ``hpa``'s (a 4 KiB leaf, everything allowed)."""
        return self._map(G_ROOT, lambda lv: sv39.gpa_index(gpa, lv), hpa,
                         PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D,
                         lambda: self.hpa(inside=True), lambda table: table)

    def map_vs(self, gva: int, gpa: int, leaf: int) -> int:
        """The VS stage maps ``gva``'s page to ``gpa``'s (new tables at fresh guest-physical
        pages, G-mapped); returns the host address of the leaf PTE."""
        def new_table() -> int:
            table_gpa = RAM_BASE + self.rng.randrange(FIXED, self.ram_size, 4096)
            self.map_g(table_gpa, self.hpa(inside=True))
            return table_gpa
        return self._map(self.vs_root_gpa, lambda lv: sv39.vpn(gva, lv), gpa, leaf, new_table,
                         lambda table: sv39.g_walk(self.read64, self.hgatp, table, "load", "vs").hpa)


    # --- memory ------------------------------------------------------------------------------
    def write64(self, hpa: int, value: int) -> None:
        self._write64(hpa, value)
        self.written.add(hpa)

    def _fill(self, hpa: int, make) -> None:
        """Give slot ``hpa`` a random entry unless it has one (or is not random memory)."""
        if hpa in self.written or self.read64(hpa) is None or CODE_HPA <= hpa < CODE_HPA + 4096:
            return
        self.write64(hpa, make())

    # --- random addresses -----------------------------------------------------------------------
    def gpa(self) -> int:
        """A guest-physical page: in the first 4 MiB of a few gigabytes, rarely above 41 bits."""
        if self.rng.random() < 0.01:
            return 1 << self.rng.randrange(41, 56)
        giga = self.rng.choice([0, 1, 2, 2, 2, 3, 1000, 2047])
        return giga << 30 | self.rng.randrange(0, 4 << 20, 4096)

    def hpa(self, inside: bool = False) -> int:
        if not inside and self.rng.random() < 0.01:
            return OUTSIDE
        return RAM_BASE + self.rng.randrange(FIXED, self.ram_size, 4096)

    # --- random entries ---------------------------------------------------------------------------
    def _pte(self, level: int, target: int, g_stage: bool) -> int:
        r = self.rng
        if r.random() < (0.02 if g_stage else 0.06):
            flags = r.choice(JUNK)
        elif level and r.random() < 0.55:
            flags = PTE_V                                   # a pointer to the next table
        else:                                # (the G stage mostly readable: it holds tables)
            kinds = LEAVES if not g_stage or r.random() < 0.1 else LEAVES[:3] + LEAVES[4:]
            flags = PTE_V | r.choice(kinds) | r.choice([0, PTE_A, PTE_A | PTE_D])
            u = r.random() < (0.97 if g_stage else 0.5)
            flags |= PTE_U if u else 0
            if level and r.random() < 0.8:                  # a superpage, mostly aligned
                target &= ~((1 << (12 + 9 * level)) - 1)
        pte = sv39.make_pte(target, flags)
        return pte | (1 << 60 if r.random() < 0.02 else 0)  # a reserved bit, rarely

    def grow_g(self, gpa: int) -> None:
        """Random G-stage entries along ``gpa``'s path."""
        table = G_ROOT
        for level in (2, 1, 0):
            slot = table + 8 * sv39.gpa_index(gpa, level)
            self._fill(slot, lambda: self._pte(level, self.hpa(), True))
            pte = self.read64(slot)
            if pte is None or sv39._malformed(pte, level) or pte & (PTE_R | PTE_X):
                return
            table = sv39.pte_ppn(pte) << 12

    def grow(self, gva: int) -> None:
        """Random entries along ``gva``'s whole two-stage path."""
        table_gpa = self.vs_root_gpa
        for level in (2, 1, 0):
            pte_gpa = table_gpa + 8 * sv39.vpn(gva, level)
            self.grow_g(pte_gpa)
            g = sv39.g_walk(self.read64, self.hgatp, pte_gpa, "load", f"vs{level}")
            if not g.ok:
                return
            self._fill(g.hpa, lambda: self._pte(level, self.gpa(), False))
            pte = self.read64(g.hpa)
            if pte is None or sv39._malformed(pte, level):
                return
            if pte & (PTE_R | PTE_X):
                break
            table_gpa = sv39.pte_ppn(pte) << 12
        w = sv39.walk2(self.read64, self.vsatp, self.hgatp, gva, "load", priv="U")
        if w.gpa is not None:
            self.grow_g(w.gpa)

    def gva(self) -> int:
        va = sv39.canonical_va(self.rng.getrandbits(39))
        if self.rng.random() < 0.04:
            va ^= 1 << self.rng.randrange(39, 64)            # not canonical
        return va
