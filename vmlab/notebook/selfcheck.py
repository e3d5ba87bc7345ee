"""Self-check feedback for the labs: a student runs the check, reads the feedback, tries again.

:class:`Feedback` is how every check shows its result in a notebook.  The graded exercises of
every lab live in :mod:`vmlab.grading` (per-student parameters, hidden tests) and use this
class to show the visible tests at once.  A check never raises on a wrong answer, so a notebook
with the exercise still unanswered runs from top to bottom.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Feedback:
    title: str
    points: list = field(default_factory=list)     # (ok, text)

    def add(self, ok: bool, text: str) -> bool:
        self.points.append((bool(ok), text))
        return bool(ok)

    @property
    def passed(self) -> bool:
        return bool(self.points) and all(ok for ok, _ in self.points)

    @property
    def score(self) -> tuple[int, int]:
        return sum(ok for ok, _ in self.points), len(self.points)

    def __repr__(self) -> str:
        got, total = self.score
        head = f"{self.title}: {'all correct' if self.passed else 'not yet'} ({got}/{total})"
        return "\n".join([head] + [f"  {'ok ' if ok else 'no '} {t}" for ok, t in self.points])

    def _repr_html_(self) -> str:
        got, total = self.score
        color = "#2a7" if self.passed else "#d80"
        # ✓/✗ rather than emoji: every common font has them, colour-emoji fonts are optional
        mark = {True: "<span style='color:#2a7'>✓</span>", False: "<span style='color:#c33'>✗</span>"}
        items = "".join(f"<li>{mark[bool(ok)]} {html.escape(t)}</li>" for ok, t in self.points)
        return (f"<div class='vmlab-feedback' data-passed='{str(self.passed).lower()}'>"
                f"<b style='color:{color}'>{html.escape(self.title)}: "
                f"{'all correct' if self.passed else 'not yet'} ({got}/{total})</b><ul>{items}</ul></div>")
