"""The shadow fill as a replaceable function: what a student's fill handler is handed.

The hypervisor's own fill (:meth:`vmlab.hv.shadow.ShadowPaging.handle_fault`) walks the
guest's tables with the reference walker.  A VM may instead fill through a function of
its own, installed with :meth:`~vmlab.hv.shadow.ShadowPaging.set_fill`::

    def my_fill(req):                      # one guest page fault in a shadow tree
        pte = req.read_guest64(gpa_of_the_root_pte) ...   # walk the guest's tables
        req.write_guest64(leaf_gpa, leaf | PTE_A)          # set A (and D) as hardware would
        hpa = req.hpa_of(gpa)                              # compose with gpa -> hpa
        req.write_shadow(make_pte(hpa, flags))             # the shadow leaf
        # ... or, when the guest's own tables say no: req.guest_fault(cause)

    vm.shadow.set_fill(my_fill)

Everything else stays the hypervisor's: device windows (``hpa_of`` on a gpa that is not
guest RAM hands the fault back to the hypervisor, which emulates the device or reflects an
access fault), write-protected page tables, shared frames, the bookkeeping that keeps the
shadow coherent.  The request checks what the function does, so a wrong fill handler gives
a wrong guest, never a broken host: it may only set A/D in PTEs it read, and a shadow PTE
may only name a frame ``hpa_of`` gave it for this fault.  Anything else is a
:class:`FillError`, one line that names the function.
"""
from __future__ import annotations

from vmlab import sv39
from vmlab.sv39 import PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

#: causes a fill function may report as the guest's own fault (page and access faults)
GUEST_CAUSES = (sv39.FETCH_PAGE_FAULT, sv39.LOAD_PAGE_FAULT, sv39.STORE_PAGE_FAULT,
                sv39.FETCH_ACCESS_FAULT, sv39.LOAD_ACCESS_FAULT, sv39.STORE_ACCESS_FAULT)
_NEEDS = {"fetch": PTE_X, "load": PTE_R, "store": PTE_W}
MASK64 = (1 << 64) - 1


class FillError(Exception):
    """A fill function did something the hypervisor cannot accept (the message names it)."""


class NotGuestRam(Exception):
    """``hpa_of`` was asked for a gpa outside guest RAM: the hypervisor takes over."""

    def __init__(self, gpa: int):
        super().__init__(f"gpa {gpa:#x} is not guest RAM")
        self.gpa = gpa


def fill_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


class FillRequest:
    """One fault to fill: the context (``gva``, ``access``, ``satp``, ``priv``, ``sum``,
    ``mxr`` -- the guest's satp and the tree's virtual privilege and sstatus bits) and the
    five things a fill handler may do."""

    def __init__(self, shadow, gva: int, access: str, satp: int, priv: str, sum: bool,
                 mxr: bool, name: str):
        self._shadow, self.gva, self.access = shadow, gva, access
        self.satp, self.priv, self.sum, self.mxr, self.name = satp, priv, sum, mxr, name
        self.reads: list[int] = []          #: guest PTE gpas read, root first
        self.composed: dict[int, int] = {}  #: hpa page -> gpa page, from hpa_of
        self.shadow_pte: int | None = None
        self.fault: int | None = None

    def _error(self, what: str) -> FillError:
        return FillError(f"{self.name}: {what}")

    def read_guest64(self, gpa: int) -> int | None:
        """The 8-byte guest word at ``gpa`` (a PTE), or None outside guest RAM."""
        gpa = _unsigned(gpa, "read_guest64's gpa", self)
        value = self._shadow.guest_read64(gpa)
        if value is not None:
            self.reads.append(gpa)
        return value

    def write_guest64(self, gpa: int, value: int) -> None:
        """Write back a PTE read in this fill with A and/or D set (nothing else may change)."""
        gpa, value = _unsigned(gpa, "gpa", self), _unsigned(value, "value", self)
        if gpa not in self.reads:
            raise self._error(f"write_guest64 at {gpa:#x}: only a PTE this fill read may be written")
        old = self._shadow.guest_read64(gpa)
        if (old ^ value) & ~(PTE_A | PTE_D) or (old & ~value):
            raise self._error(f"write_guest64 at {gpa:#x}: only A and D may be set in a guest PTE")
        if value != old:
            self._shadow._set_ad(gpa, value)

    def hpa_of(self, gpa: int) -> int:
        """The host address backing guest-physical ``gpa`` (the VM's gpa -> hpa map).  For a
        gpa that is not guest RAM the hypervisor takes over (a device to emulate, or an
        access fault for the guest) and the fill function does not continue."""
        gpa = _unsigned(gpa, "hpa_of's gpa", self)
        mem = self._shadow.vm.mem
        if not mem.contains(gpa):
            raise NotGuestRam(gpa)
        hpa, _ = mem.backing(gpa & ~0xFFF, write=self.access == "store")
        self.composed[hpa >> 12] = gpa >> 12
        return hpa | (gpa & 0xFFF)

    def write_shadow(self, pte: int) -> None:
        """The shadow leaf for ``gva``'s 4 KiB page (checked when the function returns)."""
        self.shadow_pte = _unsigned(pte, "the shadow PTE", self)

    def guest_fault(self, cause: int) -> None:
        """The guest's own tables forbid this access: reflect ``cause`` into the guest."""
        if cause not in GUEST_CAUSES:
            raise self._error(f"guest_fault({cause!r}): not a page- or access-fault cause")
        self.fault = cause

    # --- what the hypervisor checks when the function returns -----------------------------
    def leaf(self) -> tuple[int, int, int, tuple]:
        """(gpa, perms, guest level, guest PTE gpas) of the shadow PTE written, checked."""
        pte = self.shadow_pte
        problem = _pte_problem(pte, self.access)
        if problem:
            raise self._error(f"the shadow PTE {pte:#x} for a {self.access} at {self.gva:#x} {problem}")
        gpa_page = self.composed.get(sv39.pte_ppn(pte))
        if gpa_page is None:
            raise self._error(f"the shadow PTE {pte:#x} names a frame hpa_of did not give in this fill")
        level = min(2, max(0, sv39.LEVELS - len(self.reads)))
        return gpa_page << 12 | self.gva & 0xFFF, pte & (PTE_R | PTE_W | PTE_X), level, tuple(self.reads)


def _pte_problem(pte: int, access: str) -> str:
    """Why a shadow leaf cannot be installed for this access, or ""."""
    if not pte & PTE_V:
        return "has V clear"
    if not pte & PTE_U or pte & PTE_G:
        return "must have U set and G clear (the guest runs in real U-mode, one tree per ASID)"
    if pte >> 54:
        return "has reserved bits 63..54 set"
    if pte & PTE_W and not pte & PTE_R:
        return "has W without R (a reserved combination)"
    if not pte & _NEEDS[access]:
        return "does not allow it: the guest would fault here again, forever"
    return ""


def _unsigned(value, what: str, req: FillRequest) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise req._error(f"{what} must be an int, not {type(value).__name__}")
    return value & MASK64
