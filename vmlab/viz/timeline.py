"""The scheduling timeline: a Gantt chart of who ran on which pCPU, and why.

One lane per pCPU; each slice a box in its VM's colour (``style.vm_colour``) labelled with
the vCPU, its hover text the policy's decision ("UNDER credit 4.2 ms", "deadline 3.0 ms"
...) and what ended it; gaps are idle time.  Above the lanes, marks for wakes, deadline
misses and co-stops; at the foot of each slice, a tick for every exit and injected
interrupt of that vCPU.  Beside it, a table of the metrics (vmlab.hv.sched.metrics).

The picture is a scene (vmlab.viz.scene), laid out here from the host's trace -- so it
draws the same live, while :meth:`Timeline.run` drives the host, or from a finished run --
and ``js/timeline.js`` draws it with the shared ``scene.js``.  :meth:`Timeline.svg` writes
the same scene as a standalone SVG file for reports.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import traitlets

from vmlab.hv.sched import metrics
from vmlab.hv.sched import slices as SL
from vmlab.hv.trace import EXIT, INJECT
from vmlab.viz._base import CSS, Throttle, Widget, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import STATE, VM, vm_colour

LEFT, TOP, LANE, GAP, WIDTH = 64, 34, 26, 8, 900
MAX_SLICES, MAX_TICKS, MAX_MARKS = 2000, 600, 400
MARK_CLS = {"wake": "muted", "deadline-miss": "fault", "co-stop": "vpn2"}
MARK_GLYPH = {"wake": "▾", "deadline-miss": "✕", "co-stop": "‖"}

#: slice colours: one rule per VM colour of the shared palette
TIMELINE_CSS = "".join(
    f".vmlab-scene rect.vm{i}, .vmlab-legend rect.vm{i} {{ fill: var(--vmlab-vm{i}); "
    f"stroke: #fff; stroke-width: 0.5; }}\n" for i in range(len(VM))) + (
    ".vmlab-scene rect.lane { fill: #fafafa; stroke: #ddd; }\n"
    ".vmlab-scene rect.exittick { fill: var(--vmlab-ink); stroke: none; }\n"
    ".vmlab-scene text.slice { fill: #fff; font-size: 10px; }\n"
    ".vmlab-timeline table { border-collapse: collapse; font-size: 11px; margin-top: 6px; }\n"
    ".vmlab-timeline td, .vmlab-timeline th { padding: 1px 6px; text-align: right; }\n")


def _x(t: int, start: int, end: int) -> float:
    return LEFT + (t - start) * WIDTH / max(1, end - start)


def timeline_scene(host, start: int | None = None, end: int | None = None) -> Scene:
    """The scene of ``host``'s schedule between ``start`` and ``end`` (ns; default all)."""
    end = host.now if end is None else end
    start = 0 if start is None else start
    sc = Scene()
    _axis(sc, start, end)
    for p in host.pcpus:
        y = TOP + p.id * (LANE + GAP)
        sc.box(f"lane-{p.id}", LEFT, y, WIDTH, LANE, "lane")
        sc.text(f"lane-label-{p.id}", 4, y + LANE / 2 + 4, f"pCPU {p.id}", "title")
    shown = [s for s in SL.slices(host.trace, host.now) if s.end > start and s.start < end]
    for s in (shown if len(shown) <= MAX_SLICES else _binned(shown, start, end)):
        _slice(sc, s, start, end)
    _marks(sc, host, start, end)
    _exit_ticks(sc, host, shown, start, end)
    sc.legend = [[f"vm{vm.id % len(VM)}", f"VM {vm.id}"] for vm in host.hv.vms]
    sc.height = TOP + len(host.pcpus) * (LANE + GAP)
    return sc


def _axis(sc: Scene, start: int, end: int) -> None:
    span = max(1, end - start)
    step = 10 ** max(0, len(str(span // 5)) - 1)        # about 5-10 ticks
    while span // step > 10:
        step *= 2
    t = (start + step - 1) // step * step
    while t <= end:
        sc.text(f"tick-{t}", _x(t, start, end), 12, f"{t / 1e6:g} ms", "muted", anchor="middle")
        t += step


def _slice(sc: Scene, s, start: int, end: int) -> None:
    x0, x1 = _x(max(s.start, start), start, end), _x(min(s.end, end), start, end)
    y = TOP + s.pcpu * (LANE + GAP)
    name = f"vm{s.vm}.{s.vcpu}"
    title = (f"{name} on pCPU {s.pcpu}: {s.start / 1e6:.3f}-{s.end / 1e6:.3f} ms\n"
             f"chosen: {s.why or '-'}\nended: {s.left or 'still running'}")
    label = name if x1 - x0 > 8 * len(name) else None
    sc.box(f"s-{s.pcpu}-{s.start}", round(x0, 1), y + 2, max(0.5, round(x1 - x0, 1)), LANE - 4,
           f"vm{s.vm % len(VM)}", None, title=title)
    if label:
        sc.text(f"l-{s.pcpu}-{s.start}", round(x0 + 3, 1), y + LANE / 2 + 4, label, "slice")


def _binned(shown, start: int, end: int) -> list:
    """Too many slices to draw one by one: per pCPU and 2-pixel column, the VM that ran
    most of it; neighbouring columns of the same VM drawn as one box."""
    col = max(1, (end - start) * 2 // WIDTH)
    most: dict[tuple, dict] = {}
    for s in shown:
        for c in range(max(s.start, start) // col, (min(s.end, end) - 1) // col + 1):
            lo, hi = max(s.start, c * col), min(s.end, (c + 1) * col)
            cell = most.setdefault((s.pcpu, c), {})
            cell[(s.vm, s.vcpu)] = cell.get((s.vm, s.vcpu), 0) + hi - lo
    out = []
    for (pcpu, c), cell in sorted(most.items()):
        if sum(cell.values()) * 2 < col:
            continue                                  # mostly idle: leave the gap
        (vm, vcpu), _ = max(cell.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        mix = ", ".join(f"vm{a}.{b} {ns * 100 // col}%" for (a, b), ns in sorted(cell.items()))
        prev = out[-1] if out else None
        if prev and prev.pcpu == pcpu and (prev.vm, prev.vcpu) == (vm, vcpu) and prev.end == c * col:
            out[-1] = SL.Slice(pcpu, prev.start, (c + 1) * col, vm, vcpu, prev.why, "")
        else:
            out.append(SL.Slice(pcpu, c * col, (c + 1) * col, vm, vcpu,
                                f"(zoomed out: the vCPU that ran most here) {mix}", ""))
    return out


def _marks(sc: Scene, host, start: int, end: int) -> None:
    shown = [m for m in SL.marks(host.trace) if start <= m.time <= end]
    for m in shown[-MAX_MARKS:]:
        x = _x(m.time, start, end)
        sc.text(f"m-{m.kind}-{m.time}-{m.vm}-{m.vcpu}", round(x, 1), 26,
                MARK_GLYPH[m.kind], MARK_CLS[m.kind], anchor="middle",
                title=f"{m.kind} vm{m.vm}.{m.vcpu} at {m.time / 1e6:.3f} ms {m.detail}")


def _exit_ticks(sc: Scene, host, shown, start: int, end: int) -> None:
    """A short tick at the foot of the slice for each exit or injection in it."""
    n = 0
    for vm in host.hv.vms:
        rec = vm.trace.records()
        rec = rec[((rec["kind"] == EXIT) | (rec["kind"] == INJECT))
                  & (rec["time"] >= start) & (rec["time"] <= end)]
        for r in rec[-MAX_TICKS:]:
            s = _slice_at(shown, vm.id, int(r["vcpu"]), int(r["time"]))
            if s is None or n >= MAX_TICKS:
                continue
            y = TOP + s.pcpu * (LANE + GAP) + LANE - 6
            sc.box(f"x-{vm.id}-{int(r['seq'])}", round(_x(int(r["time"]), start, end), 1), y,
                   1, 4, "exittick", title=vm.trace.names[r["handler"]])
            n += 1


def _slice_at(shown, vm: int, vcpu: int, t: int):
    for s in shown:
        if s.vm == vm and s.vcpu == vcpu and s.start <= t <= s.end:
            return s
    return None


def to_svg(scene: Scene) -> str:
    """A standalone SVG of a timeline scene (colours inline: no notebook needed)."""
    j = scene.to_json()
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{j["width"]}" '
           f'height="{j["height"]}" font-family="monospace" font-size="11">']
    for s in j["shapes"]:
        title = f"<title>{escape(s['title'])}</title>" if s.get("title") else ""
        if s["t"] == "box":
            out.append(f'<rect x="{s["x"]}" y="{s["y"]}" width="{s["w"]}" height="{s["h"]}" '
                       f'fill="{_fill(s["cls"])}" stroke="#ccc" stroke-width="0.5">{title}</rect>')
        elif s["t"] == "text":
            colour = "#fff" if s["cls"] == "slice" else STATE["ink"]
            out.append(f'<text x="{s["x"]}" y="{s["y"]}" fill="{colour}" '
                       f'text-anchor="{s.get("anchor", "start")}">{escape(s["label"])}{title}</text>')
    return "\n".join(out + ["</svg>"])


def _fill(cls: str) -> str:
    if cls.startswith("vm") and cls[2:].isdigit():
        return vm_colour(int(cls[2:]))
    return {"lane": "#fafafa", "exittick": STATE["ink"]}.get(cls, "#fff")


class Timeline(Widget):
    """The live timeline of a :class:`vmlab.hv.sched.Host` (zoom with ``span_ns``; pan
    with ``end_ns``, or leave it at 0 to follow the newest time)."""

    _esm = scene_esm("timeline")
    _css = CSS + TIMELINE_CSS
    scene = traitlets.Dict({}).tag(sync=True)
    rows = traitlets.List([]).tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    span_ns = traitlets.Int(0).tag(sync=True)      # 0: everything so far
    end_ns = traitlets.Int(0).tag(sync=True)       # 0: follow the present

    def __init__(self, host, span_ns: int = 0, rate: float = 5.0, **kwargs):
        super().__init__(span_ns=span_ns, **kwargs)
        self.host, self._throttle = host, Throttle(rate)
        self.on_msg(self._on_msg)
        self.refresh()

    def window(self) -> tuple[int, int]:
        end = self.end_ns or self.host.now
        return (max(0, end - self.span_ns) if self.span_ns else 0), max(end, 1)

    def refresh(self) -> None:
        start, end = self.window()
        with self.hold_sync():
            self.scene = timeline_scene(self.host, start, end).to_json()
            self.rows = metrics.vcpu_rows(self.host)
            self.summary = (f"{self.host.policy.name} on {len(self.host.pcpus)} pCPU(s), "
                            f"{self.host.now / 1e6:.3f} ms simulated")
            self.updates += 1

    def run(self, ns: int, chunk_ns: int | None = None) -> str:
        """Run the host ``ns`` more, redrawing a few times a second as it goes."""
        chunk = chunk_ns or max(self.host.window_ns, ns // 50)
        end, reason = self.host.now + ns, "time"
        while self.host.now < end and reason == "time":
            reason = self.host.run(min(chunk, end - self.host.now))
            if self._throttle.ready():
                self.live_refresh()
        self.refresh()
        return reason

    def _on_msg(self, _, content, buffers) -> None:
        """Zoom and pan from the browser's buttons."""
        span = self.span_ns or max(1, self.host.now)
        end = self.end_ns or self.host.now
        if content.get("type") == "zoom":
            self.span_ns = max(self.host.window_ns, int(span * content.get("factor", 1.0)))
        elif content.get("type") == "pan":
            self.end_ns = min(self.host.now, max(span, end + int(span * content["by"])))
        elif content.get("type") == "follow":
            self.span_ns, self.end_ns = 0, 0
        self.refresh()

    def svg(self, path=None) -> str:
        """The picture as it is now, as SVG text (written to ``path`` if given)."""
        start, end = self.window()
        text = to_svg(timeline_scene(self.host, start, end))
        if path is not None:
            Path(path).write_text(text)
        return text

    def text(self) -> str:
        return self.summary + "\n" + metrics.table(self.host)
