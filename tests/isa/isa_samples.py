"""Sample instructions for every table row, and GNU as to check them against.

A sample is built from *raw* field bits (a random value in each field's range), so the
values we compare are what the table's field layout says those bits mean; GNU as then
reads the assembly text of the same values and must produce the same bytes.
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

from vmlab.isa import FIELDS, FREG_ABI, XREG_ABI, Insn, lookup, operand_fields

RM_TEXT = {0: "rne", 1: "rtz", 2: "rdn", 3: "rup", 4: "rmm", 7: "dyn"}
MARCH = "rv64imafdch_zicsr_zifencei_zihintpause"


def _raw_choice(field, rng: random.Random) -> int:
    """A random raw value for ``field`` that the encoding allows."""
    if field.kind == "rm":
        return rng.choice(list(RM_TEXT))
    if field.kind == "fence":
        return rng.randrange(1, 16)
    lo, hi = field.range()
    while True:
        v = rng.randrange(lo, hi + 1, field.align) if lo % field.align == 0 else \
            rng.randrange(lo - lo % field.align, hi + 1, field.align)
        if not (field.nonzero and v == 0):
            return v


def _put_raw(word: int, field, raw: int) -> int:
    raw &= (1 << field.width) - 1
    for ilsb, w, vlsb in field.pieces:
        word = (word & ~(((1 << w) - 1) << ilsb)) | (((raw >> vlsb) & ((1 << w) - 1)) << ilsb)
    return word


def _constraints_hold(row: Insn, values: dict[str, int]) -> bool:
    for c in row.constraints:
        name, value = c.split("!=")
        if values[name] == int(value):
            return False
    return True


def row_fields(row: Insn) -> list[str]:
    return [f for token in row.syntax for f in operand_fields(token)]


def sample(row: Insn, rng: random.Random, fixed: dict[str, int] | None = None):
    """A word of ``row`` with random operands: ``(word, {field: value as assembly writes it})``.

    ``fixed`` pins some fields (values as assembly writes them).
    """
    for _ in range(1000):
        word = row.match
        for name in row_fields(row):
            word = _put_raw(word, FIELDS[name], _raw_choice(FIELDS[name], rng))
        for name, value in (fixed or {}).items():
            word = _put_raw(word & ~FIELDS[name].insn_mask, FIELDS[name],
                            FIELDS[name]._to_raw(value))
        values = {n: FIELDS[n].extract(word) for n in row_fields(row)}
        if lookup(word, row.size) is row and _constraints_hold(row, values):
            return word, values
    raise AssertionError(f"no sample found for {row.mnemonic}")


def value_text(name: str, value: int) -> str:
    """How assembly writes ``value`` of field ``name`` (GNU as input syntax)."""
    f = FIELDS[name]
    if f.kind in ("reg", "creg"):
        return XREG_ABI[value]
    if f.kind in ("freg", "cfreg"):
        return FREG_ABI[value]
    if f.kind == "fence":
        return "".join(c for c, b in zip("iorw", (8, 4, 2, 1)) if value & b)
    if f.kind == "rm":
        return RM_TEXT[value]
    if f.kind == "csr":
        return hex(value)
    if f.pcrel:
        return f".{value:+d}"
    return str(value)


def assembly(mnemonic: str, syntax: tuple[str, ...], values: dict[str, int]) -> str:
    """``mnemonic`` with operands written from ``values`` following ``syntax``."""
    parts = []
    for token in syntax:
        if "(" in token:
            imm, reg = token.rstrip(")").split("(")
            inner = value_text(reg, values[reg]) if reg in FIELDS else reg
            parts.append((value_text(imm, values[imm]) if imm else "") + f"({inner})")
        elif token in FIELDS:
            parts.append(value_text(token, values[token]))
        else:
            parts.append(token)
    return f"{mnemonic} {','.join(parts)}".strip()


def gnu_text_bytes(lines: list[tuple[str, int]], gnu_as: str, gnu_ld: str, tmp: Path) -> bytes:
    """Assemble ``(line, size)`` pairs (rvc switched on only for 2-byte ones) and link them at
    0x80000000; return the bytes of .text."""
    src = []
    for line, size in lines:
        src.append(".option rvc" if size == 2 else ".option norvc")
        src.append(line)
    (tmp / "t.s").write_text("\n".join([".globl _start", "_start:"] + src) + "\n")
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: E731
    run(gnu_as, f"-march={MARCH}", "-mno-relax", "-o", str(tmp / "t.o"), str(tmp / "t.s"))
    run(gnu_ld, "-Ttext=0x80000000", "-o", str(tmp / "t.elf"), str(tmp / "t.o"))
    from elftools.elf.elffile import ELFFile
    with open(tmp / "t.elf", "rb") as fh:
        return ELFFile(fh).get_section_by_name(".text").data()


def as_bytes(words: list[tuple[int, int]]) -> bytes:
    return b"".join(w.to_bytes(size, "little") for w, size in words)
