"""Loading ELF images (pyelftools): PT_LOAD segments at their physical addresses."""
from __future__ import annotations

import io
import struct
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from vmlab.machine.errors import MachineError

#: what pyelftools raises on a truncated or corrupted file (besides its own ELFError)
_BROKEN = (ELFError, struct.error, ValueError, EOFError, IndexError, KeyError, AssertionError)
_SYMBOLS = ("tohost", "fromhost", "begin_signature", "end_signature", "_start")


def _read(path_or_bytes) -> bytes:
    if isinstance(path_or_bytes, (str, Path)):
        return Path(path_or_bytes).read_bytes()
    return bytes(path_or_bytes)


def _open(data: bytes) -> ELFFile:
    elf = ELFFile(io.BytesIO(data))
    if elf.elfclass != 64 or elf["e_machine"] != "EM_RISCV" or not elf.little_endian:
        raise MachineError("not a little-endian RV64 ELF")
    return elf


def _segments(elf: ELFFile) -> list[tuple[int, int, bytes]]:
    """(paddr, memsz, file bytes) of every PT_LOAD segment, all read before any is copied."""
    out = []
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        data = seg.data()[:seg["p_filesz"]]
        if len(data) < seg["p_filesz"]:
            raise MachineError(f"truncated ELF: a segment at {seg['p_paddr']:#x} needs "
                               f"{seg['p_filesz']} bytes, the file has {len(data)}")
        out.append((seg["p_paddr"], seg["p_memsz"], data))
    return out


def _symbols(elf: ELFFile) -> dict[str, int]:
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        return {}
    return {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name in _SYMBOLS}


def _parse(data: bytes):
    try:
        elf = _open(data)
        return elf["e_entry"], _segments(elf), _symbols(elf)
    except _BROKEN as exc:
        raise MachineError(f"not a valid ELF file (truncated or corrupted): {exc}") from exc


def load_elf_segments(path_or_bytes, write, zero) -> tuple[int, dict[str, int]]:
    """Copy each PT_LOAD segment with ``write(paddr, data)`` and clear its .bss with
    ``zero(paddr, n)``; return (entry, symbols).  Only RISC-V ELF64 little-endian is accepted;
    a truncated or corrupted file is refused whole, before anything is written."""
    entry, segments, symbols = _parse(_read(path_or_bytes))
    for paddr, memsz, data in segments:
        write(paddr, data)
        if memsz > len(data):
            zero(paddr + len(data), memsz - len(data))
    return entry, symbols


def image_end(data: bytes, addr: int) -> int:
    """The first address above an image: an ELF's highest segment end, or addr + len for
    raw bytes (loaded at ``addr``)."""
    if data[:4] != b"\x7fELF":
        return addr + len(data)
    _, segments, _ = _parse(data)
    return max((paddr + memsz for paddr, memsz, _ in segments), default=addr)
