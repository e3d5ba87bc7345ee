"""Fair share, in the manner of Xen's Credit2 (and Linux's CFS): virtual run time.

Each vCPU's *virtual* run time grows as it runs, slower the larger its weight
(``ns * 256 / weight``); the ready vCPU that is furthest behind runs next.  Its slice is how
long it takes to get ``granularity`` ahead of the next one (at least ``min_slice``, at most
``max_slice``), so switches stay rare while shares stay close to the weights.  A vCPU
waking from a long sleep starts no further behind than one ``max_slice``: sleeping earns no
hoard of CPU time to spend later.
"""
from __future__ import annotations

from vmlab.hv.sched.policy import MS, READY, RUNNING, Decision, Policy, positive_ns

UNIT = 256


class FairShare(Policy):
    name = "fair"

    def __init__(self, min_slice_ns: int = 1 * MS, max_slice_ns: int = 10 * MS,
                 granularity_ns: int = 2 * MS):
        positive_ns(min_slice_ns=min_slice_ns, max_slice_ns=max_slice_ns,
                    granularity_ns=granularity_ns)
        self.min_slice, self.max_slice, self.gran = min_slice_ns, max_slice_ns, granularity_ns
        self.tick_ns = max_slice_ns

    def vruntime(self, v) -> int:
        return v.data.setdefault("vruntime", 0)

    def charge(self, v, ns, now):
        v.data["vruntime"] = self.vruntime(v) + ns * UNIT // max(1, v.weight)

    def wake(self, v, now):
        others = [self.vruntime(o) for o in self.host.vcpus
                  if o is not v and o.state in (READY, RUNNING)]
        if others:
            v.data["vruntime"] = max(self.vruntime(v), min(others) - self.max_slice)

    def pick(self, pcpu, now, ready):
        if not ready:
            return None
        order = sorted(ready, key=lambda v: (self.vruntime(v), v.index))
        best = order[0]
        ahead = self.gran
        if len(order) > 1:
            ahead += self.vruntime(order[1]) - self.vruntime(best)
        slice_ns = min(self.max_slice, max(self.min_slice, ahead * best.weight // UNIT))
        return Decision(best, slice_ns, f"vruntime {self.vruntime(best) / MS:.2f} ms")

    def preempt(self, pcpu, now, current, ready):
        mine = self.vruntime(current)
        return any(self.vruntime(v) + self.gran < mine for v in ready)
