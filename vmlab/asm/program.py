"""The result of assembling: bytes, addresses and symbols, ready for a machine or a file."""
from __future__ import annotations

import bisect
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field


class LineMap(Mapping):
    """Address -> source line, as compact as two arrays (16 bytes an entry, not ~100 in a
    dict): a million-line program has a million entries.  Where two statements share an
    address (a zero-size one before another), the first one counts, as with ``setdefault``.
    """

    def __init__(self):
        self._addrs = array("Q")
        self._lines = array("q")
        self._sorted = True

    def add(self, addr: int, line: int) -> None:
        if self._addrs and addr <= self._addrs[-1]:
            if addr == self._addrs[-1]:
                return                      # the first statement at an address counts
            self._sorted = False
        self._addrs.append(addr)
        self._lines.append(line)

    def add_run(self, addr: int, pairs) -> None:
        """Entries of a run of bytes at ``addr``: flat (offset, line) ``pairs``."""
        for i in range(0, len(pairs), 2):
            self.add(addr + pairs[i], pairs[i + 1])

    def _sort(self) -> None:
        if not self._sorted:
            first = {}
            for a, l in zip(self._addrs, self._lines):
                first.setdefault(a, l)
            keys = sorted(first)
            self._addrs, self._lines = array("Q", keys), array("q", (first[k] for k in keys))
            self._sorted = True

    def __getitem__(self, addr: int) -> int:
        self._sort()
        i = bisect.bisect_left(self._addrs, addr)
        if i == len(self._addrs) or self._addrs[i] != addr:
            raise KeyError(addr)
        return self._lines[i]

    def __iter__(self):
        self._sort()
        return iter(self._addrs)

    def __len__(self) -> int:
        self._sort()
        return len(self._addrs)


@dataclass(frozen=True)
class SectionInfo:
    """One placed section.  ``data`` is empty for ``nobits`` sections such as ``.bss``."""

    name: str
    addr: int
    size: int
    flags: str
    nobits: bool
    data: bytes
    align: int = 1

    @property
    def end(self) -> int:
        return self.addr + self.size


@dataclass
class Program:
    """An assembled program.

    - ``image``: the bytes to load at ``base`` (every section with contents, gaps zeroed;
      ``.bss``-like sections at the end are left out, as ``objcopy -O binary`` does)
    - ``sections``: name -> :class:`SectionInfo`, in address order
    - ``symbols``: name -> address (labels) or value (``.equ``)
    - ``entry``: ``_start`` if defined, else ``base``
    - ``line_map``: address -> source line, for showing where the pc is
    """

    base: int
    image: bytes
    sections: dict[str, SectionInfo]
    symbols: dict[str, int]
    entry: int
    elf: bytes
    line_map: Mapping[int, int] = field(default_factory=dict)
    filename: str = "<input>"
    #: GNU as's warnings (:class:`~vmlab.asm.errors.Diagnostic` with severity "warning"):
    #: the program was built, but something in it is probably not what was meant
    warnings: list = field(default_factory=list)

    def section_at(self, addr: int) -> SectionInfo | None:
        for s in self.sections.values():
            if s.addr <= addr < s.end:
                return s
        return None

    def write_elf(self, path) -> None:
        with open(path, "wb") as f:
            f.write(self.elf)

    def write_binary(self, path) -> None:
        with open(path, "wb") as f:
            f.write(self.image)
