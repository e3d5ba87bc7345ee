"""Diagnostics: assembly errors that say where, what and why.

An assembler that stops at the first mistake makes a student fix one line per run, so the
assembler collects every error it can find in a file (one per statement) and raises them
together in a single :class:`AsmError` at the end.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the source: where it is, the offending text, and why it is wrong."""

    file: str
    line: int
    column: int
    text: str
    message: str
    #: "error", or "warning" for what GNU as also only warns about (the bytes are written)
    severity: str = "error"

    def __str__(self) -> str:
        quoted = f": '{_printable(self.text)}'" if self.text else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}{quoted}"


def _printable(text: str, limit: int = 80) -> str:
    """``text`` safe to print on a terminal: control characters escaped, long text cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


class AsmError(Exception):
    """Raised by :func:`vmlab.asm.assemble` with every diagnostic found in the source."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class StmtError(Exception):
    """A problem inside one statement; the driver turns it into a :class:`Diagnostic`.

    ``text`` is the offending part of the statement (an operand, a symbol); the driver
    finds its column in the line so the message can point at it.
    """

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.message = message
        self.text = text


#: compare a misspelt name with at most this many candidates: difflib costs about a
#: microsecond per candidate, and a large program has a million labels
_MAX_CANDIDATES = 2000


def closest(word: str, known) -> str | None:
    """The known name most like ``word`` (for "did you mean ...?"), or None."""
    known = list(known)
    if len(known) > _MAX_CANDIDATES:
        # a close match has nearly the same length and, in practice, the same first letter
        known = [k for k in known if abs(len(k) - len(word)) <= 2 and k[:1] == word[:1]]
        known = known[:_MAX_CANDIDATES]
    hits = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return hits[0] if hits else None
