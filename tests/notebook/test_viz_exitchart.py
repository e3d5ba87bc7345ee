"""The per-technique exit chart, from real runs: a nanobench report and the traces of guests
run under two techniques.  The drawn bars must carry exactly the exits and the modelled
cycles of their input, in segments whose widths add up to the bar's length on either scale."""
from __future__ import annotations

import copy
import math
from collections import Counter

import pytest

from nb_kernels import require

require("anywidget")

from vmlab.bench.nanobench import hv_vm, nanobench                  # noqa: E402
from vmlab.guests import nano                                      # noqa: E402
from vmlab.hv.trace import EXIT                                    # noqa: E402
from vmlab.viz import ExitBreakdown                                # noqa: E402
from vmlab.viz.exitchart import LEFT, WIDTH, chart_scene, groups   # noqa: E402


@pytest.fixture(scope="module")
def report():
    return nanobench(n=20, names=["syscall", "ptemod"], repeats=1)


def bars_of(scene: dict, group: int) -> dict[str, list[dict]]:
    """technique -> its segment boxes, in drawing order."""
    out: dict[str, list[dict]] = {}
    for s in scene["shapes"]:
        if s["id"].startswith(f"seg-{group}:"):
            out.setdefault(s["id"].split(":")[1], []).append(s)
    return out


def test_report_bars_carry_the_reports_numbers(report):
    view = ExitBreakdown(report, metric="cycles")
    gs = groups(report)
    assert list(gs) == ["syscall: ecall from U to the kernel and sret back",
                        "ptemod: change a PTE, sfence.vma that page, touch it"]
    switch = report["cost_model"]["exit"]["switch"]
    for g, (bench, row) in enumerate(report["results"].items()):
        segs = bars_of(view.scene, g)
        for tech, cell in row.items():
            drawn = {s["id"].split(":")[2]: s for s in segs.get(tech, [])}
            assert set(drawn) - {"guest"} == set(cell["handlers"])
            for h, k in cell["handlers"].items():
                cost = k * (switch + report["cost_model"]["exit"][h])
                assert f"{h}: {k:g} exits, {cost:,.0f} modelled cycles" in drawn[h]["title"]
            # the cost model accounts for every cycle: the rest is the guest's instructions
            guest = cell["cycles"] - sum(k * (switch + report["cost_model"]["exit"][h])
                                         for h, k in cell["handlers"].items())
            assert guest == pytest.approx(cell["instructions"])
        pending = [s for s in view.scene["shapes"] if s["id"] == f"pending-{g}:hw"]
        assert pending and pending[0]["label"] == "not measured"


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_segment_widths_add_up_to_the_scaled_total(report, scale):
    gs = groups(report, "syscall")
    scene = chart_scene(gs, "cycles", scale).to_json()
    totals = {b.technique: b.total("cycles") for b in gs[next(iter(gs))] if b.measured}
    top = max(totals.values())
    for tech, segs in bars_of(scene, 0).items():
        length = sum(s["w"] for s in segs)
        want = WIDTH * (math.log10(1 + totals[tech]) / math.log10(1 + top) if scale == "log"
                        else totals[tech] / top)
        assert length == pytest.approx(want, abs=0.5 * len(segs))
        assert segs[0]["x"] == LEFT
        for a, b in zip(segs, segs[1:]):                          # stacked, end to end
            assert b["x"] == pytest.approx(a["x"] + a["w"], abs=0.11)
    # a system call costs the bare machine its instructions, trap-and-emulate hundreds more
    assert totals["sfence"] > 50 * totals["bare"]


def test_any_technique_names(report):
    """The chart takes whatever techniques the report names, a measured hw column included."""
    r = copy.deepcopy(report)
    r["techniques"].append("hw")
    r["pending"] = []
    for row in r["results"].values():
        row["hw"] = dict(row["bare"], handlers={"sbi": 1.0}, exits=1.0)
        row["hw"]["cycles"] = row["bare"]["cycles"] + 450
    view = ExitBreakdown(r, bench="syscall")
    segs = bars_of(view.scene, 0)
    assert [s["id"] for s in segs["hw"]] == ["seg-0:hw:sbi"]
    assert "exit-ecall" in segs["hw"][0]["cls"] and "1 exits" in view.text().split("hw")[1].split("\n")[0]
    assert not [s for s in view.scene["shapes"] if s["id"].startswith("pending-")]


def run_ptemod(strategy: str):
    program = nano.build("ptemod", 10)
    vm = hv_vm(strategy)
    vm.boot(kernel=program.elf)
    vm.vcpus[0].set_pc(program.symbols["s_start"])
    assert vm.run().reason == "halt"
    return vm


def test_traces_of_two_techniques():
    vms = {"sfence": run_ptemod("sfence"), "write-protect": run_ptemod("write-protect")}
    view = ExitBreakdown({t: vm.trace for t, vm in vms.items()})
    segs = bars_of(view.scene, 0)
    for tech, vm in vms.items():
        rec = vm.trace.records(EXIT)
        want = Counter(vm.trace.names[h] for h in rec["handler"].tolist())
        got = {s["id"].split(":")[2]: s for s in segs[tech]}
        assert set(got) == set(want)
        for h, k in want.items():
            cost = int(rec["cost"][rec["handler"] == vm.trace.handler_id(h)].sum())
            assert f"{h}: {k} exits, {cost:,} modelled cycles" in got[h]["title"]
        widths = {h: s["w"] for h, s in got.items()}                 # exits: width ~ count
        biggest = max(want, key=want.get)
        assert widths[biggest] == max(widths.values())
    # write-protect shadow paging sees the PTE writes themselves; sfence mode does not
    assert "pt-write" in {s["id"].split(":")[2] for s in segs["write-protect"]}
    assert "pt-write" not in {s["id"].split(":")[2] for s in segs["sfence"]}
    # a VM is taken for its trace; the toggles redraw
    view2 = ExitBreakdown(vms)
    assert view2.scene["shapes"] == view.scene["shapes"]
    before = view.updates
    view._on_msg(view, {"type": "toggle", "what": "scale"}, [])
    view._on_msg(view, {"type": "toggle", "what": "metric"}, [])
    assert (view.scale, view.metric) == ("log", "cycles") and view.updates >= before + 2
    assert "modelled cycles, log scale" in next(s for s in view.scene["shapes"] if s["id"] == "axis")["label"]


def test_bad_input_says_what_is_wrong(report):
    with pytest.raises(ValueError, match="no benchmark 'nope'"):
        ExitBreakdown(report, bench="nope")
    with pytest.raises(ValueError, match="metric must be"):
        ExitBreakdown(report, metric="seconds")
    with pytest.raises(TypeError, match="technique: trace"):
        ExitBreakdown([1, 2])
