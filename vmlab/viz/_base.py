"""What every vmlab widget shares: its front-end files, a stable repr, and throttling.

Widgets are anywidget classes: a small ES module in ``js/`` draws the synced traits, with
no build step.  Picture widgets get ``js/scene.js`` (the shared SVG drawing code) in front
of their own module, and every widget gets the palette of :mod:`vmlab.viz.style` as CSS
variables in front of ``js/vmlab.css``.  A widget *reads* a model (a Machine through its
public API, a trace, a page-table root) when asked to ``refresh()``; it never writes
machine state itself.
"""
from __future__ import annotations

import time
from pathlib import Path

import anywidget
import traitlets

from vmlab.viz.style import CSS_VARS

JS = Path(__file__).parent / "js"
CSS = CSS_VARS + (JS / "vmlab.css").read_text()


#: a view refreshed live spends at most 1/LIVE_SHARE of the time on drawing itself
LIVE_SHARE = 40


class Widget(anywidget.AnyWidget):
    """Base class: ``updates`` counts refreshes pushed to the browser."""

    _css = CSS
    updates = traitlets.Int(0).tag(sync=True)
    _live_next = 0.0

    def live_refresh(self) -> None:
        """``refresh()``, unless the last one was so expensive that another now would take
        more than 1/LIVE_SHARE of the guest's time (a 10,000-entry tree takes ~50 ms to
        read and lay out: redrawn live at most every 2 s, so the guest keeps its speed)."""
        now = time.perf_counter()
        if now < self._live_next:
            return
        self.refresh()
        self._live_next = now + (time.perf_counter() - now) * LIVE_SHARE

    def __repr__(self) -> str:
        # A stable text (no object address) keeps notebooks diff-able and nbval happy.
        return f"<vmlab {type(self).__name__}>"

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, with the picture in words as text/plain: what a terminal or
        ``nbconvert --to text`` shows where no browser draws the widget."""
        bundle = super()._repr_mimebundle_(**kwargs)
        text = getattr(self, "text", None)
        if bundle is not None and callable(text):
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            data["text/plain"] = text()
        return bundle


def esm(name: str) -> Path:
    return JS / f"{name}.js"


def scene_esm(name: str) -> str:
    """A picture widget's module: the shared SVG drawing code, then the widget's own."""
    return (JS / "scene.js").read_text() + "\n" + esm(name).read_text()


def reader(source):
    """``read64(pa)`` from a Machine (its RAM) or from a ``read64`` function given as is."""
    if callable(source) and not hasattr(source, "read_mem"):
        return source
    return machine_read64(source)


class Throttle:
    """Says "now" at most ``rate`` times a second.

    Drawing costs the guest time (reading state, serialising, sending); at 5 updates a
    second a live view stays far under the 5% the labs allow, and an eye sees no stutter.
    """

    def __init__(self, rate: float = 5.0):
        self.interval = 1.0 / rate
        self._last = 0.0

    def ready(self) -> bool:
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


def machine_read64(machine):
    """``read64(pa)`` over a machine's RAM, as :func:`vmlab.sv39.walk` wants it (None off RAM)."""
    def read64(pa: int):
        try:
            return int.from_bytes(machine.read_mem(pa, 8), "little")
        except Exception:
            return None
    return read64
