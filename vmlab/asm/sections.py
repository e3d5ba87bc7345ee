"""Sections and the items they hold before addresses are known.

Pass one turns statements into *items* in their section: bytes already known, data whose
value needs a label's address, an instruction, a branch whose size depends on how far its
target is, or alignment padding.  Layout (``layout.py``) then gives every item an offset,
and pass two writes the bytes.
"""
from __future__ import annotations

from array import array

# Item kinds
BYTES, DATA, INSN, BRANCH, ALIGN = range(5)


class Item:
    """One piece of a section.  ``size`` is final except for BRANCH and ALIGN items.

    A BYTES item is a *run*: the bytes of consecutive statements whose bytes were known at
    once (``a``, a bytearray), with ``b`` listing (offset in the run, source line) pairs
    flat, for the line map.  One object per run rather than per statement keeps a
    million-line source in tens of megabytes.
    """

    __slots__ = ("kind", "size", "stmt", "a", "b", "c", "rvc")

    def __init__(self, kind, size, stmt, a=None, b=None, c=None, rvc=False):
        self.kind, self.size, self.stmt = kind, size, stmt
        self.a, self.b, self.c, self.rvc = a, b, c, rvc


class Section:
    """A named section: its flags, items, alignment and (after layout) address."""

    def __init__(self, name: str, flags: str, nobits: bool):
        self.name, self.flags, self.nobits = name, flags, nobits
        self.items: list[Item] = []
        self.offsets: list[int] = []
        self.align = 1
        self.size = 0
        self.addr = 0
        self.data = b""
        #: how far pass one has come: items of unknown size (branches, alignment) so far, and
        #: bytes since the last of them.  Two places with the same count are a known
        #: distance apart, so "here - msg" is a constant even before layout.
        self.anchor = 0
        self.since = 0
        self.pos = 0
        #: the BYTES run new known bytes are appended to, or None (a label or another kind of
        #: item closes it: labels name item boundaries)
        self.run: Item | None = None

    @property
    def code(self) -> bool:
        return "x" in self.flags

    def add_bytes(self, data: bytes, line: int) -> None:
        """Bytes known now, from a statement on source ``line``: appended to the open run."""
        run = self.run
        if run is None:
            run = self.run = Item(BYTES, 0, None, bytearray(), array("q"))
            self.items.append(run)
        run.b.append(run.size)
        run.b.append(line)
        run.a += data
        run.size += len(data)
        self.pos += len(data)
        self.since += len(data)

    def close_run(self) -> None:
        self.run = None

    def add(self, item: Item) -> None:
        self.run = None
        self.items.append(item)
        self.pos += item.size
        if item.kind == BRANCH or item.kind == ALIGN:
            self.anchor += 1
            self.since = 0
        else:
            self.since += item.size

    def here(self) -> tuple[tuple, int]:
        """Where pass one is, as (anchor, bytes after it): see :meth:`add`."""
        return (id(self), self.anchor), self.since


def default_flags(name: str) -> tuple[str, bool]:
    """Flags GNU as gives a section by its name when ``.section`` names none."""
    if name == ".text" or name.startswith(".text.") or name.startswith(".init") or name.startswith(".fini"):
        return "ax", False
    if name in (".bss", ".sbss", ".tbss") or name.startswith((".bss.", ".sbss.", ".tbss.")):
        return "aw", True
    if name.startswith((".data", ".sdata", ".tdata")) or name in (".init_array", ".fini_array"):
        return "aw", False
    if name.startswith((".rodata", ".srodata")):
        return "a", False
    return "", False
