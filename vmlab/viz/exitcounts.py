"""Exit counts by cause, with a predict-then-reveal mode.

A table of a trace's exits, one row per cause (``cause_text``: the names of vmlab.isa).
With ``predict=True`` the numbers stay hidden: the student types a count per cause (in the
widget, or ``view.answer({...})``), and only then sees the real ones, each marked right or
not; :attr:`ExitCounts.predictions` keeps every answer.  So a lab can ask "how many exits
will this guest make?" before the trace answers it.
"""
from __future__ import annotations

import traitlets

from vmlab.hv.trace import EXIT
from vmlab.viz._base import Widget, esm
from vmlab.viz.traps import cause_text, exit_kind


class ExitCounts(Widget):
    """Exits of ``trace`` by cause; ``causes`` (names) fixes the rows, e.g. for a question."""

    _esm = esm("exitcounts")
    rows = traitlets.List([]).tag(sync=True)
    predict = traitlets.Bool(False).tag(sync=True)
    asking = traitlets.Bool(False).tag(sync=True)
    verdict = traitlets.Unicode("").tag(sync=True)

    def __init__(self, trace, *, predict: bool = False, causes=None, **kwargs):
        super().__init__(predict=predict, asking=predict, **kwargs)
        self.trace, self.causes = trace, list(causes) if causes else None
        self.predictions: list[dict] = []
        self.on_msg(self._on_msg)
        self.refresh()

    def counts(self) -> dict[str, int]:
        """Exits so far by cause name (the asked causes, in order, when given)."""
        by_name = {}
        for code, n in sorted(self.trace.by_cause(EXIT).items()):
            by_name[cause_text(int(code))] = by_name.get(cause_text(int(code)), 0) + int(n)
        if self.causes:                  # (asked for by name, in any case)
            lower = {name.lower(): n for name, n in by_name.items()}
            return {c: lower.get(c.lower(), 0) for c in self.causes}
        return by_name

    def refresh(self, verdict: str | None = None) -> None:
        """Send the rows (and, after a prediction, its verdict) in one message."""
        kinds = {cause_text(int(c)): exit_kind(int(c)) for c in self.trace.by_cause(EXIT)}
        rows = [{"cause": name, "kind": kinds.get(name, "other"),
                 "count": None if self.asking else n} for name, n in self.counts().items()]
        with self.hold_sync():
            self.rows = rows
            if verdict is not None:
                self.verdict = verdict
            self.updates += 1

    def ask(self) -> None:
        """Hide the numbers again, for the next prediction (e.g. after another run)."""
        self.asking, self.verdict = True, ""
        self.refresh()

    def answer(self, prediction: dict) -> dict[str, bool]:
        """The student's counts by cause name: recorded, then the real counts are shown."""
        if not isinstance(prediction, dict):
            raise TypeError("answer() wants a dict: cause name -> predicted count")
        truth = self.counts()
        right = {c: _as_int(prediction.get(c)) == n for c, n in truth.items()}
        self.predictions.append({"answer": dict(prediction), "truth": truth, "right": right})
        with self.hold_sync():
            self.asking = False
            self.refresh(f"{sum(right.values())} of {len(right)} predicted right")
        return right

    def _on_msg(self, _, content, buffers) -> None:
        if content.get("type") == "predict" and self.asking:
            self.answer(dict(content.get("answer") or {}))

    def text(self) -> str:
        if self.asking:
            return "exit counts hidden: predict them, then answer({...})\n" + "\n".join(
                f"  {r['cause']}: ?" for r in self.rows)
        return "\n".join(f"{r['count']:8}  {r['cause']}" for r in self.rows) + (
            f"\n{self.verdict}" if self.verdict else "")


def _as_int(value):
    try:
        return int(str(value).strip().replace("_", ""), 0)
    except (TypeError, ValueError):
        return None
