"""Exits per technique, as stacked bars: what each way of virtualizing the same guest costs.

One bar per technique (bare, shadow, paravirtual switches, hardware-assisted -- whatever
names the input uses), cut into one segment per kind of exit (the hypervisor's handler:
csr, sbi, mmio, fill ...), coloured by its family (``style.EXIT``: ecall/SBI blue, CSR and
privileged instructions purple, page faults and fills orange, MMIO teal, interrupts grey).
A segment's hover text gives its count and its modelled cycles (the cost model of
``vmlab nanobench``: each exit costs a world switch plus its handler).  The bars measure
exits or cycles (:attr:`ExitBreakdown.metric`), on a linear or a log scale
(:attr:`ExitBreakdown.scale`; on a log scale a bar's *length* is logarithmic and its
segments share that length in proportion to their values, so the mix stays readable when
one technique exits a thousand times more than another).

The input is either

- ``{technique: trace}`` -- hypervisor traces (``vm.trace``; a VM is taken for its trace):
  every exit the trace holds, by handler, with the cost the trace recorded; one group; or
- the report of ``vmlab nanobench`` (:func:`vmlab.bench.nanobench.nanobench`): one group
  per benchmark, exits and cycles *per operation*; cycles not spent in exits are drawn as
  the guest's own work; techniques the report lists as pending are drawn as not measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import traitlets

from vmlab.hv.trace import EXIT
from vmlab.viz._base import CSS, Widget, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import EXIT as EXIT_COLOURS
from vmlab.viz.traps import exit_kind

LEFT, WIDTH, BAR_H, GAP, HEAD = 140, 640, 22, 8, 26
TOTAL_W = 230                    #: room right of the longest bar for its total
#: the family (colour) of each handler the hypervisor records; others by their causes
FAMILY = {"sbi": "ecall", "csr": "csr", "sret": "csr", "mret": "csr", "wfi": "csr",
          "sfence.vma": "csr", "fill": "page", "pt-write": "page", "mmu_update": "page",
          "mmio": "mmio", "timer": "interrupt", "interrupt": "interrupt"}
GUEST = "guest"                  #: the segment of cycles spent running guest instructions

EXITCHART_CSS = "".join(
    f".vmlab-scene rect.exit-{k}, .vmlab-legend rect.exit-{k} {{ fill: var(--vmlab-exit-{k}); "
    "stroke: #fff; }\n" for k in EXIT_COLOURS) + (
    ".vmlab-scene rect.exit-guest, .vmlab-legend rect.exit-guest { fill: #e4e4e4; stroke: #fff; }\n"
    ".vmlab-scene text.seg { fill: #fff; font-size: 10px; }\n"
    ".vmlab-scene text.seg.exit-guest { fill: #555; }\n"
    ".vmlab-scene rect.pending { fill: #fff; stroke: #aaa; }\n"
    ".vmlab-exitchart { font-family: var(--vmlab-font); font-size: 12px; margin: 4px 0; }\n")


@dataclass
class Segment:
    kind: str            #: the handler (or GUEST)
    count: float         #: exits (per operation, for a report)
    cycles: float        #: modelled cycles
    family: str          #: colour role: a key of style.EXIT, or GUEST


@dataclass
class Bar:
    technique: str
    segments: list[Segment] = field(default_factory=list)
    measured: bool = True

    def total(self, metric: str) -> float:
        return sum(_value(s, metric) for s in self.segments)


def _value(seg: Segment, metric: str) -> float:
    if metric == "exits":
        return 0.0 if seg.kind == GUEST else seg.count
    return seg.cycles


# --- reading the input -----------------------------------------------------------------------

def _trace_of(source):
    trace = getattr(source, "trace", source)
    if not hasattr(trace, "records"):
        raise TypeError(f"not a trace or a VM: {type(source).__name__}")
    return trace


def trace_bar(technique: str, trace) -> Bar:
    """A trace's exits by handler: count, recorded cost, family (from the handler's name,
    else the causes its exits had)."""
    rec = trace.records(EXIT)
    bar = Bar(technique)
    for hid in sorted(set(rec["handler"].tolist())):
        mine = rec[rec["handler"] == hid]
        name = trace.names[hid]
        causes = [exit_kind(int(c)) for c in mine["cause"].tolist()]
        family = FAMILY.get(name) or max(set(causes), key=causes.count)
        bar.segments.append(Segment(name, len(mine), float(mine["cost"].sum()), family))
    bar.segments.sort(key=lambda s: (-s.count, s.kind))
    return bar


def report_bars(report: dict, bench: str) -> list[Bar]:
    """One benchmark's row of a nanobench report, one bar per technique (per operation)."""
    costs = report.get("cost_model", {}).get("exit", {})
    switch = costs.get("switch", 0)
    row = report["results"][bench]
    bars = []
    for t in _techniques(report):
        cell = row.get(t)
        if cell is None:
            bars.append(Bar(t, measured=False))
            continue
        segs = [Segment(h, k, k * (switch + costs.get(h, 0)), FAMILY.get(h, "other"))
                for h, k in sorted(cell["handlers"].items(), key=lambda kv: (-kv[1], kv[0]))]
        guest = cell["cycles"] - sum(s.cycles for s in segs)
        bars.append(Bar(t, segs + [Segment(GUEST, 0, max(0.0, guest), GUEST)]))
    return bars


def _techniques(report: dict) -> list[str]:
    """The report's techniques, then those it names as pending (not measured yet)."""
    names = list(report.get("techniques", []))
    return names + [p for p in report.get("pending", []) if p not in names]


def groups(source, bench=None) -> dict[str, list[Bar]]:
    """{group title: bars}: one group for traces, one per benchmark for a report."""
    if isinstance(source, dict) and "results" in source:
        names = [bench] if isinstance(bench, str) else list(bench or source["results"])
        missing = [b for b in names if b not in source["results"]]
        if missing:
            raise ValueError(f"no benchmark {missing[0]!r} in the report: it has "
                             f"{', '.join(source['results'])}")
        what = source.get("benches", {})
        return {f"{b}: {what.get(b, {}).get('what', '')}".rstrip(": "): report_bars(source, b)
                for b in names}
    if not isinstance(source, dict) or not source:
        raise TypeError("ExitBreakdown wants {technique: trace} or a nanobench report")
    return {"exits by handler": [trace_bar(t, _trace_of(tr)) for t, tr in source.items()]}


# --- the picture ------------------------------------------------------------------------------

def _length(value: float, top: float, scale: str) -> float:
    if value <= 0 or top <= 0:
        return 0.0
    if scale == "log":
        return WIDTH * math.log10(1 + value) / math.log10(1 + top)
    return WIDTH * value / top


def _num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) or x >= 100 else f"{x:.2f}"


def chart_scene(gs: dict[str, list[Bar]], metric: str = "exits", scale: str = "linear") -> Scene:
    s = Scene()
    y, families = 0, set()
    for g, (title, bars) in enumerate(gs.items()):
        s.text(f"group-{g}", 0, y + 14, title, "title")
        y += HEAD
        top = max((b.total(metric) for b in bars), default=0)
        for bar in bars:
            families |= _bar(s, g, bar, y, top, metric, scale)
            y += BAR_H + GAP
        y += GAP
    unit = "exits" if metric == "exits" else "modelled cycles"
    s.text("axis", LEFT, y + 10, f"bar length: {unit}, {scale} scale (longest bar of a group "
           f"= {WIDTH} px)", "muted")
    s.legend = [[f"exit-{f}", f] for f in (*EXIT_COLOURS, GUEST) if f in families]
    s.width = max(s.width, LEFT + WIDTH + TOTAL_W)       # (texts have no width of their own)
    return s


def _bar(s: Scene, g: int, bar: Bar, y: int, top: float, metric: str, scale: str) -> set:
    """One technique's bar: its label, its segments, its total; returns the families drawn."""
    key = f"{g}:{bar.technique}"           # (":" -- names hold dashes: write-protect, pt-write)
    s.text(f"label-{key}", LEFT - 8, y + BAR_H // 2 + 4, bar.technique, "title", anchor="end")
    if not bar.measured:
        s.box(f"pending-{key}", LEFT, y, 90, BAR_H, "pending", "not measured", dash=True)
        return set()
    total = bar.total(metric)
    length = _length(total, top, scale)
    x, drawn = float(LEFT), set()
    for seg in bar.segments:
        v = _value(seg, metric)
        if v <= 0:
            continue
        w = length * v / total
        title = (f"{bar.technique} · {seg.kind}: {_num(seg.count)} exits, {_num(seg.cycles)} modelled cycles"
                 if seg.kind != GUEST else f"{bar.technique} · the guest's own instructions: "
                 f"{_num(seg.cycles)} cycles")
        s.box(f"seg-{key}:{seg.kind}", round(x, 1), y, max(0.5, round(w, 1)), BAR_H,
              f"exit-{seg.family}", title=title)
        if w > 7 * len(seg.kind) + 6:
            s.text(f"segl-{key}:{seg.kind}", round(x + 3, 1), y + BAR_H // 2 + 4, seg.kind,
                   f"seg exit-{seg.family}")
        x += w
        drawn.add(seg.family)
    exits = sum(seg.count for seg in bar.segments)
    cycles = sum(seg.cycles for seg in bar.segments)
    s.text(f"total-{key}", round(x + 6, 1), y + BAR_H // 2 + 4,
           f"{_num(exits)} exits · {_num(cycles)} cycles", "muted")
    return drawn


def chart_text(gs: dict[str, list[Bar]]) -> str:
    lines = []
    for title, bars in gs.items():
        lines.append(title)
        for bar in bars:
            if not bar.measured:
                lines.append(f"  {bar.technique:14} not measured")
                continue
            parts = ", ".join(f"{s.kind} {_num(s.count)}" for s in bar.segments if s.kind != GUEST)
            lines.append(f"  {bar.technique:14} {_num(bar.total('exits')):>8} exits "
                         f"{_num(bar.total('cycles')):>10} cycles  {parts or '-'}")
    return "\n".join(lines)


class ExitBreakdown(Widget):
    """The per-technique exit chart of ``source`` (see the module's docstring); ``bench``
    picks one benchmark (or a list) of a nanobench report.  :meth:`refresh` re-reads live
    traces."""

    _esm = scene_esm("exitchart")
    _css = CSS + EXITCHART_CSS
    scene = traitlets.Dict({}).tag(sync=True)
    metric = traitlets.Unicode("exits").tag(sync=True)
    scale = traitlets.Unicode("linear").tag(sync=True)

    def __init__(self, source, *, metric: str = "exits", scale: str = "linear", bench=None,
                 **kwargs):
        _check(metric, scale)
        super().__init__(metric=metric, scale=scale, **kwargs)
        self.source, self.bench = source, bench
        self.groups = groups(source, bench)
        self.on_msg(self._on_msg)
        self.observe(lambda _: self._draw(), names=["metric", "scale"])
        self._draw()

    def _draw(self) -> None:
        _check(self.metric, self.scale)
        with self.hold_sync():
            self.scene = chart_scene(self.groups, self.metric, self.scale).to_json()
            self.updates += 1

    def refresh(self) -> None:
        self.groups = groups(self.source, self.bench)
        self._draw()

    def text(self) -> str:
        return chart_text(self.groups)

    def _on_msg(self, _, content, buffers) -> None:
        if content.get("type") == "toggle" and content.get("what") in ("metric", "scale"):
            choices = {"metric": ("exits", "cycles"), "scale": ("linear", "log")}[content["what"]]
            now = getattr(self, content["what"])
            setattr(self, content["what"], choices[1 - choices.index(now)])


def _check(metric: str, scale: str) -> None:
    if metric not in ("exits", "cycles"):
        raise ValueError(f"metric must be 'exits' or 'cycles', not {metric!r}")
    if scale not in ("linear", "log"):
        raise ValueError(f"scale must be 'linear' or 'log', not {scale!r}")
