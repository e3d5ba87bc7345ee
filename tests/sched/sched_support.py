"""Helpers for the scheduling tests: hypervisors with guest VMs, and time scaled down.

The policies' default parameters are Xen's (30 ms slices, 10 ms ticks ...), and the
"Done when" scenarios span 10 simulated seconds: 10^10 guest instructions, minutes of host
time.  The fast tests scale every time parameter *and* the run length down by ``SCALE``,
which keeps the number of slices, ticks and periods -- what the shares depend on -- the
same; the tests marked slow run the full-size scenario once.
"""
from __future__ import annotations

from vmlab.hv.sched import MS, Host
from vmlab.hv.sched import workloads as W
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

SCALE = 100


def ms(x: float, scale: int = SCALE) -> int:
    """``x`` milliseconds, scaled down."""
    return int(x * MS) // scale


def hypervisor() -> Hypervisor:
    return Hypervisor(Machine(ram_size=64 << 20))


def host_with(policy, guests, pcpus: int = 1, scale: int = SCALE):
    """(host, [vm...]): one VM per entry of ``guests`` (a name, or (name, boot kwargs))."""
    hv = hypervisor()
    vms = []
    for g in guests:
        name, kw = (g, {}) if isinstance(g, str) else g
        vms.append(W.boot(hv, name, **kw))
    return Host(hv, pcpus=pcpus, policy=policy, window_ns=ms(1, scale)), vms


def edf_reference(tasks, horizon: int):
    """Misses per task of EDF on one CPU, for always-runnable tasks [(period, budget)]:
    the obvious event-by-event simulation (ties go to the lower index)."""
    deadline = [p for p, _ in tasks]
    left = [b for _, b in tasks]
    misses = [0] * len(tasks)
    t = 0
    while t < horizon:
        nxt = min(min(deadline), horizon)
        cands = [i for i in range(len(tasks)) if left[i] > 0]
        if cands:
            i = min(cands, key=lambda i: (deadline[i], i))
            run = min(left[i], nxt - t)
            left[i] -= run
            t += run
        else:
            t = nxt
        for i, (period, budget) in enumerate(tasks):
            while deadline[i] <= t and deadline[i] < horizon:   # (one at the end: next run)
                misses[i] += left[i] > 0
                deadline[i] += period
                left[i] = budget
    return misses
