"""vmlab.hv.sched: many VMs' vCPUs on few physical CPUs, under a policy you can swap.

- ``policy``    the interface a policy implements (pick, tick, wake, block, yield_, ...)
- ``host``      the pCPUs, their clocks, lock-step windows; runs the vCPUs for real
- ``rr``, ``credit``, ``fair``, ``edf``, ``cosched``, ``priority``: one policy each
- ``metrics``   run/ready/co-stop time, wake latency, shares, utilisation, switches
- ``virt``      a management API in the style of libvirt (domains, vcpus, pinning)
- ``workloads`` the scheduling guests (CPU-bound, I/O-bound, spinlock) as VMs

Quick start::

    from vmlab.hv.sched import Host, Credit, MS
    host = Host(hv, pcpus=2, policy=Credit())
    host.run(100 * MS)
    print(metrics.table(host))
"""
from __future__ import annotations

from vmlab.hv.sched.cosched import CoSchedule
from vmlab.hv.sched.credit import Credit
from vmlab.hv.sched.edf import EDF
from vmlab.hv.sched.fair import FairShare
from vmlab.hv.sched.host import Host, SchedError
from vmlab.hv.sched.policy import MS, US, Decision, Policy, VCpuView
from vmlab.hv.sched.priority import Priority
from vmlab.hv.sched.rr import RoundRobin

POLICIES = {"rr": RoundRobin, "credit": Credit, "fair": FairShare, "edf": EDF,
            "priority": Priority, "co-strict": lambda **kw: CoSchedule("strict", **kw),
            "co-relaxed": lambda **kw: CoSchedule("relaxed", **kw)}

__all__ = ["MS", "US", "Decision", "Policy", "VCpuView", "Host", "SchedError", "RoundRobin",
           "Credit", "FairShare", "EDF", "Priority", "CoSchedule", "POLICIES"]
