"""Xen's Credit scheduler (credit1), as its design describes it.

Every accounting period (30 ms) the pCPUs' time is handed out as *credit* (in ns) to the
runnable vCPUs, in proportion to their VM's **weight** (256 by default), and a **cap** (% of
one pCPU, 0 = none) limits what a VM may use in a period.  A vCPU burns credit as it runs.
Its priority follows: **UNDER** while it has credit left, **OVER** once it is spent, and
**BOOST** when it wakes from waiting with credit left -- so an I/O-bound vCPU runs at once
(until the next 10 ms tick).  Each pCPU has its own run queue (the vCPUs that last ran
there), served by priority then first-come; a pCPU with only OVER work (or none) *steals*
better work from the others' queues.  A vCPU runs a 30 ms slice, or until a vCPU of higher
priority is waiting.
"""
from __future__ import annotations

from vmlab.hv.sched.policy import MS, READY, RUNNING, Decision, Policy, positive_ns

BOOST, UNDER, OVER = 0, 1, 2
PRIORITY_NAMES = ("BOOST", "UNDER", "OVER")


class Credit(Policy):
    name = "credit"

    def __init__(self, slice_ns: int = 30 * MS, tick_ns: int = 10 * MS,
                 period_ns: int = 30 * MS, boost: bool = True):
        positive_ns(slice_ns=slice_ns, tick_ns=tick_ns, period_ns=period_ns)
        self.slice_ns, self.tick_ns, self.period_ns, self.boost = slice_ns, tick_ns, period_ns, boost
        self.arrivals = 0

    def attach(self, host):
        super().attach(host)
        self.used: dict[int, int] = {}           # VM id -> ns run in this period (for caps)
        self.next_period = host.now              # the first pick hands out credit

    # --- credit --------------------------------------------------------------------------
    def _account(self, now: int) -> None:
        """Hand out one period of every pCPU's time to the VMs by weight (capped), and
        each VM's share equally to its runnable vCPUs."""
        active = [v for v in self.host.vcpus if v.state in (READY, RUNNING)]
        vms: dict[int, list] = {}
        for v in active:
            vms.setdefault(v.vm, []).append(v)
        shares = self._shares(vms, self.period_ns * len(self.host.pcpus))
        for vm, vs in vms.items():
            for v in vs:
                d = self._d(v)
                d["credit"] = min(d["credit"] + shares[vm] // len(vs), self.period_ns)
                d["pri"] = UNDER if d["credit"] > 0 else OVER
        self.used.clear()
        self.next_period = now + self.period_ns

    def _shares(self, vms: dict, total: int) -> dict:
        """``total`` ns split by weight; a capped VM gets no more than its cap, and what it
        cannot take goes to the others (by weight again)."""
        shares, open_ = {}, dict(vms)
        while open_:
            weights = sum(vs[0].weight for vs in open_.values())
            fair = {vm: total * vs[0].weight // weights for vm, vs in open_.items()}
            capped = {vm for vm, vs in open_.items()
                      if vs[0].cap and fair[vm] > self.period_ns * vs[0].cap // 100}
            if not capped:
                shares.update(fair)
                break
            for vm in sorted(capped):
                shares[vm] = self.period_ns * open_.pop(vm)[0].cap // 100
                total -= shares[vm]
        return shares

    def _d(self, v) -> dict:
        return v.data.setdefault("credit", {"credit": 0, "pri": UNDER, "queued": 0})

    def _cap_left(self, v) -> int | None:
        """ns the vCPU's VM may still run in this period (None: no cap)."""
        if not v.cap:
            return None
        return self.period_ns * v.cap // 100 - self.used.get(v.vm, 0)

    def _queue(self, v) -> None:
        self.arrivals += 1
        self._d(v)["queued"] = self.arrivals

    # --- the interface -------------------------------------------------------------------
    def charge(self, v, ns, now):
        d = self._d(v)
        d["credit"] -= ns
        self.used[v.vm] = self.used.get(v.vm, 0) + ns
        if d["credit"] <= 0:
            d["pri"] = OVER
        self._queue(v)                            # back of its priority class

    def wake(self, v, now):
        d = self._d(v)
        if self.boost and d["credit"] > 0:
            d["pri"] = BOOST
        self._queue(v)

    def yield_(self, v, now):
        self._queue(v)

    def tick(self, pcpu, now):
        cur = self.host.running(pcpu)
        if cur is not None and self._d(cur)["pri"] == BOOST:
            self._d(cur)["pri"] = UNDER           # a boost lasts until the next tick
        self._maybe_account(now)

    def _maybe_account(self, now):
        if now >= self.next_period:
            self._account(now)

    def _key(self, v, pcpu):
        d = self._d(v)
        return (d["pri"], v.last_pcpu not in (pcpu, -1), d["queued"], v.index)

    def _eligible(self, ready):
        return [v for v in ready if self._cap_left(v) is None or self._cap_left(v) > 0]

    def pick(self, pcpu, now, ready):
        self._maybe_account(now)
        cands = self._eligible(ready)
        if not cands:
            return None
        best = min(cands, key=lambda v: self._key(v, pcpu))
        d = self._d(best)
        stolen = best.last_pcpu not in (pcpu, -1)
        slice_ns = self.slice_ns
        if self._cap_left(best) is not None:
            slice_ns = min(slice_ns, self._cap_left(best))
        why = f"{PRIORITY_NAMES[d['pri']]} credit {d['credit'] / MS:.2f} ms" + (
            f", stolen from pCPU {best.last_pcpu}" if stolen else "")
        return Decision(best, slice_ns, why)

    def preempt(self, pcpu, now, current, ready):
        left = self._cap_left(current)
        if left is not None and left <= 0:
            return True
        mine = self._d(current)["pri"]
        return any(self._d(v)["pri"] < mine for v in self._eligible(ready))

    def next_event(self, pcpu, now):
        return self.next_period

    def priority(self, v) -> str:
        """BOOST, UNDER or OVER (for tables and the timeline)."""
        return PRIORITY_NAMES[self._d(v)["pri"]]
