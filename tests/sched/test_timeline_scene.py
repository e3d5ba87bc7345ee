"""The timeline's picture, checked without a browser: one box per slice of the trace, in
its VM's colour, with the policy's decision as hover text; marks; the SVG export."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sched_support import host_with, ms

from vmlab.hv.sched import EDF, Credit
from vmlab.hv.sched import slices as SL
from vmlab.viz.style import vm_colour
from vmlab.viz.timeline import Timeline, timeline_scene


@pytest.fixture(scope="module")
def credit_host():
    host, _ = host_with(Credit(slice_ns=ms(30), tick_ns=ms(10), period_ns=ms(30)),
                        ["spin", "spin", ("iobound", {"SLEEP": 200})], pcpus=2)
    host.run(ms(100))
    return host


def test_one_box_per_slice_in_its_lane_and_colour(credit_host):
    sc = timeline_scene(credit_host)
    slices = SL.slices(credit_host.trace, credit_host.now)
    boxes = [s for s in sc.shapes if s["id"].startswith("s-")]
    assert len(boxes) == len(slices) > 10
    for s in slices:
        box = sc.get(f"s-{s.pcpu}-{s.start}")
        assert box["cls"] == f"vm{s.vm}"
        assert f"chosen: {s.why}" in box["title"]
        assert box["y"] == sc.get(f"lane-{s.pcpu}")["y"] + 2
    # lanes are the pCPUs; the boxes of a lane cover exactly its busy time
    for p in credit_host.pcpus:
        width = sum(b["w"] for b in boxes if b["y"] == sc.get(f"lane-{p.id}")["y"] + 2)
        assert width == pytest.approx(900 * p.busy_ns / credit_host.now, abs=len(boxes) * 0.1)
    assert any("BOOST" in b["title"] for b in boxes)          # the I/O vCPU was boosted
    assert [w for _, w in sc.legend] == ["VM 0", "VM 1", "VM 2"]


def test_a_zoomed_window_shows_only_its_slices(credit_host):
    start, end = ms(40), ms(50)
    sc = timeline_scene(credit_host, start, end)
    for b in (s for s in sc.shapes if s["id"].startswith("s-")):
        assert 64 <= b["x"] and b["x"] + b["w"] <= 964 + 0.5


def test_a_crowded_view_draws_the_majority_per_column(credit_host, monkeypatch):
    from vmlab.viz import timeline
    monkeypatch.setattr(timeline, "MAX_SLICES", 5)
    sc = timeline_scene(credit_host)
    boxes = [s for s in sc.shapes if s["id"].startswith("s-")]
    assert 0 < len(boxes) <= 2 * 450
    assert all("zoomed out" in b["title"] for b in boxes)
    # the CPU-bound vCPU that had pCPU 1 to itself fills its lane
    lane1 = [b for b in boxes if b["y"] == sc.get("lane-1")["y"] + 2]
    assert sum(b["w"] for b in lane1) == pytest.approx(900, abs=3)


def test_deadline_misses_are_marked():
    host, vms = host_with(EDF(period_ns=ms(10), budget_ns=ms(6)), ["spin", "spin"])
    host.run(ms(100))
    sc = timeline_scene(host)
    assert any(s["id"].startswith("m-deadline-miss") for s in sc.shapes)


def test_static_svg_export(credit_host, tmp_path):
    tl = Timeline(credit_host)
    text = tl.svg(tmp_path / "t.svg")
    root = ET.fromstring((tmp_path / "t.svg").read_text())
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert text.startswith("<svg")
    assert sum(r.get("fill") == vm_colour(1) for r in rects) > 0
    assert "pCPU 1" in text
    assert "credit on 2 pCPU(s)" in tl.text() and "vm2.0" in tl.text()


def test_live_run_redraws_and_zoom_messages(credit_host):
    host, _ = host_with(Credit(slice_ns=ms(30), tick_ns=ms(10), period_ns=ms(30)),
                        ["spin", "spin"])
    tl = Timeline(host, rate=1000.0)
    first = tl.updates
    tl.run(ms(50), chunk_ns=ms(5))
    assert tl.updates > first + 1 and host.now == ms(50)
    tl._on_msg(tl, {"type": "zoom", "factor": 0.5}, [])
    assert tl.span_ns == ms(25)
    tl._on_msg(tl, {"type": "pan", "by": -0.5}, [])
    assert tl.window() == (ms(12.5), ms(37.5))
    tl._on_msg(tl, {"type": "follow"}, [])
    assert tl.window() == (0, ms(50))
