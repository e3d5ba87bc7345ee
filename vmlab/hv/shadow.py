"""Shadow page tables: how a guest that believes it runs Sv39 in S-mode gets the real MMU.

The guest always runs in real U-mode, and the real ``satp`` points at a *shadow* table tree
that the hypervisor builds in host frames.  A shadow leaf maps a guest-virtual page straight
to the host frame backing it::

    guest tables (gva -> gpa, in guest RAM)  +  vm.mem (gpa -> hpa)  =  shadow (gva -> hpa)

The pieces, in the order a student meets them:

**Roots.**  One shadow tree per address space *and* per view of it: the guest's virtual
privilege changes what a page allows (a vU access needs U=1; a vS access to a U page needs
SUM; MXR makes X pages readable), and the real hardware, stuck in U-mode, cannot check any
of that.  So :meth:`ShadowPaging.root_for` keys trees by (guest satp, virtual privilege, SUM,
MXR) and bakes the answer into each tree's permissions.  Virtual M-mode and a Bare guest satp
share one *direct* tree (gva = gpa); virtual M-mode with mstatus.MPRV gets a tree of its own
whose data leaves follow the guest's tables as MPP's and whose code leaves are untranslated.  Trees live in a bounded LRU cache; each gets its own real
ASID, so switching between cached trees needs no TLB flush.

**Fills.**  Trees start empty.  Every guest access to an unfilled page takes a real page
fault, and :meth:`ShadowPaging.handle_fault` walks the guest's tables with the reference
walker (:mod:`vmlab.sv39`), setting the guest's A and D bits as hardware would, and installs
one 4 KiB shadow leaf -- or says the fault is the guest's own (reflect it), a device access
(emulate it) or a write-protected page-table page (emulate the store).  A clean page is
mapped read-only until its first store, which is when D must be set.

**Coherence.**  A shadow leaf is a cached copy of guest PTEs, so it goes stale when the guest
rewrites them.  Two strategies, selectable so a lab can compare them:

- ``"sfence"``: trust the guest to execute ``sfence.vma`` after changing a PTE, as the spec
  requires of it, and drop the matching shadow leaves then (:meth:`ShadowPaging.sfence`);
- ``"write-protect"``: map every guest page-table page read-only in every shadow tree, so each
  PTE write traps (a ``"wp"`` fault, then :meth:`ShadowPaging.after_pt_write`) and the
  dependent leaves are dropped at once; the guest's sfence then costs nothing.

When the host itself changes what backs a guest page (swap, balloon, sharing), it calls
:meth:`ShadowPaging.invalidate_gpa` so no leaf keeps pointing at the old frame.

**Isolation.**  The guest names only gpas; a gpa outside guest RAM never becomes a shadow
leaf (devices fault to be emulated, anything else is an access fault in the guest), and the
shadow tables live in frames no gpa maps to.

Trace: every event is a ``SHADOW`` record in ``vm.trace`` whose ``cause`` is one of these
codes; ``tval`` and ``insn`` carry the arguments listed:

======  ============  ===================================================================
code    name          tval / insn
======  ============  ===================================================================
1       FILL          gva / gpa page number (gpa >> 12): a new shadow leaf
2       DIRTY         gva / gpa page: first store to a clean page: D set, leaf made writable
3       GUEST_FAULT   gva / cause reflected into the guest (page or access fault)
4       MMIO          gva / gpa page of the device the core will emulate
5       WP_FAULT      gva / gpa page: a store to a write-protected guest page-table page
6       PT_WRITE      gpa written / shadow leaves dropped because they depended on it
7       SFENCE        gva (0 for all) / shadow leaves dropped (0 under write-protect)
8       ROOT_BUILD    guest satp / real ASID tag of the new tree
9       ROOT_SWITCH   guest satp / ASID tag: a vCPU moved to another cached tree
10      ROOT_EVICT    guest satp / ASID tag: a tree left the cache, its frames freed
11      PROTECT       gpa of a page that became a page-table page (write-protect only)
12      RESET         0 / trees freed
13      RECYCLE       0 / leaves dropped: the VM's shadow tables hit ``max_tables`` frames
======  ============  ===================================================================
"""
from __future__ import annotations

import gc
from collections import Counter, OrderedDict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from vmlab import sv39
from vmlab.hv import fastpath as F
from vmlab.hv.memory import OutOfFrames
from vmlab.hv.shadow_build import RWX, Leaf, ShadowTree, shadow_perms
from vmlab.hv.shadow_fill import FillError, FillRequest, NotGuestRam, fill_name
from vmlab.hv.trace import SHADOW
from vmlab.machine import layout as L
from vmlab.machine.memmap import VIRTIO_WINDOW
from vmlab.machine.bits import MASK64, i64
from vmlab.machine.mmu import sfence_vma
from vmlab.sv39 import PTE_W, PTE_X

FILL, DIRTY, GUEST_FAULT, MMIO, WP_FAULT, PT_WRITE, SFENCE = range(1, 8)
ROOT_BUILD, ROOT_SWITCH, ROOT_EVICT, PROTECT, RESET, RECYCLE = range(8, 14)
EVENT_NAMES = {FILL: "fill", DIRTY: "dirty", GUEST_FAULT: "guest_fault", MMIO: "mmio",
               WP_FAULT: "wp_fault", PT_WRITE: "pt_write", SFENCE: "sfence",
               ROOT_BUILD: "root_build", ROOT_SWITCH: "root_switch", ROOT_EVICT: "root_evict",
               PROTECT: "protect", RESET: "reset", RECYCLE: "recycle"}

STRATEGIES = ("sfence", "write-protect")
COUNTERS = ("fills", "dirty_upgrades", "guest_faults", "mmio_faults", "wp_faults", "pt_writes",
            "sfences", "flushes", "leaves_dropped", "roots_built", "root_cache_hits",
            "root_switches", "roots_evicted", "pages_protected", "ad_updates", "tlb_flushes",
            "resets", "recycles")

VA_BITS = (1 << 39) - 1
assert F.F_PTE0 == F.F_NPTES + 1 and F.F_SLOT == F.F_PTE0 + 3 == F.FILL_WORDS - 1
SETTLE_AT = 1 << 16        # compiled fills kept unindexed at most (rows of 88 bytes)



class RootKey(NamedTuple):
    """Which shadow tree a vCPU needs: everything that changes the permissions it gets.

    These are the names to read a key by (``key.satp``, ``key.priv``), in the widgets too;
    the one tree without guest paging is the key :data:`DIRECT`."""

    kind: str          # SV39 (the guest's own tables) or MPRV (vM's loads and stores as MPP)
    satp: int          # the guest's satp (unsigned)
    priv: str          # "S" or "U": the privilege the tree's permissions are for
    sum: bool          # mstatus.SUM (S-mode may touch U pages)
    mxr: bool          # mstatus.MXR (loads from execute-only pages)


#: kinds of shadow tree, the first item of every key
DIRECT_KIND, SV39, MPRV = "direct", "sv39", "mprv"
#: the key of the tree for a guest with paging off (gva = gpa)
DIRECT = (DIRECT_KIND,)
MAX_FLIPS = 16             # see ShadowPaging._merge_mprv
#: the mstatus bits key_of reads (a change of any other bit keeps the same tree)
KEY_STATUS = L.MS_MPRV | L.MS_MPP | L.MS_SUM | L.MS_MXR
TAGS_PER_VM = 64           # real ASIDs reserved per VM (tag 0 stays the host's)

_ACCESS = {L.CAUSE_FETCH_PAGE: "fetch", L.CAUSE_LOAD_PAGE: "load", L.CAUSE_STORE_PAGE: "store",
           L.CAUSE_FETCH_ACCESS: "fetch", L.CAUSE_LOAD_ACCESS: "load", L.CAUSE_STORE_ACCESS: "store"}
_ACCESS_FAULT = {"fetch": L.CAUSE_FETCH_ACCESS, "load": L.CAUSE_LOAD_ACCESS,
                 "store": L.CAUSE_STORE_ACCESS}

#: the virt board's device windows: a guest access there is emulated, not an access fault
DEVICE_RANGES = ((L.TEST_BASE, L.TEST_SIZE), (L.CLINT_BASE, L.CLINT_SIZE),
                 (L.PLIC_BASE, L.PLIC_SIZE), (L.UART_BASE, L.UART_SIZE),
                 (L.VIRTIO_BASE, VIRTIO_WINDOW))      # all eight virtio-mmio slots


@dataclass(frozen=True)
class Fault:
    """What :meth:`ShadowPaging.handle_fault` decided.

    ``kind``: ``"filled"`` (retry the instruction), ``"guest"`` (reflect ``cause``/``tval``
    into the guest), ``"mmio"`` (emulate the access to device ``gpa``), ``"wp"`` (emulate the
    store into guest RAM at ``gpa``, then call ``after_pt_write``).
    """

    kind: str
    cause: int = 0
    tval: int = 0
    gpa: int | None = None
    reason: str = ""


@dataclass
class Root:
    """One cached shadow tree and the guest context it was built for."""

    key: tuple
    tag: int                       #: the real ASID its TLB entries carry
    tree: ShadowTree
    guest_satp: int = 0
    priv: str = "M"                #: "S", "U", or "M" for the direct tree
    sum: bool = False
    mxr: bool = False
    #: (guest leaf level, gva >> (12 + 9*level)) -> gva pages shadowing one guest superpage
    super: dict = field(default_factory=dict)

    #: gva page -> how often an MPRV tree's leaf switched between code and data meanings
    flips: dict = field(default_factory=dict)

    @property
    def direct(self) -> bool:
        return self.key == DIRECT

    @property
    def mprv(self) -> bool:
        """A tree for virtual M-mode with mstatus.MPRV: data as MPP's, code untranslated."""
        return self.key[0] == MPRV

    @property
    def guest_asid(self) -> int:
        return sv39.satp_fields(self.guest_satp)[1]

    @cached_property
    def satp(self) -> int:
        """The value the real satp gets while a vCPU uses this tree (its root frame and
        tag never change, so it is computed once)."""
        return sv39.make_satp(self.tree.root_hpa, self.tag)


def key_of(satp: int, priv: int, status: int) -> tuple:
    """The shadow tree a guest context needs: (kind, guest satp, "S"/"U", SUM, MXR), or
    :data:`DIRECT` when the guest does not translate.  ``satp`` unsigned, ``priv`` the
    virtual privilege, ``status`` the virtual mstatus."""
    if satp >> 60 != sv39.SATP_MODE_SV39:
        return DIRECT
    kind = SV39
    if priv == L.PRIV_M:
        mpp = (status >> L.MS_MPP_SHIFT) & 3
        if not status & L.MS_MPRV or mpp == L.PRIV_M:
            return DIRECT
        kind, priv = MPRV, mpp       # vM loads and stores translated as MPP's
    priv = "S" if priv == L.PRIV_S else "U"
    sum_ = priv == "S" and bool(status & L.MS_SUM)    # SUM means nothing to U-mode
    return RootKey(kind, satp, priv, sum_, bool(status & L.MS_MXR))


def _asked(vcpu, w) -> tuple:
    """What root_for's answer depends on, read from a VCpu's row words ``w``: the vCPU,
    satp, its mode and the mstatus bits key_of reads (the memo's question)."""
    return (vcpu.id, w[L.SATP], w[L.PRIV], w[L.MSTATUS] & KEY_STATUS)


#: leaves to index at once from which the collector is paused (below, the pause costs more)
PAUSE_COLLECTOR_AT = 256


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while the pager indexes a batch of compiled
    fills.  Tens of thousands of Leaf objects made at once trip its thresholds again and
    again, and each older-generation pass scans the whole heap -- for objects that are
    bookkeeping meant to live, not garbage: 4.5 µs a leaf with it, 1.5 µs without (20,000
    fills).  It runs again as soon as the batch is indexed."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ShadowPaging:
    """A VM's shadow page tables (see the module docstring for the whole story)."""

    def __init__(self, vm, strategy: str = "sfence", max_roots: int = 16,
                 max_tables: int = 4096):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        if not 1 <= max_roots <= TAGS_PER_VM:
            raise ValueError(f"max_roots must be 1..{TAGS_PER_VM}")
        self.vm, self.strategy, self.max_roots = vm, strategy, max_roots
        self.max_tables = max(max_tables, 3 * max_roots)    # table frames, all trees together
        self._table_count = [0]                  # the trees' table frames now (ShadowTree.count)
        self.roots: OrderedDict[tuple, Root] = OrderedDict()   # least recently used first
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.device_ranges = DEVICE_RANGES
        self._current: dict[int, tuple] = {}         # vcpu id -> key of the tree it runs on
        # the coherence indexes (read them as _deps, _pt_refs, _by_target: see settle)
        self._dep_index: dict[int, set] = {}        # guest PTE gpa -> {(key, gva page)}
        self._pt_ref_counts: Counter = Counter()    # guest page -> leaves depending on its PTEs
        self._target_index: dict[int, set] = {}     # gpa page -> {(key, gva page)} mapping it
        # blocks of the fast path's fill log not indexed yet (catch_up_fills, settle)
        self._pending: list[np.ndarray] = []
        self._pending_keys: set[int] = set()    # their (tag << 32 | gva page), see _settle_for
        # the root cache as the compiled fast path sees it (vmlab.hv.fastpath): one row per
        # cached tree, at a slot that stays the tree's while it is cached
        self.mirror = np.zeros((TAGS_PER_VM, F.ROOT_WORDS), dtype=np.int64)
        self._slots: dict[tuple, int] = {}
        self._by_tag: dict[int, tuple] = {}
        self.super_index = np.full((F.SUPER_ROWS, F.SUPER_WORDS), -1, dtype=np.int64)
        self._super_rows: dict[tuple, int] = {}      # (slot, level, group) -> row
        self._super_full: set[int] = set()           # slots whose groups did not all fit
        #: the replaceable fill (see set_fill): None means the reference walk below
        self.fill_hook = None
        # root_for's answer to the last vCPU that asked, while nothing moved (see there)
        self._memo: tuple | None = None

    @property
    def write_protect(self) -> bool:
        return self.strategy == "write-protect"

    # (the coherence indexes, complete: with the compiled fills' leaves in them)
    @property
    def _deps(self) -> dict[int, set]:
        self.settle()
        return self._dep_index

    @property
    def _pt_refs(self) -> Counter:
        self.settle()
        return self._pt_ref_counts

    @property
    def _by_target(self) -> dict[int, set]:
        self.settle()
        return self._target_index

    # === roots ================================================================================
    def key_for(self, vcpu) -> tuple:
        """The cache key of the tree ``vcpu`` needs now: what changes the permissions.

        A vCPU's row holds satp and mstatus exactly as the guest reads them, so they are
        read from it directly (this runs on every entry into the guest); anything without
        a row (a stand-in in the tests) is asked through ``csr()``."""
        w = getattr(vcpu, "w", None)       # (a VCpu's row words: bits.words)
        if w is not None:
            return key_of(w[L.SATP], w[L.PRIV], w[L.MSTATUS])
        return key_of(vcpu.csr("satp") & MASK64, vcpu.priv, vcpu.csr("mstatus"))

    def root_for(self, vcpu) -> int:
        """The real satp for ``vcpu`` now: Sv39, the tree's ASID tag, the tree's root PPN.

        Call it before every entry into the guest: a tree that no vCPU is on may be evicted
        and its frames reused.  Mostly the same vCPU asks again with the same satp, mode
        and key bits of mstatus, and nothing moved in the cache since: then the answer is
        the last one (a cache hit on the most recent tree, counted as :meth:`_root` would),
        without building the key -- this runs on every exit of the Python path.
        """
        satp = self.peek_root(vcpu)
        if satp is not None:
            self.count_hit()
            return satp
        satp = self._root(vcpu).satp
        w = getattr(vcpu, "w", None)
        if w is not None:
            self._memo = (_asked(vcpu, w), satp)
        return satp

    def peek_root(self, vcpu) -> int | None:
        """root_for's answer if it is the last one (see there), or None where root_for
        must look -- without counting or moving anything: the caller enters the guest on
        it (then :meth:`count_hit`) or does not after all (an interrupt was due first)."""
        w, memo = getattr(vcpu, "w", None), self._memo
        if w is None or memo is None:
            return None
        if memo[0] != _asked(vcpu, w):
            return None
        return memo[1]

    def count_hit(self) -> None:
        """An entry on the tree peek_root answered: a cache hit, as _root counts them."""
        self.counters["root_cache_hits"] += 1

    def _root(self, vcpu) -> Root:
        self._memo = None                     # (the cache moves: root_for asks again)
        key = self.key_for(vcpu)
        previous = self._current.get(vcpu.id)
        self._current[vcpu.id] = key          # (so the tree it leaves may be evicted now)
        root = self.roots.get(key)
        if root is None:
            root = self._build(key)
        else:
            self.counters["root_cache_hits"] += 1
            self.roots.move_to_end(key)
        if previous is not None and previous != key:
            self.counters["root_switches"] += 1
            self._record(vcpu, ROOT_SWITCH, root.guest_satp, root.tag)
        return root

    def _build(self, key: tuple) -> Root:
        self.settle()                        # (an evicted tree's tag must be resolved first)
        while len(self.roots) >= self.max_roots and self._evict_one():
            pass
        root = Root(key, self._free_tag(), ShadowTree(self.vm.frames, settle=self.settle,
                                                         count=self._table_count))
        if key != DIRECT:
            _, root.guest_satp, root.priv, root.sum, root.mxr = key
        self.roots[key] = root
        self._mirror_add(root)
        self.counters["roots_built"] += 1
        self._record(None, ROOT_BUILD, root.guest_satp, root.tag)
        return root

    def _free_tag(self) -> int:
        used = {r.tag for r in self.roots.values()}
        base = 1 + (self.vm.id * TAGS_PER_VM) % (0xFFFF - TAGS_PER_VM)
        return next(base + i for i in range(TAGS_PER_VM + len(used)) if base + i not in used)

    def _evict_one(self) -> bool:
        """Free the least recently used tree no vCPU is on; False if every one is in use."""
        self._memo = None
        busy = set(self._current.values())
        for key, root in self.roots.items():
            if key not in busy:
                self._forget_tree(root, free=True)
                del self.roots[key]
                self._mirror_drop(root)
                self.counters["roots_evicted"] += 1
                self._record(None, ROOT_EVICT, root.guest_satp, root.tag)
                return True
        return False

    # === the fast path's view of the root cache ====================================================
    def _mirror_add(self, root: Root) -> None:
        """A new tree gets a free row (with none free it stays Python's alone)."""
        slot = next((i for i in range(len(self.mirror)) if not self.mirror[i, F.R_VALID]), None)
        if slot is None:
            return
        self._slots[root.key], self._by_tag[root.tag] = slot, root.key
        kind = {DIRECT_KIND: F.KIND_DIRECT, SV39: F.KIND_SV39, MPRV: F.KIND_MPRV}[root.key[0]]
        self.mirror[slot] = (1, kind, i64(root.guest_satp), root.priv == "S", root.sum,
                             root.mxr, i64(root.satp), root.tag, 0)

    def _mirror_drop(self, root: Root) -> None:
        slot = self._slots.pop(root.key, None)
        if slot is not None:
            self.mirror[slot] = 0
            del self._by_tag[root.tag]

    def _super_index(self, root: Root, group: tuple, delta: int) -> None:
        """Keep ``super_index`` -- rows (mirror slot, level, group, members) -- in step with
        ``root.super``, so the fast path's sfence can tell whether a guest superpage around
        an address has pieces to drop.  Full (or a tree without a slot): the tree's
        R_SUPER flag says "always ask Python"."""
        slot = self._slots.get(root.key)
        if slot is None:
            return
        key = (slot, *group)
        row = self._super_rows.get(key)
        if row is None:
            free = np.flatnonzero(self.super_index[:, F.X_SLOT] < 0)
            if not len(free):
                self._super_full.add(slot)
                self.mirror[slot, F.R_SUPER] = 1
                return
            row = self._super_rows[key] = int(free[0])
            self.super_index[row] = (slot, group[0], group[1], 0)
        self.super_index[row, F.X_MEMBERS] += delta

    def _super_index_clear(self, root: Root) -> None:
        slot = self._slots.get(root.key)
        if slot is None:
            return
        for key in [k for k in self._super_rows if k[0] == slot]:
            self.super_index[self._super_rows.pop(key)] = -1
        self._super_full.discard(slot)
        self.mirror[slot, F.R_SUPER] = 0

    def slot_in_use(self, vcpu) -> int:
        """The mirror slot of the tree ``vcpu`` runs on (-1 before its first entry)."""
        return self._slots.get(self._current.get(vcpu.id), -1)

    def catch_up(self, vcpu, entries: int, switched_tags) -> None:
        """Replay what the fast path did to the root cache: ``entries`` entries into the
        guest (each a cache hit, as :meth:`_root` counts them) and the switches between
        cached trees, in order (by ASID tag; their trace records are written already)."""
        self.counters["root_cache_hits"] += entries
        if switched_tags:
            self._memo = None
        for tag in switched_tags:
            key = self._by_tag[tag]
            self.roots.move_to_end(key)
            self._current[vcpu.id] = key
            self.counters["root_switches"] += 1

    def catch_up_fills(self, fills) -> None:
        """The leaves the fast path put into trees (rows of fastpath's fill log): counted
        now, indexed when something first needs the index (:meth:`settle`).

        What must Python know about a compiled fill, and when?  Its trace record, at once
        (written by then); the count, at once (here).  The leaf's bookkeeping -- a
        :class:`Leaf`, the guest PTEs it depends on, the frame it maps -- is needed only
        when something asks: a fault, an sfence or PT write that may drop leaves, the host
        changing a frame, a view reading the trees.  Until then it stays a row of the log,
        a copy of which is kept (the fast path reuses its array)."""
        n = len(fills)
        if not n:
            return
        self._pending.append(fills.copy())
        self._pending_keys.update((fills[:, F.F_TAG] << 32 | fills[:, F.F_GVA_PAGE]).tolist())
        self.counters["fills"] += n
        if len(self._pending_keys) >= SETTLE_AT:     # (a bound on the memory rows take)
            self.settle()

    def settle(self) -> None:
        """Index the leaves the fast path filled since the last call, exactly as
        :meth:`_fill` does for its own (the same Leaf, dependencies and superpage index).
        Every reader of the bookkeeping calls it first; it costs nothing when done."""
        if not self._pending:
            return
        blocks, self._pending = self._pending, []
        many = len(self._pending_keys) >= PAUSE_COLLECTOR_AT
        self._pending_keys.clear()
        # (the usual settle, a few leaves, is not worth the pause's own cost)
        with _collector_paused() if many else nullcontext():
            for block in blocks:
                self._index_fills(block)

    def _settle_for(self, root: Root, gva: int) -> None:
        """What a fault needs of the fills not indexed yet: only a leaf of this very page
        (which the fill replaces: a clean page's first store) -- then all of them.  (A
        recycle, the other reader on a fill's way, settles for itself.)"""
        if self._pending and root.tag << 32 | (gva & VA_BITS) >> 12 in self._pending_keys:
            self.settle()

    def _index_fills(self, block: np.ndarray) -> None:
        """Leaves, dependencies and superpage index for one block of the fill log (its rows
        unpacked in fast_state's order: tag ... F_NPTES, the three PTE words, F_SLOT)."""
        roots, by_tag, remember = self.roots, self._by_tag, self._remember
        for (tag, gva_page, gpa_page, hpa_page, perms, level, nptes, *ptes,
             slot_hpa) in block.tolist():
            root = roots[by_tag[tag]]
            leaf = Leaf(gva_page, gpa_page, hpa_page, perms, level, tuple(ptes[:nptes]),
                        slot_hpa)
            root.tree.adopt(leaf)            # (its PTE is in the tree's memory already)
            remember(root, leaf)
            if level:                        # indexed now: the fast path's "unsure" ends
                slot = self._slots[root.key]
                self.mirror[slot, F.R_SUPER] = slot in self._super_full

    def table_room(self) -> int:
        """Table frames left before :meth:`_fill` would recycle every tree."""
        return self.max_tables - self._table_count[0]

    # === faults ===============================================================================
    def handle_fault(self, vcpu, cause: int, gva: int) -> Fault:
        """A guest access faulted in the shadow: fill it, or say whose fault it really is."""
        gva &= MASK64
        access = _ACCESS.get(cause)
        root = self.roots.get(self.key_for(vcpu)) or self._root(vcpu)   # the tree it ran on
        self._settle_for(root, gva)
        if access is None or cause == _ACCESS_FAULT[access]:
            # the shadow never maps non-RAM, so a real access fault is not ours to fix
            return self._guest_fault(vcpu, cause, gva, "not a page fault of the shadow")
        if root.direct:
            return self._place(vcpu, root, access, gva, gva, RWX, 0, ())
        if root.mprv and access == "fetch":                 # vM fetches are untranslated
            return self._place(vcpu, root, access, gva, gva, PTE_X, 0, ())
        if self.fill_hook is not None and not root.mprv:
            return self._hooked_fill(vcpu, root, access, gva)
        w = sv39.walk(self.guest_read64, root.guest_satp, gva, access, priv=root.priv,
                      sum=root.sum, mxr=root.mxr, write64=self._set_ad)
        if not w.ok:
            return self._guest_fault(vcpu, w.fault, gva, w.reason)
        pte = w.updated_pte if w.updated_pte is not None else w.leaf.pte
        perms = shadow_perms(pte, root.priv, root.sum, root.mxr) & ~(PTE_X if root.mprv else 0)
        steps = tuple(s.pte_pa for s in w.steps)
        return self._place(vcpu, root, access, gva, w.pa, perms, w.leaf.level, steps)

    # === the fill hook: a VM's own fill function (vmlab.hv.shadow_fill) =========================
    def set_fill(self, fn) -> None:
        """Fill this VM's shadow trees with ``fn(req)`` (a :class:`FillRequest`) instead of
        the reference walk; None puts the reference back.  The hook replaces the fill of
        guest-paged trees only (a guest with paging off, or virtual M-mode, keeps the
        built-in one), and a VM with a hook takes every exit in Python: the compiled fast
        path would fill without asking it."""
        if fn is not None and not callable(fn):
            raise TypeError(f"the fill hook must be callable, not {type(fn).__name__}")
        self.fill_hook = fn
        if fn is not None:
            self.vm.fast_exits = False
        self.reset()                 # leaves the old fill made must not outlive it

    def _hooked_fill(self, vcpu, root: Root, access: str, gva: int) -> Fault:
        """One fill through the hook; what it did is checked before anything is mapped."""
        name = fill_name(self.fill_hook)
        req = FillRequest(self, gva, access, root.guest_satp, root.priv, root.sum, root.mxr, name)
        try:
            self.fill_hook(req)
        except NotGuestRam as out:       # (the page is the fill's answer; the byte is gva's)
            return self._outside_ram(vcpu, access, gva, out.gpa & ~0xFFF | gva & 0xFFF)
        except FillError:
            raise
        except Exception as exc:
            raise FillError(f"{name} raised {type(exc).__name__}: {exc}") from exc
        if (req.fault is None) == (req.shadow_pte is None):
            raise FillError(f"{name}: call exactly one of write_shadow and guest_fault per fault")
        if req.fault is not None:
            return self._guest_fault(vcpu, req.fault, gva, f"{name} says it is the guest's fault")
        gpa, perms, level, pte_gpas = req.leaf()
        return self._place(vcpu, root, access, gva, gpa, perms, level, pte_gpas)

    def _place(self, vcpu, root, access, gva, gpa, perms, level, pte_gpas) -> Fault:
        """The guest translation succeeded: map it, unless it is not guest RAM or is
        write-protected against this very store."""
        if not self.vm.mem.contains(gpa):
            return self._outside_ram(vcpu, access, gva, gpa)
        gpa_page = gpa >> 12
        if self.write_protect and self._is_pt_page(gpa_page, pte_gpas):
            if access == "store":
                self.counters["wp_faults"] += 1
                self._record(vcpu, WP_FAULT, gva, gpa_page)
                return Fault("wp", sv39.STORE_PAGE_FAULT, gva, gpa, "store to a guest page table")
            perms &= ~PTE_W
        if root.mprv:
            merged = self._merge_mprv(root, access, gva, gpa_page, perms, level, pte_gpas)
            if merged is None:
                return self._guest_fault(vcpu, _ACCESS_FAULT[access], gva,
                                         "MPRV data and M-mode code disagree on this page")
            perms, level, pte_gpas = merged
        # the host's side of the page (vmlab.hv.memory): swapped in, copied if shared and
        # stored to; a frame still shared is mapped read-only so the first store comes back
        hpa, shared = self.vm.mem.backing(gpa_page << 12, write=access == "store")
        if shared:
            perms &= ~PTE_W
        leaf = Leaf((gva & VA_BITS) >> 12, gpa_page, hpa >> 12, perms, level, pte_gpas)
        self._fill(vcpu, root, leaf, gpa)
        return Fault("filled", 0, gva, gpa)

    def _merge_mprv(self, root: Root, access, gva, gpa_page, perms, level, pte_gpas):
        """In a vM tree with MPRV, one gva page may be wanted both as code (untranslated)
        and as data (translated as MPP's).  Where both land on the same gpa, one leaf
        carries both; where they differ, the leaf flips at each fault -- and a page that
        keeps flipping (an instruction fetching from and loading through the same page)
        ends in an access fault rather than a guest that never progresses."""
        page = (gva & VA_BITS) >> 12
        old = root.tree.leaves.get(page)
        if old is None or old.gpa_page == gpa_page:
            root.flips.pop(page, None)
            if old is None:
                return perms, level, pte_gpas
            return (perms | old.perms, old.level if access == "fetch" else level,
                    tuple(dict.fromkeys(old.pte_gpas + pte_gpas)))
        root.flips[page] = root.flips.get(page, 0) + 1
        return None if root.flips[page] > MAX_FLIPS else (perms, level, pte_gpas)

    def _is_pt_page(self, gpa_page: int, pte_gpas) -> bool:
        """Is this page one of the guest's page tables (already, or by this very walk)?"""
        return self._pt_ref_counts[gpa_page] > 0 or any(p >> 12 == gpa_page for p in pte_gpas)

    def _fill(self, vcpu, root: Root, leaf: Leaf, gpa: int) -> None:
        if self._table_count[0] + 2 > self.max_tables:
            self._recycle(vcpu)
        old = root.tree.remove(leaf.gva_page)
        if old is not None:                  # a clean page's first store, or a re-fill
            self._forget(root, old)
            self._tlb_flush(root.tag, leaf.gva_page)
        try:
            root.tree.put(leaf)
        except OutOfFrames:                   # the host is short of frames: make room, once
            self._recycle(vcpu)
            root.tree.put(leaf)
        self._remember(root, leaf)
        upgrade = old is not None and leaf.perms & PTE_W and not old.perms & PTE_W
        name, code = ("dirty_upgrades", DIRTY) if upgrade else ("fills", FILL)
        self.counters[name] += 1
        self._record(vcpu, code, leaf.gva_page << 12, gpa >> 12)

    def _recycle(self, vcpu) -> None:
        """A guest that touches addresses all over its address space could make us build
        tables until the host runs out of frames.  At the bound, every tree is emptied
        (roots stay) and refills on demand: the guest runs slower, the host stays safe."""
        self.settle()
        dropped = sum(self._forget_tree(r, free=False) for r in self.roots.values())
        self.counters["recycles"] += 1
        self._record(vcpu, RECYCLE, 0, dropped)

    def _outside_ram(self, vcpu, access: str, gva: int, gpa: int) -> Fault:
        """Not guest RAM: a device register to emulate, or (fetching from a device, or
        anything else) an access fault -- the hardware's answer for "nothing there"."""
        if access != "fetch" and self.is_device(gpa):
            self.counters["mmio_faults"] += 1
            self._record(vcpu, MMIO, gva, gpa >> 12)
            return Fault("mmio", 0, gva, gpa, "device")
        return self._guest_fault(vcpu, _ACCESS_FAULT[access], gva,
                                 f"gpa {gpa:#x} is neither guest RAM nor a device")

    def _guest_fault(self, vcpu, cause: int, gva: int, reason: str) -> Fault:
        self.counters["guest_faults"] += 1
        self._record(vcpu, GUEST_FAULT, gva, cause)
        return Fault("guest", cause, gva, None, reason)

    def is_device(self, gpa: int) -> bool:
        """Is ``gpa`` in a device window (``vm.is_mmio`` decides if the VM defines one)?"""
        hook = getattr(self.vm, "is_mmio", None)
        if callable(hook):
            return bool(hook(gpa))
        return any(base <= gpa < base + size for base, size in self.device_ranges)

    # === guest memory, as the walk sees it =======================================================
    def guest_read64(self, gpa: int) -> int | None:
        """A guest PTE, or None outside guest RAM (the walk's access fault).  A page the
        guest never touched reads as zero without getting a frame."""
        mem = self.vm.mem
        if gpa & 7 or not mem.contains(gpa, 8):
            return None
        return mem.read64(gpa) if mem.holds_data(gpa) else 0     # (a swapped page comes back)

    def _set_ad(self, gpa: int, value: int) -> None:
        """The walk sets A (and D) in a guest PTE: the hardware's write, done by us."""
        self.counters["ad_updates"] += 1
        self.vm.mem.write64(gpa, value)

    # === coherence ============================================================================
    def _remember(self, root: Root, leaf: Leaf) -> None:
        """Index a new leaf by the guest PTEs it came from and the gpa page it maps."""
        ref = (root.key, leaf.gva_page)
        for pte_gpa in leaf.pte_gpas:
            self._dep_index.setdefault(pte_gpa, set()).add(ref)
            self._pt_ref_counts[pte_gpa >> 12] += 1
            if self._pt_ref_counts[pte_gpa >> 12] == 1 and self.write_protect:
                self._protect(pte_gpa >> 12)
        self._target_index.setdefault(leaf.gpa_page, set()).add(ref)
        if leaf.level:
            group = (leaf.level, leaf.gva_page >> (9 * leaf.level))
            members = root.super.setdefault(group, set())
            if leaf.gva_page not in members:
                members.add(leaf.gva_page)
                self._super_index(root, group, +1)

    def _forget(self, root: Root, leaf: Leaf) -> None:
        """Undo :meth:`_remember` (the leaf is gone from the tree already)."""
        ref = (root.key, leaf.gva_page)
        for pte_gpa in leaf.pte_gpas:
            deps = self._dep_index.get(pte_gpa)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self._dep_index[pte_gpa]
            self._pt_ref_counts[pte_gpa >> 12] -= 1
            if self._pt_ref_counts[pte_gpa >> 12] <= 0:
                del self._pt_ref_counts[pte_gpa >> 12]   # no longer a page table we depend on
        targets = self._target_index.get(leaf.gpa_page)
        if targets is not None:
            targets.discard(ref)
            if not targets:
                del self._target_index[leaf.gpa_page]
        if leaf.level:
            key = (leaf.level, leaf.gva_page >> (9 * leaf.level))
            group = root.super.get(key)
            if group is not None and leaf.gva_page in group:
                group.discard(leaf.gva_page)
                self._super_index(root, key, -1)

    def _protect(self, gpa_page: int) -> None:
        """A guest page just became a page-table page: take W away from every leaf mapping it."""
        self.counters["pages_protected"] += 1
        self._record(None, PROTECT, gpa_page << 12, 0)
        for key, gva_page in list(self._target_index.get(gpa_page, ())):
            root = self.roots[key]
            leaf = root.tree.leaves[gva_page]
            if leaf.perms & PTE_W:
                leaf.perms &= ~PTE_W
                root.tree.put(leaf)
                self._tlb_flush(root.tag, gva_page)

    def _drop(self, root: Root, gva_page: int) -> int:
        """Remove one shadow leaf (and its real TLB entries); 1 if there was one."""
        leaf = root.tree.remove(gva_page)
        if leaf is None:
            return 0
        self._forget(root, leaf)
        self._tlb_flush(root.tag, gva_page)
        self.counters["leaves_dropped"] += 1
        return 1

    def _forget_tree(self, root: Root, free: bool) -> int:
        """Empty a whole tree (``free``: give its frames back too); returns leaves dropped."""
        leaves = root.tree.free() if free else root.tree.clear()
        for leaf in leaves:
            self._forget(root, leaf)
        root.super.clear()
        self._super_index_clear(root)
        self._tlb_flush(root.tag, None)
        self.counters["leaves_dropped"] += len(leaves)
        return len(leaves)

    def after_pt_write(self, vcpu, gpa: int) -> None:
        """The core emulated a store into a guest page table at ``gpa``: every shadow leaf
        whose guest walk read that PTE may now be wrong, so it goes (and refills on demand)."""
        self.settle()
        self.counters["pt_writes"] += 1
        dropped = 0
        for pte_gpa in {gpa & ~7, (gpa + 7) & ~7} if gpa & 7 else {gpa}:
            for key, gva_page in list(self._dep_index.get(pte_gpa, ())):
                dropped += self._drop(self.roots[key], gva_page)
        self._record(vcpu, PT_WRITE, gpa, dropped)

    def invalidate_gpa(self, gpa: int) -> int:
        """The host changed what backs guest page ``gpa`` (swapped, ballooned, shared or
        moved it): drop every shadow leaf, in every tree, that points at the old frame.
        Returns how many went; they refill from the new gpa -> hpa map on demand."""
        self.settle()
        dropped = 0
        for key, gva_page in list(self._target_index.get(gpa >> 12, ())):
            dropped += self._drop(self.roots[key], gva_page)
        return dropped

    def sfence(self, vcpu, gva: int | None, asid: int | None) -> None:
        """The guest executed ``sfence.vma gva, asid`` (None for x0).

        With the sfence strategy this is where stale leaves go: those translating ``gva``
        (every 4 KiB piece of a guest superpage containing it), in trees of that guest ASID,
        or whole trees when ``gva`` is None.  Global guest mappings are dropped too -- more
        than the spec requires, which is always allowed.  With write-protect there is
        nothing stale to drop.
        """
        self.settle()
        self.counters["sfences"] += 1
        dropped = 0
        if not self.write_protect:
            self.counters["flushes"] += 1
            for root in list(self.roots.values()):
                if root.direct or (asid is not None and root.guest_asid != asid):
                    continue
                dropped += (self._forget_tree(root, free=False) if gva is None
                            else self._drop_covering(root, gva))
        self._record(vcpu, SFENCE, 0 if gva is None else gva, dropped)

    def _drop_covering(self, root: Root, gva: int) -> int:
        page = (gva & VA_BITS) >> 12
        dropped = self._drop(root, page)
        for level in (1, 2):
            for gva_page in list(root.super.get((level, page >> (9 * level)), ())):
                dropped += self._drop(root, gva_page)
        return dropped

    def reset(self) -> None:
        """Forget every tree and free its frames (VM reset); counters keep counting."""
        self.settle()
        n = len(self.roots)
        for root in self.roots.values():
            self._forget_tree(root, free=True)
        for root in self.roots.values():
            self._mirror_drop(root)
        self.roots.clear()
        self._current.clear()
        self._memo = None
        self._dep_index.clear()
        self._pt_ref_counts.clear()
        self._target_index.clear()
        self.counters["resets"] += 1
        self._record(None, RESET, 0, n)

    # === the real TLB and the trace ===========================================================
    def _tlb_flush(self, tag: int, gva_page: int | None) -> None:
        """Drop real TLB entries of one tree (one page, or all) on every hart."""
        machine = getattr(self.vm, "machine", None)
        if machine is None:
            return
        va = i64(0 if gva_page is None else sv39.canonical_va(gva_page << 12))
        for hart in range(machine.tlb.shape[0]):
            sfence_vma(machine.tlb, hart, va, i64(tag), gva_page is None, False)
        self.counters["tlb_flushes"] += 1

    def _record(self, vcpu, code: int, tval: int, arg: int) -> None:
        trace = getattr(self.vm, "trace", None)
        if trace is None:
            return
        pc = getattr(vcpu, "pc", 0)
        trace.record(SHADOW, time=self.vm.time(), vm=self.vm.id,
                     vcpu=-1 if vcpu is None else vcpu.id, cause=code,
                     pc=pc if isinstance(pc, int) else 0, insn=arg, tval=tval,
                     handler="shadow." + EVENT_NAMES[code])

    def trees(self) -> list[dict]:
        """One line per cached tree, least recently used first (for views and --stats)."""
        self.settle()
        on = {}
        for vcpu_id, key in self._current.items():
            on.setdefault(key, []).append(vcpu_id)
        return [{"kind": r.key[0], "guest_satp": r.guest_satp, "priv": r.priv, "sum": r.sum,
                 "mxr": r.mxr, "asid_tag": r.tag, "root_hpa": r.tree.root_hpa,
                 "leaves": len(r.tree.leaves), "tables": len(r.tree.tables),
                 "vcpus": on.get(key, [])} for key, r in self.roots.items()]

    def __repr__(self) -> str:
        c = self.counters
        return (f"<ShadowPaging {self.strategy}: {len(self.roots)} trees, {c['fills']} fills, "
                f"{c['flushes']} flushes, {c['wp_faults']} wp faults>")

