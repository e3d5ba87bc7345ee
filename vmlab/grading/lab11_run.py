"""Lab 11's runs: escape attempts against a real and a flawed hypervisor, and traces to study.

**The flaw.**  A hypervisor that lays its VMs' RAM out one after the other and checks a
guest's addresses against *all* of it, not against the guest's own part, lets a guest reach
past the end of its RAM into the next VM's.  :class:`Overrun` is that wrong check, as a view
of guest memory; the grader hands it to one path at a time -- the shadow pager (a guest
load's address), the SBI debug console (a guest pointer the hypervisor reads) or the virtio
disk (a guest pointer the device writes) -- and
runs the student's attack twice: on the flawed hypervisor it must succeed (it is a real
attempt), on the real one it must fail (the hypervisor stops it).
"""
from __future__ import annotations

import contextlib
from collections import Counter

from vmlab.hv import sbi
from vmlab.machine import layout as L

HOST_RAM = 64 << 20
VICTIM_RAM = 4 << 20


class Overrun:
    """Guest memory checked against the host's layout instead of the VM's: addresses past
    the attacker's RAM reach the victim's RAM (the next block), as a flawed bounds check would."""

    def __init__(self, mem, victim_mem):
        self.mem, self.victim = mem, victim_mem
        self.gpa_base, self.size = mem.gpa_base, mem.size

    def _where(self, gpa: int, n: int):
        if self.mem.contains(gpa, n):
            return self.mem, gpa
        return self.victim, gpa - self.size              # "the next block of host RAM"

    def contains(self, gpa: int, n: int = 1) -> bool:
        return self.gpa_base <= gpa and gpa + n <= self.gpa_base + self.size + self.victim.size

    def read(self, gpa: int, n: int) -> bytes:
        mem, at = self._where(gpa, n)
        return mem.read(at, n)

    def write(self, gpa: int, data: bytes) -> None:
        mem, at = self._where(gpa, len(data))
        mem.write(at, data)

    def backing(self, gpa: int, write: bool = False):
        """(hpa, read_only) as the shadow pager asks for it -- past the end, the victim's."""
        mem, at = self._where(gpa, 1)
        return mem.backing(at, write)

    def __getattr__(self, name):
        return getattr(self.mem, name)


class _FlawedVcpuVm:
    """The attacker VM as the flawed DBCN sees it: its memory is the overrunning view."""

    def __init__(self, vm, view):
        self._vm, self.mem = vm, view

    def __getattr__(self, name):
        return getattr(self._vm, name)


class _VcpuView:
    def __init__(self, vcpu, vm_view):
        self._vcpu, self.vm = vcpu, vm_view

    def __getattr__(self, name):
        return getattr(self._vcpu, name)


@contextlib.contextmanager
def flawed_dbcn(attacker, view):
    """While inside: the attacker VM's DBCN calls check addresses with ``view`` (the flaw)."""
    real = sbi.EXTENSIONS[sbi.EXT_DBCN]

    def dbcn(vcpu, fid, a):
        if vcpu.vm is attacker:
            return real(_VcpuView(vcpu, _FlawedVcpuVm(attacker, view)), fid, a)
        return real(vcpu, fid, a)
    sbi.EXTENSIONS[sbi.EXT_DBCN] = dbcn
    try:
        yield
    finally:
        sbi.EXTENSIONS[sbi.EXT_DBCN] = real


@contextlib.contextmanager
def flawed_shadow(attacker, view):
    """While inside: the attacker's shadow pager checks gpas with ``view`` (the flaw), so a
    guest address past its RAM is filled with the next VM's frame."""
    real = attacker.shadow.vm
    attacker.shadow.vm = _FlawedVcpuVm(attacker, view)
    try:
        yield
    finally:
        attacker.shadow.vm = real


def _flaw(path: str, attacker, view):
    """The context in which the attacker runs on the flawed hypervisor, for one path.  The
    flaws are in the Python handlers, so the attacker takes its exits there (the compiled
    path answers DBCN and fills itself, with the real checks)."""
    attacker.fast_exits = False
    if path == "dbcn":
        return flawed_dbcn(attacker, view)
    if path == "shadow":
        return flawed_shadow(attacker, view)
    return contextlib.nullcontext()          # "dma": the device got the flawed view


def two_vms(attacker_ram: int, secret_gpa: int, secret: bytes, disk: str | None = None):
    """(hypervisor, attacker, victim): the victim holds ``secret`` at ``secret_gpa``."""
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=HOST_RAM))
    attacker = hv.create_vm(ram_size=attacker_ram)
    if disk is not None:
        from vmlab.hv import piodisk
        piodisk.attach(attacker, disk, "virtio")
    victim = hv.create_vm(ram_size=VICTIM_RAM)
    victim.mem.write(secret_gpa, secret)
    return hv, attacker, victim


def attack(program_elf: bytes, params: dict, path: str, flawed: bool, disk: str | None = None):
    """Run the attacker's guest; what it got: its console, the victim's secret bytes now,
    and whether the run ended cleanly."""
    secret = params["secret"].encode()
    hv, attacker, victim = two_vms(params["ram"], params["secret_gpa"], secret, disk)
    view = Overrun(attacker.mem, victim.mem)
    if flawed and path == "dma":
        attacker.devices.virtio.attach(view)
    attacker.boot(kernel=program_elf)
    with _flaw(path, attacker, view) if flawed else contextlib.nullcontext():
        r = attacker.run(instructions=5_000_000)
    now = victim.mem.read(params["secret_gpa"], len(secret))
    if attacker.devices.virtio is not None:
        attacker.devices.virtio.close()
    return {"console": attacker.console_output, "victim": now, "reason": r.reason,
            "leaked": params["secret"] in attacker.console_output,
            "overwritten": now != secret}


# ---- traces to study -------------------------------------------------------------------------
def study_guest(params) -> str:
    """A guest mixing CSR, SBI and UART exits in seeded amounts (lab 03's shape)."""
    from vmlab.grading.labs import exit_guest_source
    return exit_guest_source(params)


def study_trace(params):
    """Run the study guest; its VM (the trace is ``vm.trace``)."""
    from vmlab.asm import assemble
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    program = assemble(study_guest(params), 0x8000_0000, filename="study.s")
    vm = Hypervisor(Machine(ram_size=32 << 20)).create_vm(ram_size=16 << 20)
    vm.boot(kernel=program.elf)
    vm.run(2_000_000)
    return vm


def time_shares(vm) -> dict:
    """Each exit handler's share (percent) of the simulated time all exits cost."""
    from vmlab.hv.trace import EXIT
    rec = vm.trace.records(EXIT)
    cost = Counter()
    for h, c in zip(rec["handler"].tolist(), rec["cost"].tolist()):
        cost[vm.trace.names[h]] += c
    total = sum(cost.values()) or 1
    return {name: 100.0 * c / total for name, c in cost.items()}


def guest_ram_end(params) -> int:
    return L.RAM_BASE + params["ram"]
