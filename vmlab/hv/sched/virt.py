"""A management API in the style of libvirt's Python binding, over a :class:`Host`.

The names and shapes follow libvirt (``virConnect``, ``virDomain``), so what a student
writes here -- a pinning manager, a weight tuner -- reads like the same program against
real KVM or Xen hosts::

    conn = virt.open(host)
    for dom in conn.listAllDomains():
        info, cpumaps = dom.vcpus()          # [(number, state, cpuTime ns, cpu)], maps
        dom.pinVcpu(0, (True, False))        # vCPU 0 on pCPU 0 only
        dom.setSchedulerParameters({"weight": 512, "cap": 50})
"""
from __future__ import annotations

from vmlab.hv.sched.policy import BLOCKED, RUNNING

VIR_VCPU_OFFLINE, VIR_VCPU_RUNNING, VIR_VCPU_BLOCKED = 0, 1, 2
PARAMETERS = ("weight", "cap", "period", "budget", "priority")


class VirtError(Exception):
    """What libvirt would report as a libvirtError."""


def open(host) -> "Connection":          # noqa: A001 -- libvirt.open, by name
    return Connection(host)


class Connection:
    def __init__(self, host):
        self.host = host

    def listAllDomains(self) -> list["Domain"]:
        return [Domain(self.host, vm) for vm in self.host.hv.vms]

    def lookupByID(self, dom_id: int) -> "Domain":
        for vm in self.host.hv.vms:
            if vm.id == dom_id:
                return Domain(self.host, vm)
        raise VirtError(f"no domain with id {dom_id}")

    def getCPUMap(self) -> tuple[int, list[bool], int]:
        """(number of pCPUs, which are online, how many are online)."""
        n = len(self.host.pcpus)
        return n, [True] * n, n


class Domain:
    def __init__(self, host, vm):
        self.host, self.vm = host, vm

    def ID(self) -> int:
        return self.vm.id

    def name(self) -> str:
        return f"vm{self.vm.id}"

    def isActive(self) -> bool:
        return not self.vm.stopped

    def _views(self):
        return [v for v in self.host.vcpus if v.vm == self.vm.id]

    def _view(self, vcpu: int):
        views = self._views()
        if not 0 <= vcpu < len(views):
            raise VirtError(f"{self.name()} has no vCPU {vcpu}")
        return views[vcpu]

    def vcpus(self):
        """([(number, state, cpu time in ns, pCPU)], [pCPU map per vCPU]) as libvirt gives."""
        n = len(self.host.pcpus)
        info, maps = [], []
        for v in self._views():
            state = {RUNNING: VIR_VCPU_RUNNING, BLOCKED: VIR_VCPU_BLOCKED}.get(
                v.state, VIR_VCPU_RUNNING if v.state == "ready" else VIR_VCPU_OFFLINE)
            info.append((v.id, state, v.runtime, v.last_pcpu))
            maps.append(tuple(v.allowed(p) for p in range(n)))
        return info, maps

    def vcpuPinInfo(self):
        return self.vcpus()[1]

    def pinVcpu(self, vcpu: int, cpumap) -> None:
        """Allow vCPU ``vcpu`` on the pCPUs whose entries in ``cpumap`` are true."""
        cpumap = tuple(bool(b) for b in cpumap)
        allowed = frozenset(p for p, b in enumerate(cpumap) if b and p < len(self.host.pcpus))
        if not allowed:
            raise VirtError("a cpumap must allow at least one existing pCPU")
        self.host.pin(self._view(vcpu), allowed)

    def schedulerType(self):
        return self.host.policy.name, len(PARAMETERS)

    def schedulerParameters(self) -> dict:
        v = self._views()[0]
        return {k: v.params[k] for k in PARAMETERS if k in v.params}

    def setSchedulerParameters(self, params: dict) -> None:
        """weight (1..65535), cap (% of a pCPU, 0 = none), and for RTDS period/budget (ns),
        for the priority policy priority -- for every vCPU of the domain."""
        for key, value in params.items():
            if key not in PARAMETERS:
                raise VirtError(f"unknown scheduler parameter {key!r} (known: "
                                f"{', '.join(PARAMETERS)})")
            least = 1 if key in ("weight", "period") else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise VirtError(f"scheduler parameter {key} must be an integer >= {least}, "
                                f"not {value!r}")
        for v in self._views():
            v.params.update(params)

    def getCPUStats(self, total: bool = True):
        """[{'cpu_time': ns}] for the whole domain (total) or one dict per vCPU."""
        times = [v.runtime for v in self._views()]
        return [{"cpu_time": sum(times)}] if total else [{"cpu_time": t} for t in times]
