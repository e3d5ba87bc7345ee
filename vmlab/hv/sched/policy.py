"""The scheduler interface: what a vCPU scheduling policy is asked, and what it may read.

A policy answers one question -- *which vCPU runs next on this pCPU, and for how long?* --
and is told about the events that change the answer.  The host (vmlab.hv.sched.host) owns
time, the pCPUs and the vCPUs; a policy sees each vCPU only through a :class:`VCpuView`
(read-only, apart from ``data``, a dict the policy may keep its own bookkeeping in)::

    class Lottery(Policy):
        name = "lottery"
        def pick(self, pcpu, now, ready):
            ...                      # ready: the views that may run on pcpu at now
            return Decision(choice, slice_ns=10 * MS, why="won the draw")

Every call gets ``now``, the simulated time in ns on the pCPU concerned.  All the hooks but
``pick`` have do-nothing defaults, so the smallest policy is one method.
"""
from __future__ import annotations

from dataclasses import dataclass

MS = 1_000_000           # ns
US = 1_000

READY, RUNNING, BLOCKED, OFFLINE = "ready", "running", "blocked", "offline"


def positive_ns(**values) -> None:
    """A policy's time parameters must be whole, positive ns: say which one is not."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive number of ns, not {value!r}")


@dataclass
class Decision:
    """``vcpu`` runs for at most ``slice_ns`` (``why`` goes into the trace and the timeline)."""

    vcpu: "VCpuView"
    slice_ns: int
    why: str = ""


class VCpuView:
    """What a policy may read about one vCPU.  The host writes the underscored fields."""

    def __init__(self, vcpu, index: int):
        self._vcpu = vcpu
        self.index = index               # position in the host's list: a stable tie-breaker
        self._state = OFFLINE
        self._runtime = 0                # ns run so far
        self._last_pcpu = -1
        self._free_at = 0                # when its last run ended (no pCPU may start it earlier)
        self.params: dict = {"weight": 256, "cap": 0, "affinity": None}
        self.data: dict = {}             # the policy's own bookkeeping
        # metrics (vmlab.hv.sched.metrics reads them)
        self._since = 0                  # when the state last changed
        self._woke_at = None             # when it last woke, until it runs
        self._ready_ns = self._costop_ns = self._switches = 0
        self._wakes = self._wake_lat_sum = self._wake_lat_max = 0

    vm = property(lambda self: self._vcpu.vm.id, doc="the VM's id")
    id = property(lambda self: self._vcpu.id, doc="the vCPU's index in its VM")
    state = property(lambda self: self._state, doc="ready, running, blocked or offline")
    runtime = property(lambda self: self._runtime, doc="simulated ns it has run")
    last_pcpu = property(lambda self: self._last_pcpu, doc="the pCPU it ran on last (-1: none)")
    weight = property(lambda self: self.params["weight"], doc="share weight (256 = normal)")
    cap = property(lambda self: self.params["cap"], doc="% of one pCPU at most (0: no cap)")

    @property
    def affinity(self) -> frozenset | None:
        """The pCPUs it may run on (None: any)."""
        return self.params["affinity"]

    def allowed(self, pcpu: int) -> bool:
        aff = self.params["affinity"]
        return aff is None or pcpu in aff

    @property
    def name(self) -> str:
        return f"vm{self.vm}.{self.id}"

    def __repr__(self) -> str:
        return f"<vCPU {self.name} {self.state} ran {self.runtime / MS:.3f} ms>"


class Policy:
    """The base every policy extends; ``pick`` is the one method that must be written."""

    name = "policy"
    tick_ns = 10 * MS                    # how often tick() is called on each pCPU

    def attach(self, host) -> None:
        """Called once when the host starts using this policy (``host.vcpus``: the views)."""
        self.host = host

    def pick(self, pcpu: int, now: int, ready: list) -> Decision | None:
        """Choose among ``ready`` (views allowed on ``pcpu``, free at ``now``), or idle."""
        raise NotImplementedError

    def charge(self, vcpu, ns: int, now: int) -> None:
        """``vcpu`` just ran ``ns`` on a pCPU (called after every stretch it runs)."""

    def tick(self, pcpu: int, now: int) -> None:
        """The periodic tick of ``pcpu`` (every ``tick_ns``)."""

    def preempt(self, pcpu: int, now: int, current, ready: list) -> bool:
        """Should ``current`` leave ``pcpu`` now, before its slice ends?"""
        return False

    def wake(self, vcpu, now: int) -> None:
        """``vcpu`` became runnable (an interrupt for a vCPU waiting in wfi, or started)."""

    def block(self, vcpu, now: int) -> None:
        """``vcpu`` waits in wfi (or was stopped) and leaves its pCPU."""

    def yield_(self, vcpu, now: int) -> None:
        """``vcpu`` gave its pCPU away (the paravirtual yield)."""

    def next_event(self, pcpu: int, now: int) -> int | None:
        """The next time this policy wants to decide again on ``pcpu`` (None: no wish)."""
        return None
