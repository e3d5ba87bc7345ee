"""The result of assembling: bytes, addresses and symbols, ready for a machine or a file."""
from __future__ import annotations

from dataclasses import dataclass, field


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
    line_map: dict[int, int] = field(default_factory=dict)
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
