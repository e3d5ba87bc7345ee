"""The issue's "Done when" for the policies, on real guests (CPU-bound loops that never
exit on their own), with time scaled down (sched_support); the full-size scenarios are slow."""
from __future__ import annotations

import pytest
from sched_support import edf_reference, host_with, ms

from vmlab.hv.sched import EDF, CoSchedule, Credit, FairShare, Priority, RoundRobin
from vmlab.hv.sched import metrics as M
from vmlab.hv.sched import slices as SL
from vmlab.hv.sched import workloads as W


def credit(scale=100):
    return Credit(slice_ns=ms(30, scale), tick_ns=ms(10, scale), period_ns=ms(30, scale))


def weighted(policy, weights, caps=(), scale=100):
    host, vms = host_with(policy, ["spin"] * len(weights), scale=scale)
    for vm, w in zip(vms, weights):
        host.view(vm).params["weight"] = w
    for vm, cap in zip(vms, caps):
        host.view(vm).params["cap"] = cap
    return host, vms


def check_shares(host, within=0.01):
    shares, entitled = M.vm_shares(host), M.entitlements(host)
    for vm, share in shares.items():
        assert share == pytest.approx(entitled[vm], abs=within), (shares, entitled)
    return shares


def test_credit_weights_1_2_4_on_one_pcpu():
    host, vms = weighted(credit(), [256, 512, 1024])
    host.run(ms(10_000))
    check_shares(host)
    # the guests really did the work: their counters grew in the same proportions
    steps = [W.counter(vm, "counter") for vm in vms]
    assert steps[2] / steps[0] == pytest.approx(4, rel=0.05)


@pytest.mark.slow
def test_credit_weights_1_2_4_full_size_ten_seconds():
    host, _ = weighted(credit(1), [256, 512, 1024], scale=1)
    host.run(ms(10_000, 1))
    check_shares(host)


def test_credit_cap_20_percent():
    host, vms = weighted(credit(), [256, 256, 256], caps=[20])
    host.run(ms(10_000))
    shares = check_shares(host)
    assert shares[vms[0].id] <= 0.20


def test_credit_boosts_a_waking_io_vcpu():
    """Behind two CPU-bound VMs, an I/O-bound vCPU waits for a whole slice under round
    robin; Credit's BOOST runs it within a window of waking."""
    latency = {}
    for policy in (RoundRobin(slice_ns=ms(30)), credit()):
        host, vms = host_with(policy, ["spin", "spin", ("iobound", {"SLEEP": 200})])
        host.run(ms(1000))
        latency[policy.name] = M.vcpu_rows(host)[2]["wake_latency_us"]
        rounds = W.counter(vms[2], "rounds")
    assert latency["credit"] * 10 < latency["round-robin"]
    assert latency["credit"] * 1000 <= ms(1)
    assert rounds > 100


def test_credit_steals_work_for_an_idle_pcpu():
    """Three vCPUs that all last ran on pCPU 0 (pinned there, then let go): pCPU 1 has an
    empty queue and steals from pCPU 0's."""
    host, vms = host_with(credit(), ["spin"] * 3, pcpus=2)
    for vm in vms:
        host.pin(host.view(vm), {0})
    host.run(ms(30))
    assert host.pcpus[1].busy_ns == 0
    for vm in vms:
        host.pin(host.view(vm), None)
    host.run(ms(600))
    stolen = [s for s in SL.slices(host.trace, host.now) if "stolen" in s.why]
    assert stolen and stolen[0].pcpu == 1
    assert host.pcpus[1].busy_ns >= host.now - ms(30) - ms(1)
    for share in M.vm_shares(host).values():
        assert share == pytest.approx(2 / 3 * (630 - 30) / 630 + 1 / 3 * 30 / 630, abs=0.03)


def test_pinning_keeps_a_vcpu_on_its_pcpus():
    host, vms = host_with(credit(), ["spin"] * 3, pcpus=2)
    host.pin(host.view(vms[0]), {1})
    host.run(ms(100))
    assert {s.pcpu for s in SL.slices(host.trace, host.now) if s.vm == vms[0].id} == {1}


def edf_pair(tasks):
    host, vms = host_with(EDF(period_ns=ms(10), budget_ns=ms(4)), ["spin"] * len(tasks))
    for vm, (period, budget) in zip(vms, tasks):
        host.view(vm).params.update(period=period, budget=budget)
    host.set_policy(EDF())                       # servers start with these parameters
    return host


def test_edf_meets_every_deadline_below_full_utilisation():
    tasks = [(ms(10), ms(4)), (ms(20), ms(5))]
    host = edf_pair(tasks)
    host.run(ms(1000))
    assert [host.policy.misses(v) for v in host.vcpus] == [0, 0]
    shares = M.vm_shares(host)
    assert shares[0] == pytest.approx(0.4, abs=0.002)
    assert shares[1] == pytest.approx(0.25, abs=0.002)


@pytest.mark.parametrize("tasks", [[(10, 6), (20, 10)], [(10, 5), (15, 9)]])
def test_an_overloaded_edf_set_misses_as_edf_predicts(tasks):
    tasks = [(ms(p), ms(b)) for p, b in tasks]
    host = edf_pair(tasks)
    host.run(ms(600))
    got = [host.policy.misses(v) for v in host.vcpus]
    want = edf_reference(tasks, ms(600))
    assert sum(want) > 0
    assert got == want


def co_scenario(policy):
    """VM 0 has two vCPUs (started together), pinned one per pCPU; VM 1's one vCPU shares
    pCPU 0.  Scheduled independently, vCPU 0.1 runs twice as much as 0.0."""
    host, (x, y) = host_with(policy, [("spin", {"vcpus": 2, "firmware": True}), "spin"],
                             pcpus=2)
    host.pin(host.view(x, 0), {0})
    host.pin(host.view(x, 1), {1})
    host.pin(host.view(y, 0), {0})
    host.run(ms(300))
    return host, host.max_skew.get(x.id, 0)


def test_coscheduling_strict_bounds_the_skew_and_relaxed_lets_it_grow():
    _, free = co_scenario(RoundRobin(slice_ns=ms(10)))
    strict_host, strict = co_scenario(CoSchedule("strict", slice_ns=ms(10)))
    relaxed_host, relaxed = co_scenario(CoSchedule("relaxed", slice_ns=ms(10),
                                                   skew_limit_ns=ms(3)))
    assert free > ms(100)                    # unbounded: grows with time
    assert strict <= ms(1)                   # one window
    assert strict < relaxed <= ms(3) + ms(1)
    assert M.vcpu_rows(relaxed_host)[1]["costop_ms"] > 0
    # strict co-scheduling pays in idle time on pCPU 1
    assert strict_host.pcpus[1].idle_ns > relaxed_host.pcpus[1].idle_ns


def test_fair_share_follows_weights():
    host, _ = weighted(FairShare(min_slice_ns=ms(1), max_slice_ns=ms(10),
                                 granularity_ns=ms(2)), [256, 768])
    host.run(ms(2000))
    check_shares(host)


def test_priority_runs_the_highest_and_starves_the_rest():
    host, vms = host_with(Priority(slice_ns=ms(10)), ["spin", "spin", "spin"])
    host.view(vms[1]).params["priority"] = 5
    host.run(ms(100))
    assert M.vm_shares(host) == {0: 0.0, 1: 1.0, 2: 0.0}


@pytest.mark.parametrize("make, message", [
    (lambda: RoundRobin(slice_ns=0), "slice_ns must be a positive number of ns, not 0"),
    (lambda: Credit(tick_ns=-5), "tick_ns must be"),
    (lambda: EDF(budget_ns=1.5), "budget_ns must be"),
    (lambda: FairShare(granularity_ns=0), "granularity_ns must be"),
    (lambda: Priority(slice_ns=True), "slice_ns must be"),
    (lambda: CoSchedule("strict", skew_limit_ns=0), "skew_limit_ns must be"),
    (lambda: CoSchedule("loose"), "'strict' or 'relaxed', not 'loose'"),
])
def test_bad_policy_parameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
