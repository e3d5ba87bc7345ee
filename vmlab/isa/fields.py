"""Operand fields: where each operand's bits live inside an instruction word.

RISC-V scatters immediates across the word (a branch offset's bit 12 sits in bit 31, its
bit 11 in bit 7 ...) so that the *register* fields never move, which keeps hardware decoders
simple.  Rather than writing an encoder and a decoder for every format, each field here is
described once as a list of *pieces*: ``(insn_lsb, width, value_lsb)`` means "``width`` bits
of the value, starting at value bit ``value_lsb``, are stored at instruction bit
``insn_lsb``".  The generic :meth:`Field.extract` / :meth:`Field.insert` then serve the
assembler, the disassembler, the tests and the documentation alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Field:
    """One operand field of an instruction encoding.

    ``kind`` says how the value is written in assembly:

    - ``reg``    an integer register x0..x31
    - ``creg``   a compressed register x8..x15 (stored as 0..7)
    - ``freg``   a floating-point register f0..f31
    - ``cfreg``  a compressed floating-point register f8..f15
    - ``imm``    a number (signed or not, see ``signed``)
    - ``csr``    a CSR number (printed by name)
    - ``fence``  a fence predecessor/successor set (printed as ``iorw`` letters)
    - ``rm``     a floating-point rounding mode (printed by name)
    """

    name: str
    kind: str
    pieces: tuple[tuple[int, int, int], ...]
    signed: bool = False
    #: the value must be a multiple of this (branch offsets 2, ``c.ld`` offsets 8, ...)
    align: int = 1
    #: the encoding reserves value 0 (e.g. ``c.addi4spn`` with 0 is an illegal instruction)
    nonzero: bool = False
    #: ``c.lui`` holds a 6-bit signed value that assembly writes the way ``lui`` does: as the
    #: 20-bit upper immediate (so -1 is written ``0xfffff``).
    lui20: bool = False
    #: written in hexadecimal by objdump (upper immediates and shift amounts)
    hex: bool = False
    #: the value is a pc-relative offset: disassemblers print the target address
    pcrel: bool = False

    @cached_property
    def width(self) -> int:
        """Number of value bits (including the implied-zero low bits of aligned fields)."""
        return max(lsb + w for _, w, lsb in self.pieces)

    @cached_property
    def insn_mask(self) -> int:
        """The instruction bits this field occupies."""
        m = 0
        for ilsb, w, _ in self.pieces:
            m |= ((1 << w) - 1) << ilsb
        return m

    def extract_raw(self, word: int) -> int:
        v = 0
        for ilsb, w, vlsb in self.pieces:
            v |= ((word >> ilsb) & ((1 << w) - 1)) << vlsb
        if self.signed and v >> (self.width - 1) & 1:
            v -= 1 << self.width
        return v

    def extract(self, word: int) -> int:
        """The operand value as assembly writes it."""
        v = self.extract_raw(word)
        if self.kind in ("creg", "cfreg"):
            v += 8
        if self.lui20:
            v &= 0xFFFFF
        return v

    def range(self) -> tuple[int, int]:
        """Smallest and largest raw value (before the creg/lui20 spellings)."""
        return self._range

    @cached_property
    def _range(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - self.align
        return 0, (1 << self.width) - self.align

    def check(self, value: int) -> str | None:
        """Why ``value`` (as assembly writes it) cannot be encoded, or None when it can."""
        raw = self._to_raw(value)
        if raw is None:
            return f"{value} is not a register x8..x15 / f8..f15" if self.kind in ("creg", "cfreg") \
                else f"{value:#x} is not a valid c.lui immediate (1..0x1f or 0xfffe0..0xfffff)"
        lo, hi = self._range
        if not lo <= raw <= hi:
            return f"{value} out of range ({lo}..{hi})"
        if raw % self.align:
            return f"{value} is not a multiple of {self.align}"
        if self.nonzero and raw == 0:
            return "the value must not be zero"
        return None

    def _to_raw(self, value: int) -> int | None:
        if self.kind in ("creg", "cfreg"):
            return value - 8 if 8 <= value <= 15 else None
        if self.lui20:
            if 0 <= value < 0x20:
                return value
            if 0xFFFE0 <= value <= 0xFFFFF:
                return value - 0x100000
            return None
        return value

    def insert(self, word: int, value: int) -> int:
        """``word`` with this field set to ``value`` (as assembly writes it); checks range."""
        why = self.check(value)
        if why is not None:
            raise ValueError(f"{self.name}: {why}")
        return self.place(word, value)

    def place(self, word: int, value: int) -> int:
        """:meth:`insert` for a value already checked (the assembler checks every operand
        once, with a message naming it, before it encodes)."""
        raw = self._to_raw(value) & self._mask
        for ilsb, w, vlsb in self.pieces:
            word |= ((raw >> vlsb) & ((1 << w) - 1)) << ilsb
        return word

    @cached_property
    def _mask(self) -> int:
        return (1 << self.width) - 1


#: Floating-point rounding modes by the ``rm`` field's value.  5 and 6 are reserved (objdump
#: prints "unknown"); 7, "dynamic", means "use the mode in the frm CSR", and is what assembly
#: means when an instruction is written without a rounding mode.
RM_NAMES = ("rne", "rtz", "rdn", "rup", "rmm", "unknown", "unknown", "dyn")
#: rounding-mode name -> rm value, for the names assembly accepts
ROUNDING_MODES = {name: value for value, name in enumerate(RM_NAMES) if name != "unknown"}
#: the rm value of an instruction written without a rounding mode
RM_DYNAMIC = ROUNDING_MODES["dyn"]


def _f(name, kind, *pieces, **kw) -> Field:
    return Field(name, kind, tuple(pieces), **kw)


#: Every operand field of every instruction, by the name the instruction rows use.
FIELDS: dict[str, Field] = {f.name: f for f in [
    # --- 32-bit formats -------------------------------------------------------------
    _f("rd", "reg", (7, 5, 0)),
    _f("rs1", "reg", (15, 5, 0)),
    _f("rs2", "reg", (20, 5, 0)),
    _f("frd", "freg", (7, 5, 0)),
    _f("frs1", "freg", (15, 5, 0)),
    _f("frs2", "freg", (20, 5, 0)),
    _f("frs3", "freg", (27, 5, 0)),
    _f("imm_i", "imm", (20, 12, 0), signed=True),
    _f("imm_s", "imm", (7, 5, 0), (25, 7, 5), signed=True),
    _f("imm_b", "imm", (8, 4, 1), (25, 6, 5), (7, 1, 11), (31, 1, 12), signed=True, align=2,
       pcrel=True),
    _f("imm_u", "imm", (12, 20, 0), hex=True),
    _f("imm_j", "imm", (21, 10, 1), (20, 1, 11), (12, 8, 12), (31, 1, 20), signed=True, align=2,
       pcrel=True),
    _f("shamt6", "imm", (20, 6, 0), hex=True),
    _f("shamt5", "imm", (20, 5, 0), hex=True),
    _f("csr", "csr", (20, 12, 0)),
    _f("zimm", "imm", (15, 5, 0)),
    _f("pred", "fence", (24, 4, 0)),
    _f("succ", "fence", (20, 4, 0)),
    _f("rm", "rm", (12, 3, 0)),
    # --- 16-bit (RVC) formats ---------------------------------------------------------
    _f("c_rd", "reg", (7, 5, 0)),          # CR/CI: rd and rs1 are the same field
    _f("c_rs2", "reg", (2, 5, 0)),
    _f("c_frd", "freg", (7, 5, 0)),
    _f("c_frs2", "freg", (2, 5, 0)),
    _f("c_rd_p", "creg", (2, 3, 0)),       # rd' in CIW/CL
    _f("c_rs1_p", "creg", (7, 3, 0)),      # rs1' (and rd' of CA/CB)
    _f("c_rs2_p", "creg", (2, 3, 0)),      # rs2' in CS/CA
    _f("c_frd_p", "cfreg", (2, 3, 0)),
    _f("c_frs2_p", "cfreg", (2, 3, 0)),
    _f("c_imm6", "imm", (2, 5, 0), (12, 1, 5), signed=True),
    _f("c_nzimm6", "imm", (2, 5, 0), (12, 1, 5), signed=True, nonzero=True),
    _f("c_shamt", "imm", (2, 5, 0), (12, 1, 5), hex=True),
    _f("c_lui", "imm", (2, 5, 0), (12, 1, 5), signed=True, nonzero=True, lui20=True, hex=True),
    _f("c_addi16sp", "imm", (6, 1, 4), (2, 1, 5), (5, 1, 6), (3, 2, 7), (12, 1, 9),
       signed=True, align=16, nonzero=True),
    _f("c_addi4spn", "imm", (6, 1, 2), (5, 1, 3), (11, 2, 4), (7, 4, 6), align=4, nonzero=True),
    _f("c_uimm_w", "imm", (6, 1, 2), (10, 3, 3), (5, 1, 6), align=4),      # c.lw / c.sw
    _f("c_uimm_d", "imm", (10, 3, 3), (5, 2, 6), align=8),                 # c.ld / c.sd / c.fld / c.fsd
    _f("c_uimm_lwsp", "imm", (4, 3, 2), (12, 1, 5), (2, 2, 6), align=4),
    _f("c_uimm_ldsp", "imm", (5, 2, 3), (12, 1, 5), (2, 3, 6), align=8),
    _f("c_uimm_swsp", "imm", (9, 4, 2), (7, 2, 6), align=4),
    _f("c_uimm_sdsp", "imm", (10, 3, 3), (7, 3, 6), align=8),
    _f("c_imm_j", "imm", (3, 3, 1), (11, 1, 4), (2, 1, 5), (7, 1, 6), (6, 1, 7), (9, 2, 8),
       (8, 1, 10), (12, 1, 11), signed=True, align=2, pcrel=True),
    _f("c_imm_b", "imm", (3, 2, 1), (10, 2, 3), (2, 1, 5), (5, 2, 6), (12, 1, 8),
       signed=True, align=2, pcrel=True),
]}
