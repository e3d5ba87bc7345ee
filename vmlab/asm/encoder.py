"""Encoding one instruction from its table row: operand text -> field values -> word.

Every encoding comes from :mod:`vmlab.isa`: a row's ``syntax`` says which field each operand
fills (``rd``, ``imm_i(rs1)`` ...) and :class:`vmlab.isa.Field` knows where the bits go.
This module only *reads* operands (register names, CSR names, fence sets, expressions) and
checks ranges so that errors can say what is allowed.
"""
from __future__ import annotations

from functools import lru_cache

from vmlab.asm.errors import StmtError
from vmlab.isa import BY_MNEMONIC, FIELDS, Insn
from vmlab.isa.fields import ROUNDING_MODES
from vmlab.isa.csrs import csr_number as _csr_number
from vmlab.isa.registers import FREGS, XREGS

#: fields whose operand is a branch/jump *target*; the encoded value is target - pc
PC_RELATIVE = frozenset({"imm_b", "imm_j", "c_imm_b", "c_imm_j"})
_FIXED_REGS = {"zero": 0, "ra": 1, "sp": 2}
_FENCE_BITS = {"i": 8, "o": 4, "r": 2, "w": 1}


@lru_cache(maxsize=None)
def row_plan(mnemonic: str) -> tuple | None:
    """How to read a row's operands: a tuple of steps, one per written operand.

    Each step is ``(kind, field_or_register, inner)``: ``("f", "rd", None)`` fills a field,
    ``("fixed", 2, None)`` requires register sp, ``("mem", "imm_i", "rs1")`` is ``imm(rs1)``.
    Cached: the table is fixed, and assembling 10,000 lines must not re-read it each time.
    """
    row = BY_MNEMONIC.get(mnemonic)
    if row is None:
        return None
    steps = []
    for token in row.syntax:
        if "(" in token:
            outer, inner = token.rstrip(")").split("(")
            steps.append(("mem", outer or None, inner))
        elif token in FIELDS:
            steps.append(("f", token, None))
        else:
            steps.append(("fixed", _FIXED_REGS[token], None))
    return tuple(steps)


def register(text: str, kind: str = "reg") -> int:
    """Number of the register written ``text`` (``a0``, ``x10``, ``fp``)."""
    table = FREGS if kind in ("freg", "cfreg") else XREGS
    n = table.get(text.strip().lower())
    if n is None:
        raise StmtError("expected a register" if text.strip() else "missing register", text)
    return n


def split_memory(text: str) -> tuple[str, str]:
    """``"%lo(x)(a0)"`` -> ``("%lo(x)", "a0")``: the offset and the base register."""
    text = text.strip()
    if not text.endswith(")"):
        raise StmtError("expected a memory operand like 8(sp)", text)
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return text[:i].strip(), text[i + 1:-1].strip()
    raise StmtError("unbalanced parentheses", text)


def fence_set(text: str) -> int:
    """``"rw"`` -> 0b0011: the predecessor/successor set of a fence."""
    t = text.strip().lower()
    if t == "0":
        return 0
    bits = 0
    for c in t:
        if c not in _FENCE_BITS:
            raise StmtError("expected a fence set made of the letters i, o, r, w", text)
        bits |= _FENCE_BITS[c]
    return bits


def csr_operand(text: str, parse) -> int | tuple:
    """A CSR written by name (``mstatus``) or as a number/expression."""
    n = _csr_number(text.strip().lower())
    return n if n is not None else parse(text)


def read_operands(mnemonic: str, ops: list[str], parse) -> dict:
    """Field values for ``mnemonic`` with operand texts ``ops``.

    Registers become ints; immediates stay expression trees from ``parse`` (constants are
    ``("n", value)``), because labels only get addresses after layout.
    """
    plan = row_plan(mnemonic)
    if len(ops) == len(plan) - 1 and plan[-1][1] == "rm":
        ops = [*ops, "dyn"]        # no rounding mode written: the one in frm
    if len(ops) != len(plan):
        want = ", ".join(BY_MNEMONIC[mnemonic].syntax).replace(", rm", ", [rm]") or "no operands"
        raise StmtError(f"'{mnemonic}' takes {len(plan)} operand(s) ({want}), got {len(ops)}",
                        ", ".join(ops))
    values = {}
    for (kind, name, inner), text in zip(plan, ops):
        if kind == "f":
            values[name] = _field_value(name, text, parse)
        elif kind == "fixed":
            if register(text) != name:
                raise StmtError(f"'{mnemonic}' requires register {('zero', 'ra', 'sp')[name]} here", text)
        else:
            offset, base = split_memory(text) if text.strip().endswith(")") else (text, None)
            if base is None:
                raise StmtError("expected a memory operand like 8(sp)", text)
            if inner in FIELDS:
                values[inner] = register(base, FIELDS[inner].kind)
            elif register(base) != _FIXED_REGS[inner]:
                raise StmtError(f"'{mnemonic}' requires base register {inner}", text)
            if name is not None:
                values[name] = parse(offset) if offset else ("n", 0)
            elif offset and offset != "0":
                raise StmtError(f"'{mnemonic}' takes no offset, only (register)", text)
    return values


def _field_value(name: str, text: str, parse):
    kind = FIELDS[name].kind
    if kind in ("reg", "creg", "freg", "cfreg"):
        return register(text, kind)
    if kind == "csr":
        return csr_operand(text, parse)
    if kind == "fence":
        return fence_set(text)
    if kind == "rm":
        return rounding_mode(text)
    return parse(text)


def rounding_mode(text: str) -> int:
    """``"rtz"`` -> 1: a rounding mode, written by name (lower case, as GNU as wants)."""
    value = ROUNDING_MODES.get(text.strip())
    if value is None:
        raise StmtError(f"expected a rounding mode ({', '.join(ROUNDING_MODES)})", text)
    return value


def check_field(name: str, value: int, text: str = "") -> None:
    """Raise an error naming the allowed range when ``value`` does not fit field ``name``."""
    f = FIELDS[name]
    why = f.check(value)
    if why is None:
        return
    if f.kind in ("creg", "cfreg"):
        raise StmtError("this compressed instruction needs a register among x8..x15 (s0, s1, a0..a5)", text)
    lo, hi = f.range()
    if f.lui20:
        raise StmtError(f"immediate {value:#x} out of range: c.lui takes 1..0x1f or 0xfffe0..0xfffff", text)
    if f.align > 1 and value % f.align and lo <= value <= hi:
        what = "branch/jump offset" if name in PC_RELATIVE else "immediate"
        raise StmtError(f"{what} {value} is not a multiple of {f.align}", text)
    if f.nonzero and value == 0:
        raise StmtError("immediate must not be zero here", text)
    what = "branch/jump offset" if name in PC_RELATIVE else "immediate"
    raise StmtError(f"{what} {value} out of range: allowed {lo}..{hi}"
                    + (f" in steps of {f.align}" if f.align > 1 else ""), text)


def encode(row: Insn, values: dict[str, int], checked: bool = False) -> int:
    """The instruction word for ``row`` with every field set; ``checked`` says the values
    were range-checked already (so this does not check them a second time)."""
    word = row.match
    for name, value in values.items():
        f = FIELDS[name]
        if f.kind == "csr":
            value &= 0xFFF
        word = f.place(word, value) if checked else f.insert(word, value)
    return word


def constraint_violation(row: Insn, values: dict[str, int]) -> str | None:
    """The first of the row's extra constraints (``c_rd!=0``) that ``values`` break."""
    for c in row.constraints:
        field, _, limit = c.partition("!=")
        if values.get(field) == int(limit):
            return c
    return None


