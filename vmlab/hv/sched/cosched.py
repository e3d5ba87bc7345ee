"""Co-scheduling for SMP VMs, after VMware ESX: strict and relaxed.

A guest kernel assumes its vCPUs run together: one spinning on a lock another holds, or
waiting for an IPI's answer, wastes its time if the sibling is not running.  The *skew* of a
VM is how far its vCPUs' progress (run time) has drifted apart.

- **strict** (gang scheduling): time is cut into slots of ``slice_ns``; in each slot whole
  VMs are given pCPUs, in turn, all of a VM's vCPUs at once (*co-start*) or none.  A VM's
  vCPU that waits leaves its pCPU idle.  The skew stays near zero, at the price of idle time.
- **relaxed**: vCPUs are scheduled on their own (round robin), but one that gets more than
  ``skew_limit_ns`` ahead of its slowest runnable sibling is *co-stopped* until that sibling
  has caught up to half the limit.  The skew may grow, up to the limit.
"""
from __future__ import annotations

from vmlab.hv.sched.policy import MS, READY, RUNNING, Decision, Policy, positive_ns


class CoSchedule(Policy):
    def __init__(self, mode: str = "strict", slice_ns: int = 10 * MS,
                 skew_limit_ns: int = 3 * MS):
        if mode not in ("strict", "relaxed"):
            raise ValueError(f"co-scheduling mode is 'strict' or 'relaxed', not {mode!r}")
        positive_ns(slice_ns=slice_ns, skew_limit_ns=skew_limit_ns)
        self.mode, self.slice_ns, self.skew_limit = mode, slice_ns, skew_limit_ns
        self.tick_ns = slice_ns
        self.name = f"co-{mode}"
        self.slots: dict[int, dict] = {}           # slot number -> {pcpu: view}
        self.turn = self.arrivals = 0

    # --- strict: gangs per slot ---------------------------------------------------------
    def _gangs(self, slot: int) -> dict:
        """Place whole VMs on the pCPUs for this slot, starting with the next in turn."""
        if slot not in self.slots:               # (pCPUs lag each other by < one window)
            self.slots = {s: g for s, g in self.slots.items() if s >= slot - 1}
            self.slots[slot] = self._place()
        return self.slots[slot]

    def _place(self) -> dict:
        vms = sorted({v.vm for v in self.host.vcpus})
        free, placed = set(range(len(self.host.pcpus))), {}
        for k in range(len(vms)):
            vm = vms[(self.turn + k) % len(vms)]
            gang = [v for v in self.host.vcpus if v.vm == vm and v.state in (READY, RUNNING)]
            spots = self._fit(gang, free)
            if gang and spots is not None:
                placed.update(spots)
                free -= set(spots)
        self.turn += 1
        return placed

    @staticmethod
    def _fit(gang, free):
        """pCPUs for every vCPU of the gang (respecting affinity), or None."""
        spots, left = {}, set(free)
        for v in gang:
            p = min((p for p in left if v.allowed(p)), default=None)
            if p is None:
                return None
            spots[p] = v
            left.discard(p)
        return spots

    def _pick_strict(self, pcpu, now, ready):
        slot = now // self.slice_ns
        v = self._gangs(slot).get(pcpu)
        if v is None or v not in ready:
            return None
        return Decision(v, (slot + 1) * self.slice_ns - now, f"gang of VM {v.vm}, slot {slot}")

    # --- relaxed: co-stop the leader --------------------------------------------------------
    def _leads_by(self, v) -> int:
        sibs = [o.runtime for o in self.host.vcpus
                if o.vm == v.vm and o is not v and o.state in (READY, RUNNING)]
        return v.runtime - min(sibs) if sibs else 0

    def _costopped(self, v, now) -> bool:
        stopped = "costop_since" in v.data
        lead = self._leads_by(v)
        if not stopped and lead > self.skew_limit:
            self.host.costop(v, now, True)
            return True
        if stopped and lead <= self.skew_limit // 2:
            self.host.costop(v, now, False)
            return False
        return stopped

    def _pick_relaxed(self, pcpu, now, ready):
        cands = [v for v in ready if not self._costopped(v, now)]
        if not cands:
            return None
        best = min(cands, key=lambda v: (v.data.get("queued", 0), v.index))
        return Decision(best, self.slice_ns, "round robin")

    # --- the interface -------------------------------------------------------------------
    def pick(self, pcpu, now, ready):
        if self.mode == "strict":
            return self._pick_strict(pcpu, now, ready)
        return self._pick_relaxed(pcpu, now, ready)

    def preempt(self, pcpu, now, current, ready):
        return self.mode == "relaxed" and self._costopped(current, now)

    def next_event(self, pcpu, now):
        return (now // self.slice_ns + 1) * self.slice_ns if self.mode == "strict" else None

    def charge(self, v, ns, now):
        self._queue(v)

    def wake(self, v, now):
        self._queue(v)

    def yield_(self, v, now):
        self._queue(v)

    def _queue(self, v):
        self.arrivals += 1
        v.data["queued"] = self.arrivals
