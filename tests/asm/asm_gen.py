"""Instruction text from the table: random operands for a row, written the way GNU as
reads them.  Tests use it to cover every row and to feed both assemblers the same input."""
from __future__ import annotations

import random

from vmlab.asm.march import enabled, parse_march
from vmlab.isa import FIELDS, INSTRUCTIONS, Insn
from vmlab.isa.fields import RM_NAMES
from vmlab.isa.registers import FREG_ABI, XREG_ABI

#: the widest -march the assembler takes, and the rows it makes available (the retired
#: rows the disassembler still knows, uret/dret/sfence.vm, are out)
MARCH = "rv64imafdc"
ROWS = [r for r in INSTRUCTIONS if enabled(r.ext, parse_march(MARCH))]
_FENCE = "iorw"
_FIXED = {"zero", "ra", "sp"}


def fence_text(bits: int) -> str:
    return "".join(c for i, c in enumerate(_FENCE) if bits >> (3 - i) & 1) or "0"


def random_value(name: str, rnd: random.Random) -> int:
    """A value field ``name`` can hold, as assembly writes it."""
    f = FIELDS[name]
    if f.kind == "reg":
        # favour the registers compressed forms can use (zero, ra, sp, s0..a5)
        return rnd.choice([rnd.randrange(32), rnd.choice([0, 1, 2]), rnd.randrange(8, 16)])
    if f.kind in ("creg", "cfreg"):
        return rnd.randrange(8, 16)
    if f.kind == "freg":
        return rnd.choice([rnd.randrange(32), rnd.randrange(8, 16)])
    if f.kind == "rm":
        return rnd.choice([0, 1, 2, 3, 4, 7])
    if f.kind == "csr":
        return rnd.randrange(4096)
    if f.kind == "fence":
        return rnd.randrange(1, 16)
    if f.lui20:
        v = rnd.choice([rnd.randrange(1, 32), rnd.randrange(0xFFFE0, 0x100000)])
        return v
    lo, hi = f.range()
    while True:
        v = rnd.randrange(lo, hi + 1, f.align) if f.align > 1 else rnd.randint(lo, hi)
        if lo % f.align:
            v -= v % f.align
        r = rnd.random()
        if r < 0.2:
            v = rnd.choice([lo, hi, 0, f.align])
        elif r < 0.5:
            v = rnd.randrange(max(lo, -64), min(hi, 512) + 1, f.align)
        if f.check(v) is None:
            return v


def random_values(row: Insn, rnd: random.Random) -> dict[str, int]:
    """Operand values for ``row`` that satisfy its fields and constraints."""
    names = [n for tok in row.syntax for n in tok.replace("(", " ").replace(")", " ").split() if n in FIELDS]
    while True:
        values = {n: random_value(n, rnd) for n in names}
        if all(values.get(c.split("!=")[0]) != int(c.split("!=")[1]) for c in row.constraints):
            return values


def operand_text(name: str, value: int, pc_relative_as_dot: bool = True) -> str:
    f = FIELDS[name]
    if f.kind in ("reg", "creg"):
        return XREG_ABI[value]
    if f.kind in ("freg", "cfreg"):
        return FREG_ABI[value]
    if f.kind == "rm":
        return RM_NAMES[value]
    if f.kind == "fence":
        return fence_text(value)
    if name in ("imm_b", "imm_j", "c_imm_b", "c_imm_j"):
        return f".{value:+d}" if pc_relative_as_dot else str(value)
    if f.kind == "csr" or f.lui20 or name == "imm_u":
        return hex(value)
    return str(value)


def row_text(row: Insn, values: dict[str, int]) -> str:
    """``addi a0,sp,-12`` from a row and its field values (branch targets as ``.+off``)."""
    ops = []
    for tok in row.syntax:
        if tok in _FIXED:
            ops.append(tok)
        elif "(" in tok:
            outer, inner = tok.rstrip(")").split("(")
            base = inner if inner in _FIXED else operand_text(inner, values[inner])
            ops.append(f"{operand_text(outer, values[outer]) if outer else ''}({base})")
        else:
            ops.append(operand_text(tok, values[tok]))
    return f"{row.mnemonic} {','.join(ops)}".strip()
