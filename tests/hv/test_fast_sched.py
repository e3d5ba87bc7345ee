"""The compiled fast path under the scheduling Host (vmlab.hv.sched), and under the binary
translator (vmlab.hv.translate): both now run with it on, and must not be able to tell.

The Host decides between vCPU runs and was measured with runs that end at every exit; with
the fast path a run handles its exit in compiled code and returns (VCpu.each_exit), so the
same VMs under the same policy give the very same schedule -- the Host's trace hash, every
vCPU's runtime and the guests' own counters -- with the fast path on and off.
"""
from __future__ import annotations

import pytest

from vmlab.hv.sched import POLICIES, MS, Host
from vmlab.hv.sched import workloads as W
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L

SCALE = 100
MIXED = ["spin", "spin", ("iobound", {"SLEEP": 2}), ("spinlock", {"vcpus": 2})]
POLICY_ARGS = {"rr": {"slice_ns": 10 * MS // SCALE},
               "credit": {"slice_ns": 30 * MS // SCALE, "tick_ns": 10 * MS // SCALE,
                          "period_ns": 30 * MS // SCALE},
               "co-relaxed": {"slice_ns": 10 * MS // SCALE, "skew_limit_ns": 3 * MS // SCALE}}


def _scheduled(policy: str, fast: bool):
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vms = []
    for g in MIXED:
        name, kw = (g, {}) if isinstance(g, str) else g
        vms.append(W.boot(hv, name, **kw))
        vms[-1].fast_exits = fast
    host = Host(hv, pcpus=2, policy=POLICIES[policy](**POLICY_ARGS[policy]),
                window_ns=MS // SCALE)
    host.run(200 * MS // SCALE)
    return host, vms


@pytest.mark.parametrize("policy", sorted(POLICY_ARGS))
def test_the_host_schedules_the_same_with_the_fast_path_on_and_off(policy):
    (fast, fvms), (slow, svms) = _scheduled(policy, True), _scheduled(policy, False)
    assert slow.trace.total > 10
    assert fast.trace_hash() == slow.trace_hash()
    assert [v.runtime for v in fast.vcpus] == [v.runtime for v in slow.vcpus]
    assert [W.counter(vm, "counter") for vm in fvms[:2]] == \
        [W.counter(vm, "counter") for vm in svms[:2]]
    for a, b in zip(fvms, svms):
        assert a.trace.handler_counts == b.trace.handler_counts
    assert all(vm.fast_exits for vm in fvms)          # (the Host left them on)


def _translated(fast: bool):
    """The Popek-Goldberg guest and code that rewrites itself after translation, under the
    binary translator on the quirky hart (the guests of tests/paravirt/test_popek.py)."""
    from paravirt.test_popek import KEY, SELF_MODIFYING

    from vmlab.asm import assemble
    from vmlab.guests import popek
    from vmlab.hv import translate
    out = []
    for prog, entry in ((popek.build(KEY), "s_start"), (assemble(SELF_MODIFYING), "_start")):
        hv = Hypervisor(Machine(ram_size=32 << 20))
        vm = hv.create_vm(ram_size=8 << 20, fast_exits=fast)
        translate.set_sensitive_read(hv.machine, True)
        tr = translate.attach(vm)
        vm.boot(kernel=prog.elf)
        vm.vcpus[0].set_pc(prog.symbols[entry])
        assert vm.run(instructions=10_000_000).reason == "halt"
        assert vm.fast_exits is fast
        rec = vm.trace.records()
        out.append((vm.rows.tolist(), rec[[f for f in rec.dtype.names if f != "seq"]].tolist(),
                    dict(tr.counters), vm.mem.read(L.RAM_BASE, 1 << 16)))
    return out


def test_the_binary_translator_sees_the_same_guest_with_the_fast_path_on_and_off():
    fast, slow = _translated(True), _translated(False)
    for (rows, trace, counters, image), (rows_s, trace_s, counters_s, image_s) in zip(fast, slow):
        assert counters == counters_s and image == image_s       # (patched code included)
        assert rows == rows_s
        assert trace == trace_s
    assert fast[1][2]["invalidations"] == 1 and fast[1][2]["emulated"] == 1
