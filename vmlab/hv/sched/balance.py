"""The load-balancing project: keep the pCPUs evenly loaded by pinning vCPUs, and stably.

A *scenario* is a few one-vCPU VMs, each wanting a different share of a pCPU (the I/O-bound
guest with its burst and sleep set), all starting pinned to pCPU 0.  A *manager* is a
function ``manager(conn)`` called every ``interval_ns`` of simulated time with a
libvirt-style connection (:mod:`vmlab.hv.sched.virt`); it may read each vCPU's CPU time
and re-pin vCPUs.  Judged over the second half of the run: the standard deviation of pCPU
utilisation relative to its mean (balanced: at most 5%), and how many pins it changed
(stable: few).  :func:`run_manager` is also the grader's driver, so it returns plain JSON.
"""
from __future__ import annotations

from statistics import mean, pstdev

from vmlab.hv.sched import workloads as W
from vmlab.hv.sched.credit import Credit
from vmlab.hv.sched.host import Host
from vmlab.hv.sched.policy import MS
from vmlab.hv.sched import virt
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

#: the share of a pCPU an I/O-bound VM wants -> its (burst iterations, sleep in mtime ticks);
#: measured alone on a pCPU (the exits of a round cost about 1 µs besides the burst)
DEMANDS = {"10%": (100, 100), "20%": (450, 80), "30%": (900, 70), "40%": (1400, 60)}
SCALE = 100                                # time scaled down, as in the lab


def make_scenario(rng, pcpus: int | None = None) -> dict:
    """A scenario as plain data: pCPUs, each VM's demand, the run's length."""
    pcpus = pcpus or rng.choice([2, 3, 4])
    while True:
        vms, total = [], 0
        while True:
            d = rng.choice(sorted(DEMANDS))
            if total + int(d[:-1]) > 70 * pcpus:
                break
            vms.append(d)
            total += int(d[:-1])
        if len(vms) > pcpus and _spread(vms, pcpus) <= 0.02:     # a balance exists
            return {"pcpus": pcpus, "vms": vms, "intervals": 20, "interval_ns": 50 * MS // SCALE}


def _spread(vms: list, pcpus: int) -> float:
    """Relative standard deviation of the loads the largest-first greedy packing gives."""
    load = [0] * pcpus
    for d in sorted((int(d[:-1]) for d in vms), reverse=True):
        load[load.index(min(load))] += d
    return pstdev(load) / mean(load)


def build(scenario: dict) -> Host:
    """The scenario's host: every vCPU pinned to pCPU 0, the Credit scheduler."""
    hv = Hypervisor(Machine(ram_size=(16 + 4 * len(scenario["vms"])) << 20))
    for demand in scenario["vms"]:
        work, sleep = DEMANDS[demand]
        W.boot(hv, "iobound", WORK=work, SLEEP=sleep)
    host = Host(hv, pcpus=scenario["pcpus"],
                policy=Credit(slice_ns=30 * MS // SCALE, tick_ns=10 * MS // SCALE,
                              period_ns=30 * MS // SCALE), window_ns=MS // SCALE)
    for v in host.vcpus:
        host.pin(v, {0})
    host.pin_changes = 0
    return host


def run_manager(manager, scenario: dict) -> dict:
    """Run ``scenario`` calling ``manager(conn)`` every interval; judge the second half.
    A class for ``manager`` is instantiated afresh for the run (its state is its own)."""
    if isinstance(manager, type):
        manager = manager()
    host = build(scenario)
    conn = virt.open(host)
    half = scenario["intervals"] // 2
    for k in range(scenario["intervals"]):
        if k == half:
            busy0, t0 = [p.busy_ns for p in host.pcpus], host.now
        if manager is not None:
            manager(conn)
        host.run(scenario["interval_ns"])
    util = [(p.busy_ns - b) / (host.now - t0) for p, b in zip(host.pcpus, busy0)]
    m = mean(util)
    return {"utilisation": [round(u, 4) for u in util],
            "relative_stdev": round(pstdev(util) / m, 4) if m else 0.0,
            "pin_changes": host.pin_changes}


def judge(result: dict, max_pin_changes: int) -> bool:
    return result["relative_stdev"] <= 0.05 and result["pin_changes"] <= max_pin_changes
