"""The host's memory manager: overcommit, swap, page sharing -- and the loop that runs VMs.

A :class:`HostMemory` takes over a hypervisor's frame pool.  The pool may be smaller than
the VMs' RAM put together (*overcommit*): guest pages get frames on first touch, and when
the pool runs down to its reserve the clock pager (:mod:`vmlab.hv.swap`) writes pages to
the hypervisor's swap file.  With ``sharing="ksm"`` or ``"esx"`` a scanner
(:mod:`vmlab.hv.sharing`) merges identical pages copy-on-write, at KSM's pace: wake every
``sleep_millisecs`` of *simulated* time, scan ``pages_to_scan`` pages::

    hv = Hypervisor(Machine(ram_size=4 << 20))          # the host: 1024 frames
    mm = HostMemory(hv, sharing="ksm")
    vms = [mm.create_vm(ram_size=4 << 20) for _ in range(2)]   # 2048 guest pages
    ...boot them...
    mm.run(instructions=10_000_000)                       # round robin, scanner, reclaim
    mm.stats()                                            # per VM: resident, swapped, ...

Everything happens between guest runs, in a fixed order, so runs are deterministic.
"""
from __future__ import annotations

from vmlab.hv.memory import BALLOONED, FrameAllocator, SWAPPED
from vmlab.hv.reclaim import THRESHOLDS, ActiveSampler, EsxPolicy, next_state, view
from vmlab.hv.sharing import PageSharing
from vmlab.hv.swap import SWAP_IN_NS, ClockPager, SwapFile

QUANTUM = 100_000          # guest instructions per VM turn in :meth:`HostMemory.run`


class HostMemory:
    """The frame pool of hypervisor ``hv`` and everything that reclaims from it."""

    def __init__(self, hv, swap_path=None, sharing: str | None = None,
                 pages_to_scan: int = 100, sleep_millisecs: int = 20, reserve: int = 16):
        self.hv = hv
        self.frames: FrameAllocator = hv.frames
        self.frames.reserve = reserve
        self.mems: dict = {}
        self.vms: dict = {}
        self.swap = SwapFile(swap_path)
        self.pager = ClockPager(self.frames, self.mems, self.swap)
        self.frames.reclaimer = self.pager.reclaim
        self.sharing = None if sharing is None else PageSharing(
            self.frames, self.mems, mode=sharing, pages_to_scan=pages_to_scan,
            sleep_millisecs=sleep_millisecs)
        self.ticks = 0
        self.policy = None
        self.state = "high"                   # the reclaim state (vmlab.hv.reclaim)
        self.limits: dict = {}
        self.blocked: set = set()
        self.history: list[dict] = []         # one row of numbers per policy period
        self.host = None                      # a scheduling Host, after schedule_with
        for vm in hv.vms:
            self.attach(vm)

    def attach(self, vm) -> None:
        """Put ``vm``'s memory under this manager: swap file, shadow invalidation, costs."""
        mem = vm.mem
        mem.swap, mem.on_remap = self.swap, vm.shadow.invalidate_gpa
        mem.charge, mem.swap_in_ns = vm.charge, SWAP_IN_NS
        self.mems[vm.id], self.vms[vm.id] = mem, vm

    def create_vm(self, **kwargs):
        """``hv.create_vm(**kwargs)``, attached."""
        vm = self.hv.create_vm(**kwargs)
        self.attach(vm)
        return vm

    # === policy ==================================================================================
    def set_policy(self, coordinator=None, period_ms: int = 50, seed: int = 0) -> None:
        """Run ``coordinator`` (default: :class:`~vmlab.hv.reclaim.EsxPolicy`) every
        ``period_ms`` of simulated time; per-VM shares/min/max come from :meth:`limit`."""
        self.policy = EsxPolicy() if coordinator is None else coordinator
        self.period_ns = period_ms * 1_000_000
        self.sampler = ActiveSampler(seed)
        self._next_period = 0

    def limit(self, vm, shares: int = 1000, min_pages: int = 0, max_pages: int | None = None) -> None:
        self.limits[vm.id] = {"shares": shares, "min_pages": min_pages, "max_pages": max_pages}

    def views(self) -> list:
        """What a coordinator sees: one :class:`~vmlab.hv.reclaim.VmView` per VM."""
        return [view(mem, i, getattr(self.vms[i], "balloon", None),
                     self.sampler.active(i) if self.policy else 1.0, self.limits.get(i, {}))
                for i, mem in sorted(self.mems.items())]

    def _period(self, now: int) -> None:
        """One policy period: sample activity, find the state, ask the coordinator, act."""
        self._next_period = now + self.period_ns
        self.sampler.period(self.mems)
        f = self.frames
        self.state = next_state(self.state, f.free_count / f.pool_frames)
        views = self.views()
        host = {"pool": f.pool_frames, "free": f.free_count, "state": self.state, "time": now}
        self._apply(self.policy.targets(views, host))
        if self.state in ("hard", "low"):        # swap until free is back at the high mark
            self.pager.reclaim(None, int(THRESHOLDS["high"] * f.pool_frames) - f.free_count)
        self.blocked = {v.vm_id for v in views if self.state == "low"
                        and v.balloon_target is not None and v.resident > v.pages - v.balloon_target}
        self.history.append(self.sample(now))

    def _apply(self, targets: dict) -> None:
        """Targets are pages to take from each VM: through its balloon if it has one,
        else (the host cannot ask) by swapping that many of its pages out."""
        for vm_id, pages in sorted(targets.items()):
            mem = self.mems[vm_id]
            pages = max(0, min(int(pages), len(mem.page_map)))
            balloon = getattr(self.vms[vm_id], "balloon", None)
            if balloon is not None:
                balloon.set_target(pages)
            elif pages:
                self.pager.reclaim(None, pages - mem.count(SWAPPED), only=mem)

    def sample(self, now: int) -> dict:
        """One row of the counters' time series (what the memory-map widget plots)."""
        row = {"time": now, "state": self.state, "free": self.frames.free_count}
        for i, mem in sorted(self.mems.items()):
            row.update({f"vm{i}.{k}": v for k, v in self.vm_stats(i).items()})
        return row

    # === running ===============================================================================
    def tick(self, now: int | None = None) -> None:
        """Between guest runs, at simulated time ``now`` (default: the first VM's clock):
        the sharing scanner, if it is time for it to wake; the policy, once a period."""
        self.ticks += 1
        if now is None:
            now = self.hv.vms[0].time() if self.hv.vms else 0
        if self.sharing is not None:
            self.sharing.tick(now)
        if self.policy is not None and now >= self._next_period:
            self._period(now)

    def schedule_with(self, host) -> None:
        """Run under the scheduling host (vmlab.hv.sched.host.Host): memory ticks become
        one of its window hooks, on its clock, so CPU and memory are managed together;
        :meth:`run` then runs the host.  VMs created later are attached by
        :meth:`create_vm` as before."""
        self.host = host
        host.window_hooks.append(self.tick)

    def run(self, instructions: int | None = None, quantum: int = QUANTUM, vms=None,
            ns: int | None = None):
        """Under a scheduling host (:meth:`schedule_with`): ``host.run(ns)``, whose windows
        tick this manager.  Otherwise run the VMs round robin, ``quantum`` instructions a
        turn, until each has run ``instructions`` or stopped, ticking after every turn.
        Returns the host's answer, or {vm id: the reason its run ended}."""
        if self.host is not None:
            if ns is None:
                raise ValueError("under a scheduling host, run(ns=...) takes simulated ns")
            return self.host.run(ns)
        return self._round_robin(instructions, quantum, vms)

    def _round_robin(self, instructions: int, quantum: int, vms) -> dict:
        vms = list(self.vms.values()) if vms is None else list(vms)
        done = {vm.id: 0 for vm in vms}
        ended: dict = {}
        while len(ended) < len(vms):
            for vm in vms:
                if vm.id in ended or self._waits(vm, vms, ended):
                    continue
                r = vm.run(instructions=min(quantum, instructions - done[vm.id]))
                done[vm.id] += r.instructions
                if r.reason != "budget" or done[vm.id] >= instructions:
                    ended[vm.id] = r.reason
                self.tick()
        return ended

    def _waits(self, vm, vms, ended) -> bool:
        """In the low state VMs above their target wait -- unless every VM would."""
        return vm.id in self.blocked and any(
            v.id not in ended and v.id not in self.blocked for v in vms)

    # === numbers ===============================================================================
    def vm_stats(self, vm_id: int) -> dict:
        mem = self.mems[vm_id]
        return {"pages": len(mem.page_map), "resident": mem.resident_pages,
                "shared": mem.shared_pages, "swapped": mem.count(SWAPPED),
                "ballooned": mem.count(BALLOONED), **mem.counters}

    def stats(self) -> dict:
        """Per VM (by id) and for the host: where the frames are."""
        f = self.frames
        host = {"pool": f.pool_frames, "free": f.free_count,
                "shadow": int((f.owner == FrameAllocator.SHADOW).sum()),
                "shared_frames": int((f.owner == FrameAllocator.SHARED).sum()),
                "swap_used": self.swap.used, **self.pager.counters}
        mapped = sum(m.resident_pages for m in self.mems.values())
        host["mapped"] = mapped               # guest pages backed by a frame, shared or not
        if self.sharing is not None:
            host.update(self.sharing.counters())
            host["saved_fraction"] = host["pages_sharing"] / mapped if mapped else 0.0
        return {"host": host, **{i: self.vm_stats(i) for i in self.mems}}

    def close(self) -> None:
        self.swap.close()
