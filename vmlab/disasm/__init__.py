"""vmlab.disasm: a RISC-V disassembler that prints what GNU objdump prints.

Python API::

    from vmlab.disasm import disassemble, disassemble_file
    for insn in disassemble(code_bytes, address=0x8000_0000):
        print(hex(insn.address), insn.mnemonic, insn.operands, insn.target)

    listing = disassemble_file("fw_jump.elf")          # one SectionListing per code section
    print(listing.text())                              # objdump -d's text

Everything is read from the instruction table (:mod:`vmlab.isa`): rows, fields and aliases.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from vmlab.disasm.decode import decode_word
from vmlab.disasm.elf import DEFAULT_EXTENSIONS, DisasmError, Image, Section, Symbol, read_image
from vmlab.disasm.listing import (DataLine, Disassembler, Instruction, Label, SectionListing,
                                  Skip, format_listing)

__all__ = ["disassemble", "disassemble_file", "DisasmError", "FileListing", "Instruction", "Label", "Skip",
           "DataLine", "SectionListing", "Symbol", "decode_word"]


@dataclass
class FileListing:
    """The disassembly of every code section of a file."""

    image: Image
    sections: list[SectionListing]

    @property
    def instructions(self) -> list[Instruction]:
        return [i for s in self.sections for i in s.instructions]

    def text(self) -> str:
        """The listing in ``objdump -d`` format."""
        return format_listing(self.image, self.sections)


def disassemble(code: bytes, address: int = 0, *, aliases: bool = True,
                symbols: dict[str, int] | None = None,
                extensions: frozenset[str] = DEFAULT_EXTENSIONS) -> list[Instruction]:
    """Disassemble ``code`` loaded at ``address`` into :class:`Instruction` records.

    ``symbols`` (name -> address) name branch targets, as an ELF's symbol table would.
    """
    syms = [Symbol(name, value, 0, "FUNC", "GLOBAL", 1, i)
            for i, (name, value) in enumerate((symbols or {}).items())]
    image = Image("<bytes>", "binary", [Section(".text", 1, address, bytes(code), True)], syms,
                  extensions)
    dis = Disassembler(image, aliases)
    out = []
    offset = 0
    while offset < len(code):
        insn = dis.instruction(image.sections[0].data, offset, len(code), image.sections[0])
        out.append(insn)
        offset += insn.size
    return out


def disassemble_file(path: str | Path, *, aliases: bool = True,
                     base: int | None = None) -> FileListing:
    """Disassemble every executable section of an ELF file or raw binary.

    A raw binary is loaded at ``base`` (default 0).  For an ELF, ``base`` moves every section
    by that amount, like ``objdump --adjust-vma``.
    """
    image = read_image(path, base)
    if base and image.format != "binary":
        image = _adjusted(image, base)
    return FileListing(image, Disassembler(image, aliases).sections())


def _adjusted(image: Image, delta: int) -> Image:
    """``image`` with its sections moved by ``delta``.  Like objdump's ``--adjust-vma``, this
    moves sections only: symbols keep their values."""
    return replace(image, sections=[replace(s, address=(s.address + delta) % (1 << 64))
                                    for s in image.sections])
