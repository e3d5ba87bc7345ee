"""Reclaim policy: ESX's free-memory states with their hysteresis, shares with the idle
memory tax, the sampled active fraction, and a coordinator plugged into the host."""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.hv.memory import PAGE, FrameAllocator, GuestMemory
from vmlab.hv.reclaim import (ActiveSampler, EsxPolicy, MemoryCoordinator, VmView, next_state,
                              shares_per_page)

BASE = 0x8000_0000


@pytest.mark.parametrize("state,free,after", [
    ("high", 0.05, "high"), ("high", 0.039, "soft"), ("high", 0.019, "hard"),
    ("high", 0.005, "low"), ("soft", 0.05, "soft"), ("soft", 0.06, "high"),
    ("hard", 0.03, "hard"), ("hard", 0.041, "soft"), ("low", 0.015, "low"),
    ("low", 0.02, "hard"), ("low", 0.5, "high")])
def test_states_follow_free_memory_with_hysteresis(state, free, after):
    assert next_state(state, free) == after


def vm(i, resident, active, shares=1000, **kw):
    return VmView(vm_id=i, pages=4096, resident=resident, swapped=0, ballooned=0,
                  balloon_target=0, balloon_actual=0, active=active, shares=shares, **kw)


def test_idle_pages_are_taxed():
    busy, idle = vm(0, 1000, 1.0), vm(1, 1000, 0.0)
    assert shares_per_page(busy) == pytest.approx(1.0)
    assert shares_per_page(idle) == pytest.approx(0.25)          # k = 1 / (1 - 0.75) = 4
    assert shares_per_page(idle, tau=0.0) == shares_per_page(busy, tau=0.0)


def test_esx_policy_takes_from_the_idle_vm_and_respects_min_and_max():
    host = {"pool": 10000, "free": 100, "state": "soft"}          # wants 600 - 100 = 500 back
    targets = EsxPolicy().targets([vm(0, 3000, 0.9), vm(1, 3000, 0.1)], host)
    assert targets.get(1, 0) >= 500 and targets.get(0, 0) == 0
    targets = EsxPolicy().targets([vm(0, 3000, 0.9), vm(1, 3000, 0.1, min_pages=2990)], host)
    assert targets.get(1, 0) <= 10 and targets[0] >= 500
    targets = EsxPolicy().targets([vm(0, 3000, 0.9, max_pages=2000), vm(1, 3000, 0.1)], host)
    assert targets[0] >= 1000                                      # over its max first
    inflated = vm(0, 3000, 0.9)
    inflated.balloon_target = 50
    high = {**host, "state": "high"}
    assert EsxPolicy().targets([inflated, vm(1, 3000, 0.1)], high) == {0: 0}   # deflate


def test_sampled_active_fraction():
    fa = FrameAllocator(np.zeros(256 * PAGE, dtype=np.uint8), BASE)
    mem = GuestMemory(fa, 0, BASE, 200 * PAGE)
    for p in range(200):
        mem.write(BASE + p * PAGE, b"x")
    sampler = ActiveSampler(seed=1, sample=100)
    sampler.period({0: mem})
    assert sampler.active(0) == 1.0                                # nothing measured yet
    for p in sampler.marked[0][:25]:                               # a quarter used again
        mem.backing(BASE + int(p) * PAGE)
    sampler.period({0: mem})
    assert sampler.latest[0] == pytest.approx(0.25)
    sampler.period({0: mem})                                       # an idle period
    assert sampler.latest[0] == 0                                  # the slow average remembers:
    assert sampler.active(0) == pytest.approx(0.9 * 0.25)          # idleness is believed slowly


class Recorder(MemoryCoordinator):
    """A coordinator that asks VM 1 for 100 pages and remembers what it saw."""

    def __init__(self):
        self.seen = []

    def targets(self, vms, host):
        self.seen.append((host["state"], [v.resident for v in vms]))
        return {1: 100}


def test_a_coordinator_runs_every_period_and_a_vm_without_balloon_is_swapped():
    from vmlab.guests import memtouch
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=8 << 20))
    mm = HostMemory(hv)
    vms = [mm.create_vm(ram_size=4 << 20) for _ in range(2)]
    for v in vms:
        memtouch.prepare(v, seed=3, rounds=1)
    coordinator = Recorder()
    mm.set_policy(coordinator, period_ms=1)
    assert mm.run(instructions=50_000_000) == {0: "halt", 1: "halt"}
    assert len(coordinator.seen) > 3 and len(mm.history) == len(coordinator.seen)
    assert vms[1].mem.counters["swap_outs"] >= 100 and vms[0].mem.counters["swap_outs"] == 0
    assert all(memtouch.results(v)["mismatches"] == 0 for v in vms)
