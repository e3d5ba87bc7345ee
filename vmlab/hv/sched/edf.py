"""RTDS: Xen's real-time deferrable server, i.e. earliest deadline first.

Each vCPU has a ``period`` and a ``budget`` (10 ms / 4 ms by default): in every period it
may run ``budget`` ns, and the period's end is its deadline.  The ready vCPU with budget
left and the earliest deadline runs; a vCPU whose budget is spent waits for the next period
even if a pCPU is idle (no extra time).  A vCPU still wanting to run at its deadline with
budget left has *missed* the deadline -- on one pCPU EDF never misses while the utilisation
sum(budget/period) is at most 1.
"""
from __future__ import annotations

from vmlab.hv.sched import events as E
from vmlab.hv.sched.policy import MS, READY, RUNNING, Decision, Policy, positive_ns


class EDF(Policy):
    name = "rtds"

    def __init__(self, period_ns: int = 10 * MS, budget_ns: int = 4 * MS):
        positive_ns(period_ns=period_ns, budget_ns=budget_ns)
        self.period_ns, self.budget_ns = period_ns, budget_ns
        self.tick_ns = period_ns

    def _d(self, v, now):
        """The vCPU's server, brought up to ``now`` (a new period each time one ends)."""
        d = v.data.get("edf")
        if d is None:
            d = v.data["edf"] = {"deadline": now + self.period(v), "left": self.budget(v),
                                 "misses": 0}
        while now >= d["deadline"]:
            if d["left"] > 0 and v.state in (READY, RUNNING):
                d["misses"] += 1
                self.host.record(d["deadline"], v, E.MISS, -1, f"{d['left']} ns left")
            d["deadline"] += self.period(v)
            d["left"] = self.budget(v)
        return d

    def period(self, v) -> int:
        return v.params.get("period", self.period_ns)

    def budget(self, v) -> int:
        return v.params.get("budget", self.budget_ns)

    def misses(self, v) -> int:
        return v.data.get("edf", {}).get("misses", 0)

    def charge(self, v, ns, now):
        self._d(v, now - ns)["left"] -= ns

    def _best(self, now, ready):
        cands = [v for v in ready if self._d(v, now)["left"] > 0]
        return min(cands, key=lambda v: (self._d(v, now)["deadline"], v.index), default=None)

    def pick(self, pcpu, now, ready):
        best = self._best(now, ready)
        if best is None:
            return None
        d = self._d(best, now)
        return Decision(best, d["left"], f"deadline {d['deadline'] / MS:.3f} ms")

    def preempt(self, pcpu, now, current, ready):
        mine = self._d(current, now)
        if mine["left"] <= 0:
            return True
        best = self._best(now, ready)
        return best is not None and (self._d(best, now)["deadline"], best.index) < (
            mine["deadline"], current.index)

    def next_event(self, pcpu, now):
        """Decide again at the next deadline: a budget comes back then."""
        ds = [self._d(v, now)["deadline"] for v in self.host.vcpus if "edf" in v.data]
        return min(ds, default=None)

    def wake(self, v, now):
        self._d(v, now)
