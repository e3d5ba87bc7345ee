"""Assembly errors shown the way a compiler shows them: the line, and a caret under the column.

A student fixes a mistake fastest when the message points into the text they typed, so the
line numbers here are the cell's own (counting the ``%%asm`` line when there is one) and
each diagnostic quotes that line with a ``^`` under the offending word.
"""
from __future__ import annotations

from vmlab.asm import AsmError


def describe(exc: AsmError, source: str, line_offset: int = 0, label: str = "cell") -> list[str]:
    """One entry per diagnostic: ``cell line L, column C: message``, the line, the caret."""
    lines = source.splitlines()
    out = []
    for d in exc.diagnostics:
        shown = d.line + line_offset
        out.append(f"{label} line {shown}, column {d.column}: error: {d.message}")
        if 1 <= d.line <= len(lines):
            text = lines[d.line - 1].expandtabs(8)
            out.append(f"    {text}")
            width = max(1, len(d.text)) if d.text else 1
            out.append("    " + " " * (d.column - 1) + "^" + "~" * (width - 1))
    return out


class CellAsmError(Exception):
    """An :class:`AsmError` re-raised for IPython with a compiler-style message.

    IPython calls ``_render_traceback_`` instead of printing a Python traceback, so the
    student sees their own source and where it went wrong, not vmlab's internals.
    """

    def __init__(self, exc: AsmError, source: str, line_offset: int = 0):
        self.asm_error = exc
        self.diagnostics = exc.diagnostics
        self.lines = describe(exc, source, line_offset)
        self.line_offset = line_offset
        super().__init__("\n".join(self.lines))

    def _render_traceback_(self) -> list[str]:
        n = len(self.diagnostics)
        return [f"AsmError: {n} error{'s' if n != 1 else ''} in this cell", *self.lines]
