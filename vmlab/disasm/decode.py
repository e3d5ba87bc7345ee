"""From an instruction word to its text, the way objdump writes it.

Everything here is driven by the table (:mod:`vmlab.isa`): the row gives the mnemonic and
the operand fields, :mod:`vmlab.isa.aliases` the alias to print instead, the field kinds how
each value is written.  Firmware repeats the same words many times (``ret``, ``mv a0,s0``), so
:func:`decode_word` caches its result per word: a large binary then costs one table lookup per
*distinct* word.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vmlab.isa import FIELDS, FREG_ABI, XREG_ABI, lookup, operand_fields
from vmlab.isa.fields import RM_DYNAMIC, RM_NAMES
from vmlab.isa.aliases import ALIASES_BY_BASE, PRINT_AS_GENERAL
from vmlab.isa.csrs import csr_name
from vmlab.isa.instructions import BY_MNEMONIC, Insn


#: the placeholder an operand text holds where the branch/jump target address goes
TARGET = "\0"

#: instructions whose 12-bit immediate is an offset from a base register: objdump follows the
#: base register's value (set by a preceding lui/auipc) and comments the address reached
_ADDRESS_USERS = frozenset({"addi", "addiw", "jalr", "lb", "lh", "lw", "ld", "lbu", "lhu", "lwu",
                            "sb", "sh", "sw", "sd", "flw", "fld", "fsw", "fsd",
                            "c.addi", "c.addiw"})


@dataclass(frozen=True)
class Spelling:
    """One instruction word, decoded and spelled (independent of its address)."""

    row: Insn | None       # None: not an instruction (printed as .2byte/.4byte)
    mnemonic: str
    #: operand text; a pc-relative operand appears as :data:`TARGET`
    operands: str
    #: pc-relative offset of the branch/jump target, or None
    offset: int | None
    #: the register whose value objdump tracks for ``# address`` comments, and how:
    #: ("hi", rd, upper immediate, is_auipc, 1) for lui/auipc, ("use", base, imm, is_word,
    #: times) for instructions that add an offset to a base register
    track: tuple | None


def fence_set(bits: int) -> str:
    """A fence's predecessor or successor set: ``0b1111`` -> ``"iorw"``."""
    text = "".join(c for c, b in zip("iorw", (8, 4, 2, 1)) if bits & b)
    return text or "unknown"


def format_value(field_name: str, value: int, priv_spec: str = "1.12") -> str:
    """How objdump writes the value of one operand field."""
    f = FIELDS[field_name]
    if f.kind in ("reg", "creg"):
        return XREG_ABI[value]
    if f.kind in ("freg", "cfreg"):
        return FREG_ABI[value]
    if f.kind == "csr":
        return csr_name(value, priv_spec) or f"{value:#x}"
    if f.kind == "fence":
        return fence_set(value)
    if f.kind == "rm":
        return RM_NAMES[value]
    if f.hex:
        return f"{value:#x}"
    return str(value)


def _format_token(token: str, ops: dict[str, int], priv_spec: str) -> str | None:
    """One operand token; None when the token is left out (rm = dyn)."""
    if "(" in token:
        imm, reg = token.rstrip(")").split("(")
        inner = format_value(reg, ops[reg], priv_spec) if reg in FIELDS else reg
        return (format_value(imm, ops[imm], priv_spec) if imm else "") + f"({inner})"
    if token not in FIELDS:
        return token  # a fixed register that is part of the spelling: sp, zero, ra
    if FIELDS[token].pcrel:
        return TARGET
    if FIELDS[token].kind == "rm" and ops[token] == RM_DYNAMIC:
        return None
    return format_value(token, ops[token], priv_spec)


def _operands_of(row: Insn, word: int) -> dict[str, int]:
    ops = {}
    for token in row.syntax:
        for name in operand_fields(token):
            ops[name] = FIELDS[name].extract(word)
    return ops


def _spelling(row: Insn, word: int, ops: dict[str, int],
              aliases: bool) -> tuple[str, tuple[str, ...], dict]:
    """The mnemonic, operand tokens and operand values to print: an alias's, or the row's."""
    for alias in ALIASES_BY_BASE.get(row.mnemonic, ()):
        if (alias.always or (aliases and alias.disasm)) and alias.holds(ops):
            return alias.name, alias.syntax, ops
    if not aliases and row.mnemonic in PRINT_AS_GENERAL:
        general = BY_MNEMONIC[row.special_of]
        return general.mnemonic, general.syntax, _operands_of(general, word)
    return row.mnemonic, row.syntax, ops


def _tracking(row: Insn, ops: dict[str, int], syntax: tuple[str, ...]) -> tuple | None:
    """What this instruction does to objdump's ``# address`` bookkeeping (see Spelling.track).

    lui/auipc set a register's value.  Loads, stores and jalr use it as their base; addi and
    addiw only when their immediate is printed (``mv`` and ``li`` don't use it) and the base
    is not x0.
    """
    name = row.mnemonic
    if name in ("lui", "auipc"):
        return ("hi", ops["rd"], ops["imm_u"], name == "auipc", 1)
    if name == "c.lui":
        return ("hi", ops["c_rd"], ops["c_lui"], False, 1)
    if name not in _ADDRESS_USERS:
        return None
    if name.startswith("c."):
        imm_field, base_field = ("c_imm6" if name == "c.addiw" else "c_nzimm6"), "c_rd"
    else:
        imm_field, base_field = ("imm_s" if "imm_s" in ops else "imm_i"), "rs1"
    printed = {f for token in syntax for f in operand_fields(token)}
    times = 1
    if name == "jalr":
        # objdump looks at jalr's address twice: once for the offset, once for the base
        times = (imm_field in printed) + (base_field in printed)
    elif name in ("addi", "addiw", "c.addi", "c.addiw"):
        if imm_field not in printed or ops[base_field] == 0:
            return None
    if not times:
        return None
    return ("use", ops[base_field], ops[imm_field], name in ("addiw", "c.addiw"), times)


@lru_cache(maxsize=1 << 17)
def decode_word(word: int, size: int, aliases: bool = True, priv_spec: str = "1.12",
                extensions: frozenset[str] | None = None) -> Spelling:
    """Decode and spell ``word`` (``size`` 2 or 4 bytes).

    ``extensions``: the extensions the binary was built for (``{"I", "M", "A", "F", "D", "C",
    ...}``); rows of other extensions are not recognised, as objdump does for an ELF whose
    attributes leave them out.  None means all.
    """
    row = lookup(word, size)
    if row is None or (extensions is not None and not _enabled(row, extensions)):
        return Spelling(None, f".{size}byte", f"{word:#x}", None, None)
    own = _operands_of(row, word)
    mnemonic, syntax, ops = _spelling(row, word, own, aliases)
    texts = [t for t in (_format_token(tok, ops, priv_spec) for tok in syntax) if t is not None]
    offset = next((ops[n] for n in ops if FIELDS[n].pcrel), None)
    return Spelling(row, mnemonic, ",".join(texts), offset, _tracking(row, own, syntax))


def _enabled(row: Insn, extensions: frozenset[str]) -> bool:
    return all(part in extensions for part in row.ext.split("+"))
