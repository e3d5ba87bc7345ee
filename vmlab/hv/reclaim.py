"""Reclaim policy: who gives memory back, how, and how much -- ESX's answers, and yours.

**States by free memory** (Waldspurger 2002, §6).  The host looks at the fraction of its
frame pool that is free and is in one of four states; each has a way of reclaiming::

    state   entered when free drops below   reclaims by
    high    (start; back above 6%)          nothing
    soft    4%                              ballooning (swap only for VMs without a balloon)
    hard    2%                              host swap
    low     1%                              host swap, and VMs above their target wait

A state is left upwards only when free memory is back above the *next higher* threshold
(hard -> soft at 4%, soft -> high at 6%): the gap keeps the host from flapping between
states.

**Targets: shares with an idle memory tax** (§5).  Each VM has ``shares`` (its weight),
``min`` and ``max`` pages.  Memory is taken first from the VM with the fewest shares per
page it holds, where idle pages count ``k = 1 / (1 - tau)`` times (tau = 0.75: an idle page
costs four active ones)::

    rho = shares / (pages * (f + k * (1 - f)))        f = the VM's active fraction

so a VM that hoards pages it does not touch loses them first, and ``tau = 0`` is plain
proportional share.  ``f`` is *sampled*: every period a few random resident pages lose
their ACCESSED bit (and their shadow mappings); next period, the fraction found accessed
again estimates f, smoothed as ESX does (the larger of a slow and a fast moving average
and the latest sample, so a VM that wakes up is believed at once).

**A coordinator of your own.**  :class:`MemoryCoordinator` is the interface: every period
it gets each VM's numbers (:class:`VmView`) and the host's, and returns balloon targets.
:class:`EsxPolicy` is one; a student's class is just another.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmlab.hv.memory import ACCESSED, BALLOONED, NO_FRAME, SWAPPED

STATES = ("high", "soft", "hard", "low")
THRESHOLDS = {"high": 0.06, "soft": 0.04, "hard": 0.02, "low": 0.01}
TAU = 0.75
SAMPLE = 100                  # pages sampled per VM per period


def next_state(state: str, free_fraction: float) -> str:
    """The reclaim state after ``state`` with ``free_fraction`` of the pool free."""
    i = STATES.index(state)
    while i < 3 and free_fraction < THRESHOLDS[STATES[i + 1]]:
        i += 1                                  # down: below the next state's threshold
    while i > 0 and free_fraction >= THRESHOLDS[STATES[i - 1]]:
        i -= 1                                  # up: above the higher state's own threshold
    return STATES[i]


@dataclass
class VmView:
    """What a coordinator sees of one VM (pages are 4 KiB)."""

    vm_id: int
    pages: int                    #: guest RAM
    resident: int                 #: pages backed by a host frame now
    swapped: int
    ballooned: int                #: pages the host got back through the balloon
    balloon_target: int | None    #: None: the VM has no balloon
    balloon_actual: int
    active: float                 #: sampled active fraction
    shares: int = 1000
    min_pages: int = 0
    max_pages: int | None = None
    guest: dict = field(default_factory=dict)   #: the guest's own balloon statistics


def shares_per_page(v: VmView, tau: float = TAU) -> float:
    """ESX's rho: shares per page held, idle pages taxed at k = 1 / (1 - tau)."""
    k = 1.0 / (1.0 - tau)
    held = max(v.resident, 1)
    return v.shares / (held * (v.active + k * (1.0 - v.active)))


class MemoryCoordinator:
    """Interface: called every period; returns {vm id: balloon target in pages}.  VMs left
    out keep their target.  ``host`` has ``pool``, ``free``, ``state``."""

    def targets(self, vms: list[VmView], host: dict) -> dict[int, int]:
        raise NotImplementedError


class EsxPolicy(MemoryCoordinator):
    """Reclaim from the VM with the lowest taxed shares per page until the host is back
    above the high threshold; never below a VM's min, never more than it holds."""

    def __init__(self, tau: float = TAU, step: int = 64):
        self.tau, self.step = tau, step

    def targets(self, vms, host):
        if host["state"] == "high" or not vms:
            return {v.vm_id: 0 for v in vms if v.balloon_target}   # give everything back
        want = int(THRESHOLDS["high"] * host["pool"]) - host["free"]
        held = {v.vm_id: v.resident for v in vms}
        take = {v.vm_id: 0 for v in vms}
        for v in vms:                           # above its max: that comes back first
            over = 0 if v.max_pages is None else max(v.resident - v.max_pages, 0)
            held[v.vm_id] -= over
            take[v.vm_id] += over
            want -= over
        for _ in range(max(want, 0) // self.step + 1):
            views = [v for v in vms if held[v.vm_id] - self.step >= v.min_pages]
            if not views or want <= 0:
                break
            poorest = min(views, key=lambda v: (shares_per_page(
                _with(v, held[v.vm_id]), self.tau), v.vm_id))
            held[poorest.vm_id] -= self.step
            take[poorest.vm_id] += self.step
            want -= self.step
        return {v.vm_id: (v.balloon_actual + take[v.vm_id]) for v in vms if take[v.vm_id]}


def _with(v: VmView, resident: int) -> VmView:
    return VmView(**{**v.__dict__, "resident": resident})


class ActiveSampler:
    """Sampled active fraction per VM (ESX §5.2), deterministic with its seed."""

    def __init__(self, seed: int = 0, sample: int = SAMPLE):
        self.rng = np.random.default_rng(seed)
        self.sample = sample
        self.marked: dict[int, np.ndarray] = {}
        self.slow: dict[int, float] = {}
        self.fast: dict[int, float] = {}
        self.latest: dict[int, float] = {}

    def period(self, mems: dict) -> None:
        """Read last period's sample, then mark a new one."""
        for vm_id, mem in sorted(mems.items()):
            marked = self.marked.get(vm_id)
            if marked is not None and len(marked):
                entries = mem.page_map[marked]
                used = int(np.count_nonzero((entries & ACCESSED != 0) & (entries != NO_FRAME)))
                f = used / len(marked)
                self.latest[vm_id] = f
                self.slow[vm_id] = 0.9 * self.slow.get(vm_id, f) + 0.1 * f
                self.fast[vm_id] = 0.5 * self.fast.get(vm_id, f) + 0.5 * f
            self.marked[vm_id] = self._mark(mem)

    def _mark(self, mem) -> np.ndarray:
        resident = np.flatnonzero(mem.page_map != NO_FRAME)
        if not len(resident):
            return resident
        pick = self.rng.choice(resident, size=min(self.sample, len(resident)), replace=False)
        for page in pick:
            mem.clear_accessed(int(page))
        return pick

    def active(self, vm_id: int) -> float:
        """max(slow, fast, latest): an idle VM is believed slowly, a busy one at once."""
        if vm_id not in self.latest:
            return 1.0                      # not sampled yet: assume it uses everything
        return max(self.slow[vm_id], self.fast[vm_id], self.latest[vm_id])


def view(mem, vm_id: int, balloon, active: float, limits: dict) -> VmView:
    """The coordinator's view of one VM."""
    return VmView(vm_id=vm_id, pages=len(mem.page_map), resident=mem.resident_pages,
                  swapped=mem.count(SWAPPED), ballooned=mem.count(BALLOONED),
                  balloon_target=None if balloon is None else balloon.target,
                  balloon_actual=0 if balloon is None else balloon.actual, active=active,
                  guest={} if balloon is None else balloon.stats, **limits)


class FunctionCoordinator(MemoryCoordinator):
    """A plain function ``targets(vms, host)`` over dicts -- as lab 05's exercise writes
    it -- used as a coordinator."""

    def __init__(self, fn):
        self.fn = fn

    def targets(self, vms, host):
        got = self.fn([dict(v.__dict__) for v in vms], dict(host))
        return {int(k): int(v) for k, v in (got or {}).items()}
