"""Building shadow page tables: one shadow tree in host memory, and the rule for one shadow PTE.

A shadow tree is an ordinary Sv39 table tree that the *real* MMU walks while the guest runs.
It maps guest-virtual pages straight to host-physical frames, so it is the composition of two
maps the hardware cannot compose by itself::

    gva --(guest's own tables, in guest RAM)--> gpa --(vm.mem page map)--> hpa
    gva --(shadow tables, in host frames the guest can never name)-----------> hpa

This module knows nothing about *when* entries are made or dropped (that is
:mod:`vmlab.hv.shadow`); it only knows how to put one 4 KiB leaf into a tree, take it out,
and what permissions the leaf may carry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vmlab import sv39
from vmlab.hv.memory import PAGE, FrameAllocator
from vmlab.machine.bits import MASK64
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

RWX = PTE_R | PTE_W | PTE_X


def shadow_perms(guest_pte: int, priv: str, sum: bool, mxr: bool) -> int:
    """The R/W/X bits a shadow leaf may carry for guest leaf ``guest_pte`` in one context.

    The hardware runs every guest in real U-mode, where SUM means nothing and the guest's
    own U bit cannot be checked, so the check the guest's privilege would make is done here,
    once, for all three access kinds, and baked into the shadow leaf.  MXR is baked in the
    same way (a load from an X-only page is granted R), which is why the real mstatus.MXR
    must stay 0 while a guest runs.

    A clean page (D = 0) is mapped without W even if the guest allows writing: the first
    store then faults to the hypervisor, which sets D in the guest PTE as hardware would
    and upgrades the shadow leaf.
    """
    perms = 0
    for access, bit in (("load", PTE_R), ("store", PTE_W), ("fetch", PTE_X)):
        if sv39.permits(guest_pte, access, priv=priv, sum=sum, mxr=mxr):
            perms |= bit
    if not guest_pte & PTE_D or not perms & PTE_R:
        perms &= ~PTE_W          # clean page; and W without R is reserved
    return perms if guest_pte & PTE_A else 0


def shadow_pte(hpa_page: int, perms: int) -> int:
    """A shadow leaf: always U (the guest runs in real U-mode), never G (a global entry
    would survive the ASID switch between two shadow roots), and with A and D already set
    so the real MMU never writes into the shadow tables."""
    return sv39.make_pte(hpa_page, PTE_V | perms | PTE_U | PTE_A | PTE_D)


@dataclass(slots=True)
class Leaf:
    """Bookkeeping for one shadow leaf: where it came from, so it can be dropped exactly.

    ``pte_gpas`` are the guest PTEs the guest walk read (root to leaf): if the guest
    rewrites any of them, this leaf may be stale.  ``level`` is the level of the guest
    leaf: a guest superpage is shadowed by many 4 KiB leaves, and an sfence.vma naming any
    address inside the superpage must drop all of them.
    """

    gva_page: int
    gpa_page: int
    hpa_page: int
    perms: int
    level: int = 0
    pte_gpas: tuple[int, ...] = ()
    slot_hpa: int = 0          #: host address of the shadow PTE itself


@dataclass
class ShadowTree:
    """One shadow root: its table frames in host RAM and the leaves built so far."""

    frames: FrameAllocator
    root_hpa: int = 0
    tables: list[int] = field(default_factory=list)     #: every table frame, root first
    _leaves: dict[int, Leaf] = field(default_factory=dict)
    #: called before the leaves are read: the pager's catch-up with leaves that compiled
    #: code put into this tree's memory and only logged (ShadowPaging.settle)
    settle: object = field(default=None, repr=False, compare=False)
    #: a one-element list the tree adds its table frames to (and takes them from), shared
    #: by the pager's trees: their total, known without summing every tree (which it asks
    #: before every compiled run)
    count: list = field(default_factory=lambda: [0], repr=False, compare=False)

    def __post_init__(self):
        self.root_hpa = self.frames.alloc(FrameAllocator.SHADOW)
        self.tables.append(self.root_hpa)
        self.count[0] += 1

    @property
    def leaves(self) -> dict[int, Leaf]:
        """gva page -> leaf, every leaf of the tree (those filled in compiled code too)."""
        if self.settle is not None:
            self.settle()
        return self._leaves

    def adopt(self, leaf: Leaf) -> None:
        """Take into the bookkeeping a leaf already written at ``leaf.slot_hpa``."""
        self._leaves[leaf.gva_page] = leaf

    # --- host memory -----------------------------------------------------------------------
    def read64(self, hpa: int) -> int | None:
        """The 8-byte word at host address ``hpa`` (for sv39.mappings over the shadow)."""
        off = hpa - self.frames.ram_base
        if hpa & 7 or off < 0 or off + 8 > len(self.frames.ram):
            return None
        return self.frames.words[off >> 3]

    def _write64(self, hpa: int, value: int) -> None:
        off = hpa - self.frames.ram_base
        self.frames.words[off >> 3] = int(value) & MASK64

    # --- leaves ----------------------------------------------------------------------------
    def slot(self, gva: int) -> int:
        """Host address of the level-0 shadow PTE for ``gva``, making tables on the way."""
        table = self.root_hpa
        for level in (2, 1):
            slot = table + 8 * sv39.vpn(gva, level)
            pte = self.read64(slot)
            if not pte & PTE_V:
                new = self.frames.alloc(FrameAllocator.SHADOW)
                self.tables.append(new)
                self.count[0] += 1
                pte = sv39.make_pte(new, PTE_V)        # non-leaf: no R/W/X, no U/A/D
                self._write64(slot, pte)
            table = sv39.pte_ppn(pte) << 12
        return table + 8 * sv39.vpn(gva, 0)

    def put(self, leaf: Leaf) -> None:
        """Install (or replace) the shadow leaf for ``leaf.gva_page``."""
        leaf.slot_hpa = self.slot(leaf.gva_page << 12)
        self._write64(leaf.slot_hpa, shadow_pte(leaf.hpa_page << 12, leaf.perms))
        self._leaves[leaf.gva_page] = leaf

    def remove(self, gva_page: int) -> Leaf | None:
        """Clear one shadow leaf (its tables stay: they are cheap and likely reused)."""
        leaf = self._leaves.pop(gva_page, None)
        if leaf is not None:
            self._write64(leaf.slot_hpa, 0)
        return leaf

    def clear(self) -> list[Leaf]:
        """Drop every leaf and every table but the (zeroed) root; return the leaves."""
        dropped = list(self._leaves.values())
        self._leaves.clear()
        for hpa in self.tables:
            off = hpa - self.frames.ram_base
            self.frames.ram[off: off + PAGE] = 0     # a freed frame keeps no host addresses
        for hpa in self.tables[1:]:
            self.frames.free(hpa)
        self.count[0] -= len(self.tables) - 1
        del self.tables[1:]
        return dropped

    def free(self) -> list[Leaf]:
        """Give every frame back to the host; the tree is unusable afterwards."""
        dropped = self.clear()
        self.frames.free(self.root_hpa)
        self.count[0] -= len(self.tables)
        self.tables.clear()
        return dropped

    def mappings(self):
        """Every leaf the real MMU would find, read back from host memory (not from the
        bookkeeping), so a view shows what the hardware really sees."""
        return sv39.mappings(self.read64, self.root_hpa)
