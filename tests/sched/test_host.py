"""The host: pCPUs with their own clocks in lock-step windows, deterministic schedules,
blocking on wfi, policy switching at run time, and no vCPU on two pCPUs at once."""
from __future__ import annotations

import pytest
from sched_support import host_with, hypervisor, ms

from vmlab.hv.sched import POLICIES, Host, RoundRobin, SchedError
from vmlab.hv.sched import metrics as M
from vmlab.hv.sched import slices as SL
from vmlab.hv.sched import workloads as W

MIXED = ["spin", "spin", ("iobound", {"SLEEP": 2}), ("spinlock", {"vcpus": 2})]


def scaled_policy(name):
    kw = {"rr": {"slice_ns": ms(10)}, "priority": {"slice_ns": ms(10)},
          "credit": {"slice_ns": ms(30), "tick_ns": ms(10), "period_ns": ms(30)},
          "fair": {"min_slice_ns": ms(1), "max_slice_ns": ms(10), "granularity_ns": ms(2)},
          "edf": {"period_ns": ms(10), "budget_ns": ms(4)},
          "co-strict": {"slice_ns": ms(10)}, "co-relaxed": {"slice_ns": ms(10),
                                                            "skew_limit_ns": ms(3)}}[name]
    return POLICIES[name](**kw)


def mixed_run(policy_name):
    host, vms = host_with(scaled_policy(policy_name), MIXED, pcpus=2)
    host.run(ms(200))
    return host, vms


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_same_scenario_twice_gives_the_same_trace(policy):
    a, _ = mixed_run(policy)
    b, _ = mixed_run(policy)
    assert a.trace.total > 10                      # something was scheduled
    assert a.trace_hash() == b.trace_hash()
    assert [v.runtime for v in a.vcpus] == [v.runtime for v in b.vcpus]


def test_every_pcpu_clock_reaches_the_end_and_no_vcpu_runs_twice_at_once():
    host, _ = mixed_run("credit")
    assert [p.clock for p in host.pcpus] == [host.now] * 2
    by_vcpu = {}
    for s in SL.slices(host.trace, host.now):
        by_vcpu.setdefault((s.vm, s.vcpu), []).append(s)
    for runs in by_vcpu.values():
        for a, b in zip(runs, runs[1:]):
            assert a.end <= b.start, (a, b)
    for p in host.pcpus:                           # a pCPU runs one vCPU at a time
        mine = [s for s in SL.slices(host.trace, host.now) if s.pcpu == p.id]
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:]))
    # the slices account for exactly the run time the host counted
    total = sum(s.end - s.start for s in SL.slices(host.trace, host.now))
    assert total == sum(v.runtime for v in host.vcpus)


def test_a_vcpu_waiting_in_wfi_gives_its_pcpu_away():
    host, (spin, io) = host_with(RoundRobin(slice_ns=ms(10)),
                                 ["spin", ("iobound", {"SLEEP": 20})])
    host.run(ms(100))
    io_view = host.view(io)
    assert W.counter(io, "rounds") > 5
    # the I/O guest ran little; the pCPU never idled while the CPU-bound guest could run
    assert io_view.runtime < host.now * 0.1
    assert host.pcpus[0].busy_ns == host.now
    assert host.view(spin).runtime + io_view.runtime == host.now
    assert any(s.left == "block" for s in SL.slices(host.trace, host.now))


def test_an_idle_pcpu_sleeps_until_the_next_timer():
    host, (io,) = host_with(RoundRobin(slice_ns=ms(10)), [("iobound", {"SLEEP": 100})])
    host.run(ms(50))
    p = host.pcpus[0]
    assert p.idle_ns > 0 and p.busy_ns + p.idle_ns == host.now
    assert W.counter(io, "rounds") >= host.now // (100 * 100 + 4000 * 2)


def test_switching_policy_while_running():
    from vmlab.hv.sched import Credit
    host, vms = host_with(RoundRobin(slice_ns=ms(10)), ["spin", "spin"])
    host.run(ms(60))
    before = [host.view(vm).runtime for vm in vms]
    assert abs(before[0] - before[1]) <= ms(10)
    host.view(vms[1]).params["weight"] = 768
    host.set_policy(Credit(slice_ns=ms(30), tick_ns=ms(10), period_ns=ms(30)))
    host.run(ms(3000))
    after = [host.view(vm).runtime - b for vm, b in zip(vms, before)]
    assert after[1] / sum(after) == pytest.approx(0.75, abs=0.01)


def test_new_vms_join_a_running_host():
    host, _ = host_with(RoundRobin(slice_ns=ms(10)), ["spin"])
    host.run(ms(20))
    vm = W.boot(host.hv, "spin")
    host.run(ms(40))
    assert host.view(vm).runtime == pytest.approx(ms(20), abs=ms(10))


@pytest.mark.parametrize("pcpus", [0, 9])
def test_pcpu_count_is_checked(pcpus):
    with pytest.raises(SchedError, match="pcpus must be 1..8"):
        Host(hypervisor(), pcpus=pcpus)


def test_a_policy_picking_the_impossible_is_named():
    class Bad(RoundRobin):
        def pick(self, pcpu, now, ready):
            d = super().pick(pcpu, now, ready)
            if d is not None:
                d.vcpu.params["affinity"] = frozenset({pcpu + 1})
            return d
    host, _ = host_with(Bad(), ["spin"])
    with pytest.raises(SchedError, match="cannot run on pCPU 0"):
        host.run(ms(1))


def test_metrics_add_up():
    host, _ = mixed_run("rr")
    rows = M.vcpu_rows(host)
    assert len(rows) == 5
    for p in M.pcpu_rows(host):
        assert 0 < p["utilisation"] <= 1
    assert "pCPU 1" in M.table(host)


def test_ready_time_counts_a_wait_still_going_on():
    """A vCPU that has not had a pCPU yet has waited all along: the metrics say so (not
    only once it runs), and the waits add up with the run time to the elapsed time."""
    host, _ = host_with(RoundRobin(slice_ns=ms(50)), ["spin", "spin"])
    host.run(ms(10))
    first, second = M.vcpu_rows(host)
    assert first["run_ms"] > 0 and second["run_ms"] == 0 and second["state"] == "ready"
    assert second["ready_ms"] == pytest.approx(host.now / 1e6, rel=0.01)
    assert first["run_ms"] + first["ready_ms"] == pytest.approx(host.now / 1e6, rel=0.01)


def test_a_vm_that_powers_off_leaves_the_others_running():
    from vmlab.asm import assemble
    src = """
        .text
        .globl _start
_start: li      t0, 20000
1:      addi    t0, t0, -1
        bnez    t0, 1b
        li      a7, 0x53525354          # SBI SRST: shutdown
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
2:      j       2b
"""
    hv = hypervisor()
    short = hv.create_vm(ram_size=W.GUEST_RAM)
    short.boot(kernel=assemble(src, march="rv64imac").elf)
    spin = W.boot(hv, "spin")
    host = Host(hv, pcpus=2, window_ns=ms(1))
    assert host.run(ms(50)) == "time"
    assert short.stopped == ("halt", 0)
    assert host.view(short).state == "offline"
    assert 40_000 <= host.view(short).runtime < 45_000       # its 20,000 two-instruction loops
    assert host.view(spin).runtime == host.now
    assert any(s.left == "halt" for s in SL.slices(host.trace, host.now))


def test_when_every_vm_has_stopped_the_host_says_idle():
    host, (io,) = host_with(RoundRobin(), [("iobound", {"SLEEP": 2})])
    io.stop("halt", 0)
    assert host.run(ms(10)) == "idle"


@pytest.mark.parametrize("call, message", [
    (lambda h: Host(h.hv, window_ns=0), "window_ns must be positive"),
    (lambda h: h.pin(h.vcpus[0], {2}), r"no such pCPU in \[2\]: there are 1"),
    (lambda h: h.view(5), "no vCPU 0 in VM 5"),
])
def test_bad_requests_are_named(call, message):
    host, _ = host_with(RoundRobin(), ["spin"])
    with pytest.raises(SchedError, match=message):
        call(host)


def test_a_guest_asleep_with_no_timer_makes_the_host_idle():
    from vmlab.asm import assemble
    src = ".text\n.globl _start\n_start: wfi\n j _start\n"      # nothing can ever wake it
    hv = hypervisor()
    vm = hv.create_vm(ram_size=W.GUEST_RAM)
    vm.boot(kernel=assemble(src, march="rv64imac").elf)
    host = Host(hv, pcpus=2, window_ns=ms(1))
    assert host.run(ms(100)) == "idle"
    assert host.now == ms(1) and host.view(vm).state == "blocked"


@pytest.mark.parametrize("ns", [-1, 1.5, "10"])
def test_run_wants_whole_ns(ns):
    host, _ = host_with(RoundRobin(), ["spin"])
    with pytest.raises(SchedError, match="a whole number of ns"):
        host.run(ns)
