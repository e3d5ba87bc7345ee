"""Round robin: one queue in the order vCPUs became ready; each runs one fixed slice."""
from __future__ import annotations

from vmlab.hv.sched.policy import MS, Decision, Policy, positive_ns


class RoundRobin(Policy):
    name = "round-robin"

    def __init__(self, slice_ns: int = 10 * MS):
        positive_ns(slice_ns=slice_ns)
        self.slice_ns = slice_ns
        self.tick_ns = slice_ns
        self.arrivals = 0

    def wake(self, vcpu, now):
        self._enqueue(vcpu)

    def yield_(self, vcpu, now):
        self._enqueue(vcpu)

    def charge(self, vcpu, ns, now):
        self._enqueue(vcpu)          # a vCPU that ran goes to the back of the queue

    def _enqueue(self, vcpu):
        self.arrivals += 1
        vcpu.data["rr"] = self.arrivals

    def pick(self, pcpu, now, ready):
        if not ready:
            return None
        first = min(ready, key=lambda v: (v.data.get("rr", 0), v.index))
        return Decision(first, self.slice_ns, "next in the queue")
