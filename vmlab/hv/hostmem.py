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

    # === running ===============================================================================
    def tick(self) -> None:
        """Between guest runs: the sharing scanner, if it is time for it to wake."""
        self.ticks += 1
        if self.sharing is not None:
            self.sharing.tick(self.hv.vms[0].time() if self.hv.vms else 0)

    def run(self, instructions: int, quantum: int = QUANTUM, vms=None) -> dict:
        """Run the VMs round robin, ``quantum`` instructions a turn, until each has run
        ``instructions`` or stopped; the manager ticks after every turn.  Returns
        {vm id: the reason its run ended}."""
        vms = list(self.vms.values()) if vms is None else list(vms)
        done = {vm.id: 0 for vm in vms}
        ended: dict = {}
        while len(ended) < len(vms):
            for vm in vms:
                if vm.id in ended:
                    continue
                r = vm.run(instructions=min(quantum, instructions - done[vm.id]))
                done[vm.id] += r.instructions
                if r.reason != "budget" or done[vm.id] >= instructions:
                    ended[vm.id] = r.reason
                self.tick()
        return ended

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
