"""A drawing as data: the boxes, arrows and labels a picture widget sends to the browser.

Python decides *what* is drawn and where (so tests can check the picture against the
reference walker without a browser); ``js/scene.js`` only turns each shape into an SVG
element.  Every shape has an ``id`` that stays the same while it means the same thing
(slot 37 of the level-1 table is ``slot-1-37`` in every refresh), which is how the browser
knows what *changed* and makes it flash.

Shapes (all coordinates in pixels, origin top-left):

- ``box``:   x, y, w, h, cls, optional ``label`` (centred text), ``title`` (hover text),
  ``click`` (a message sent to the kernel when clicked), ``dash`` (drawn dashed),
  ``align`` ("start": the label left-aligned, as in a table's rows)
- ``text``:  x, y, label, cls, ``anchor`` ("start", "middle", "end")
- ``arrow``: x1, y1, x2, y2, cls, ``bend`` (a curve; 0 is straight), ``under`` (drawn
  beneath the boxes, for an arrow that runs across them)

and every shape may carry ``step``: it is shown from that step of an animation on (the
walk draws level by level; a widget without steps leaves it 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scene:
    width: int = 0
    height: int = 0
    shapes: list[dict] = field(default_factory=list)
    steps: int = 0                 #: how many animation steps (0: a still picture)
    legend: list = field(default_factory=list)

    def _add(self, kind: str, id: str, step: int, **attrs) -> dict:
        shape = {"t": kind, "id": id, "step": step}
        shape.update({k: v for k, v in attrs.items() if v is not None})
        self.shapes.append(shape)
        self.width = max(self.width, int(attrs.get("x", attrs.get("x2", 0)) + attrs.get("w", 0)))
        self.height = max(self.height, int(attrs.get("y", attrs.get("y2", 0)) + attrs.get("h", 0)))
        return shape

    def box(self, id: str, x, y, w, h, cls: str = "", label: str | None = None, *, step: int = 0,
            title: str | None = None, click: dict | None = None, dash: bool = False,
            align: str | None = None) -> dict:
        return self._add("box", id, step, x=x, y=y, w=w, h=h, cls=cls, label=label, title=title,
                         click=click, dash=dash or None, align=align)

    def text(self, id: str, x, y, label: str, cls: str = "", *, anchor: str = "start",
             step: int = 0, title: str | None = None) -> dict:
        return self._add("text", id, step, x=x, y=y, label=label, cls=cls, anchor=anchor, title=title)

    def arrow(self, id: str, x1, y1, x2, y2, cls: str = "", *, bend: float = 0, step: int = 0,
              under: bool = False) -> dict:
        return self._add("arrow", id, step, x1=x1, y1=y1, x2=x2, y2=y2, cls=cls, bend=bend or None,
                         under=under or None)

    # --- reading a scene back (tests, the text fallback) --------------------------------------
    def get(self, id: str) -> dict | None:
        return next((s for s in self.shapes if s["id"] == id), None)

    def ids(self, prefix: str = "") -> list[str]:
        return [s["id"] for s in self.shapes if s["id"].startswith(prefix)]

    def to_json(self) -> dict:
        return {"width": self.width + 8, "height": self.height + 8, "shapes": self.shapes,
                "steps": self.steps, "legend": self.legend}
