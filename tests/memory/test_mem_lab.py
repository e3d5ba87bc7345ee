"""Lab 05's graded coordinator exercise (rules, not one answer) and the memory-map widget's
picture as data."""
from __future__ import annotations

import random

import pytest

from vmlab.grading import lab05 as L5
from vmlab.grading.labs import ASSIGNMENTS


def test_lab05_is_registered_with_its_own_parameters():
    ex = ASSIGNMENTS["lab05"].exercises["coordinator"]
    a, b = ex.params("alice"), ex.params("bob")
    assert a == ex.params("alice") and 2 <= a["low"] < a["high"]
    text = ex.prompt("alice")
    assert "{high}" not in text and f"**{a['high']}%**" in text and f"**{a['low']}%**" in text
    assert {a["low"], b["low"], a["high"], b["high"]}               # (ids differ, instances may)


@pytest.mark.parametrize("seed", range(20))
def test_the_reference_answer_passes_and_wrong_ones_fail(seed):
    rng = random.Random(seed)
    params = ASSIGNMENTS["lab05"].exercises["coordinator"].params(f"student{seed}")
    for free in (0.005, params["low"] / 100 * 0.9, (params["low"] + params["high"]) / 200, 0.2):
        vms, host = L5.scenario(rng, params, free)
        rules = L5._rules(params, vms, host)
        good = L5.reference_targets(params, vms, host)
        assert L5.judge(good, rules), (rules, good)
        assert L5.judge({str(k): v for k, v in good.items()}, rules)    # keys come back as JSON
        assert not L5.judge({}, rules)
        if rules["mode"] == "reclaim":
            assert not L5.judge({v["vm_id"]: v["balloon_actual"] for v in vms}, rules)  # took nothing
            starve = {v["vm_id"]: v["balloon_actual"] + v["resident"] for v in vms}
            assert not L5.judge(starve, rules)                          # below min_pages
        if rules["mode"] == "release" and any(v["balloon_actual"] for v in vms):
            assert not L5.judge({v["vm_id"]: v["balloon_actual"] for v in vms}, rules)


def test_selfcheck_grades_a_notebook_function():
    from vmlab.grading import student
    params = student.params("lab05", "coordinator", "alice")
    ns = {"targets": lambda vms, host: L5.reference_targets(params, vms, host)}
    feedback = student.check("lab05", "coordinator", ns, "alice")
    assert "all correct (3/3)" in str(feedback), str(feedback)
    bad = student.check("lab05", "coordinator", {"targets": lambda vms, host: {}}, "alice")
    assert "all correct" not in str(bad) and "returned {}" in str(bad), str(bad)


def test_memory_map_shows_where_the_frames_are():
    from vmlab.guests import memtouch
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.memory import FrameAllocator
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    from vmlab.viz.memmap import MemoryMap
    hv = Hypervisor(Machine(ram_size=4 << 20))
    mm = HostMemory(hv, sharing="ksm")
    vms = [mm.create_vm(ram_size=4 << 20) for _ in range(2)]
    for vm in vms:
        memtouch.prepare(vm, seed=5, distinct=4, rounds=1)
    view = MemoryMap(mm)
    mm.run(instructions=4_000_000)
    view.refresh()
    c, f = view.counts(), hv.frames
    assert c["private"] == sum(int((f.owner == vm.id).sum()) for vm in vms) > 0
    assert c["shared"] == int((f.owner == FrameAllocator.SHARED).sum()) > 0
    assert c["shadow"] == int((f.owner == FrameAllocator.SHADOW).sum()) > 0
    assert c["free"] == f.free_count
    g = view.guests[1]
    assert g["resident"] == vms[1].mem.resident_pages and g["swapped"] == vms[1].mem.count(2) > 0
    assert g["cells"].count(3) == g["swapped"]                      # the strip shows them
    hpa = vms[0].mem.hpa(vms[0].mem.gpa_base, allocate=False)
    words = view.owners[str(f.index(hpa))]
    assert any("VM 0 gpa 0x80000000 gva 0x80000000" in w for w in words)
    assert len(view.series) == 2 and "VM 1:" in view.text()
