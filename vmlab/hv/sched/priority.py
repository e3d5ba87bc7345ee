"""Fixed priorities: the ready vCPU with the highest ``priority`` parameter runs (round
robin among equals); a higher-priority vCPU that wakes takes the pCPU at once.  Simple,
and it shows starvation: a busy high-priority vCPU leaves nothing for the others."""
from __future__ import annotations

from vmlab.hv.sched.policy import MS, Decision, Policy, positive_ns


class Priority(Policy):
    name = "priority"

    def __init__(self, slice_ns: int = 10 * MS):
        positive_ns(slice_ns=slice_ns)
        self.slice_ns = self.tick_ns = slice_ns
        self.arrivals = 0

    @staticmethod
    def level(v) -> int:
        return v.params.get("priority", 0)

    def _queue(self, v):
        self.arrivals += 1
        v.data["queued"] = self.arrivals

    def charge(self, v, ns, now):
        self._queue(v)               # a vCPU that ran goes behind its equals

    def wake(self, v, now):
        self._queue(v)

    def yield_(self, v, now):
        self._queue(v)

    def pick(self, pcpu, now, ready):
        if not ready:
            return None
        best = min(ready, key=lambda v: (-self.level(v), v.data.get("queued", 0), v.index))
        return Decision(best, self.slice_ns, f"priority {self.level(best)}")

    def preempt(self, pcpu, now, current, ready):
        return any(self.level(v) > self.level(current) for v in ready)
