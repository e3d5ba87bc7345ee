"""hw VMs under the scheduling Host (vmlab.hv.sched): the same workloads as the shadow
scheduling tests, on two pCPUs -- each hw vCPU's whole hart row is switched onto the real
hart and off again, so VMs (and the two vCPUs of one VM) share it without seeing each other."""
from __future__ import annotations

from vmlab.hv.sched import MS, POLICIES, Host
from vmlab.hv.sched import workloads as W
from vmlab.hv.trace import EXIT, SHADOW
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

SCALE = 100
MIXED = ["spin", "spin", ("iobound", {"SLEEP": 2}), ("spinlock", {"vcpus": 2})]


def _boot(hv, name, vcpus=1, **equ):
    vm = hv.create_vm(ram_size=W.GUEST_RAM, vcpus=vcpus, backend="hw")
    program = W.build(name, **equ)
    vm.boot(kernel=program.elf)
    vm.symbols.update(program.symbols)
    return vm


def _scheduled():
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vms = [_boot(hv, g) if isinstance(g, str) else _boot(hv, g[0], **g[1]) for g in MIXED]
    host = Host(hv, pcpus=2, policy=POLICIES["rr"](slice_ns=10 * MS // SCALE),
                window_ns=MS // SCALE)
    host.run(200 * MS // SCALE)
    return host, vms


def test_hw_vms_share_two_pcpus_under_round_robin():
    host, (spin1, spin2, io, lock) = _scheduled()
    a, b = W.counter(spin1, "counter"), W.counter(spin2, "counter")
    assert a > 0 and b > 0 and abs(a - b) < 0.2 * max(a, b)        # a fair share each
    # the I/O-bound guest sleeps each round: an SBI set_timer and a wfi (virtual instruction)
    rounds = W.counter(io, "rounds")
    assert rounds > 10 and io.trace.count(EXIT, 10) >= rounds and io.trace.count(EXIT, 22) >= rounds
    # the spinlock guest's second vCPU was started by SBI HSM, in VS-mode
    assert all(v.started for v in lock.vcpus) and W.counter(lock, "spins") > 0
    assert all(vm.trace.count(SHADOW) == 0 for vm in (spin1, spin2, io, lock))


def test_the_schedule_of_hw_vms_is_deterministic():
    (h1, v1), (h2, v2) = _scheduled(), _scheduled()
    assert h1.trace_hash() == h2.trace_hash()
    assert [v.runtime for v in h1.vcpus] == [v.runtime for v in h2.vcpus]
    assert [W.counter(vm, "counter") for vm in v1[:2]] == [W.counter(vm, "counter") for vm in v2[:2]]
