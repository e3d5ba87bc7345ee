"""``python -m vmlab.bench.memory``: what do the memory mechanisms cost?

- **sharing scan rate**: pages the KSM-style and the ESX-style scanner visit per second of
  host time, over two guests' worth of pages;
- **swap-in latency**: host time of one swap-in (a page read back from the swap file while
  another is written out to make room), and the simulated time it is charged;
- **guest slowdown per mechanism**: two memtouch guests (write then re-read all of their
  RAM) with plenty of frames, under swap (a pool of half their RAM), with sharing, and with
  both: simulated time to the end (what the guest experiences) and host seconds.
"""
from __future__ import annotations

import json
import time

import numpy as np

from vmlab.guests import memtouch
from vmlab.hv.hostmem import HostMemory
from vmlab.hv.memory import PAGE, FrameAllocator, GuestMemory
from vmlab.hv.swap import SWAP_IN_NS, ClockPager, SwapFile
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

GUEST_MB = 4


def guests(host_mb: int, sharing=None, distinct: int = 64):
    hv = Hypervisor(Machine(ram_size=host_mb << 20))
    mm = HostMemory(hv, sharing=sharing)
    vms = [mm.create_vm(ram_size=GUEST_MB << 20) for _ in range(2)]
    for vm in vms:
        memtouch.prepare(vm, seed=9, distinct=distinct, rounds=1)
    return mm, vms


def scan_rate(mode: str) -> float:
    """Pages per host second of full scans over two finished guests (no pressure)."""
    mm, vms = guests(32)
    mm.run(instructions=100_000_000)
    from vmlab.hv.sharing import PageSharing
    scanner = PageSharing(mm.frames, mm.mems, mode=mode, pages_to_scan=1000)
    t = time.perf_counter()
    scanner.full_scan()
    scanner.full_scan()
    return scanner.pages_scanned / (time.perf_counter() - t)


def swap_in_latency(pages: int = 2048, frames: int = 256) -> float:
    """Host seconds per swap-in (each also evicting one page to the file)."""
    fa = FrameAllocator(np.zeros(frames * PAGE, dtype=np.uint8), 0x8000_0000)
    mem = GuestMemory(fa, 0, 0x8000_0000, pages * PAGE)
    mem.swap = SwapFile()
    fa.reclaimer = ClockPager(fa, {0: mem}, mem.swap).reclaim
    for p in range(pages):
        mem.write(0x8000_0000 + p * PAGE, bytes([p & 255]) * 8)
    before = mem.counters["swap_ins"]
    t = time.perf_counter()
    for p in range(pages):
        mem.read(0x8000_0000 + p * PAGE, 8)
    n = mem.counters["swap_ins"] - before
    mem.swap.close()
    return (time.perf_counter() - t) / max(n, 1)


def slowdown() -> dict:
    """Simulated ns and host seconds to the end, per mechanism."""
    out = {}
    for name, host_mb, sharing in (("none", 32, None), ("swap", GUEST_MB, None),
                                   ("ksm", 32, "ksm"), ("swap+ksm", GUEST_MB, "ksm")):
        mm, vms = guests(host_mb, sharing)
        t = time.perf_counter()
        ended = mm.run(instructions=200_000_000)
        wall = time.perf_counter() - t
        assert set(ended.values()) == {"halt"} and all(
            memtouch.results(vm)["mismatches"] == 0 for vm in vms), name
        out[name] = {"sim_ms": vms[0].time() / 1e6, "host_s": wall,
                     "swap_ins": sum(vm.mem.counters["swap_ins"] for vm in vms),
                     "merged": sum(vm.mem.counters["merged"] for vm in vms)}
        mm.close()
    return out


def main() -> None:
    result = {"scan_pages_per_s": {m: scan_rate(m) for m in ("ksm", "esx")},
              "swap_in_host_us": swap_in_latency() * 1e6, "swap_in_sim_us": SWAP_IN_NS / 1e3,
              "slowdown": slowdown()}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
