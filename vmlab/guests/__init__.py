"""Guest programs shipped with vmlab, as source for vmlab's own assembler.

Guests ship as source so that a student can read (and change) exactly what runs, and no
cross-compiler is needed: :func:`source` returns the text, ``vmlab.asm.assemble`` builds it.
"""
from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The assembly source of the built-in guest ``name`` (e.g. ``"hello"``)."""
    return resources.files(__package__).joinpath(f"{name}.s").read_text()


def names() -> list[str]:
    return sorted(p.name[:-2] for p in resources.files(__package__).iterdir() if p.name.endswith(".s"))
