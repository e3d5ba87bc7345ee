"""vmlab.isa: the one RISC-V instruction table and everything derived from it.

- :data:`INSTRUCTIONS` / :data:`BY_MNEMONIC`: one row per instruction (see ``instructions.py``)
- :data:`FIELDS`: where operand bits live (see ``fields.py``)
- :data:`CSRS`: control and status registers (see ``csrs.py``)
- :data:`CAUSES`: trap causes (see ``causes.py``)
- :data:`ALIASES`: pseudo-instructions, other names for forms of rows (see ``aliases.py``)
- :func:`decode`: an instruction word to its row and operand values
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vmlab.isa.aliases import ALIASES, ALIASES_BY_BASE, ALIASES_BY_NAME, Alias
from vmlab.isa.causes import CAUSE_BY_NAME, CAUSES, EXCEPTIONS, INTERRUPTS, Cause, cause_of
from vmlab.isa.csrs import CSR_BY_NAME, CSR_BY_NUMBER, CSRS, Csr, CsrField, csr_name, csr_number
from vmlab.isa.fields import FIELDS, Field
from vmlab.isa.instructions import BY_MNEMONIC, INSTRUCTIONS, Insn, lookup
from vmlab.isa.registers import FREG_ABI, XREG_ABI, freg, xreg

__all__ = [
    "FIELDS", "Field", "INSTRUCTIONS", "BY_MNEMONIC", "Insn", "lookup", "decode", "Decoded",
    "XREG_ABI", "FREG_ABI", "xreg", "freg", "operand_fields",
    "ALIASES", "ALIASES_BY_BASE", "ALIASES_BY_NAME", "Alias",
    "CSRS", "CSR_BY_NAME", "CSR_BY_NUMBER", "Csr", "CsrField", "csr_name", "csr_number",
    "CAUSES", "CAUSE_BY_NAME", "EXCEPTIONS", "INTERRUPTS", "Cause", "cause_of",
]


@lru_cache(maxsize=None)
def _operand_fields(token: str) -> tuple[str, ...]:
    return tuple(t for t in token.replace("(", " ").replace(")", " ").split() if t in FIELDS)


def operand_fields(token: str) -> list[str]:
    """Field names inside one syntax token: ``"imm_i(rs1)"`` -> ``["imm_i", "rs1"]``."""
    return list(_operand_fields(token))


@dataclass(frozen=True)
class Decoded:
    """An instruction word decoded against the table: its row and each operand's value."""

    insn: Insn
    word: int
    operands: dict[str, int]

    @property
    def size(self) -> int:
        return self.insn.size


def decode(word: int, size: int | None = None) -> Decoded | None:
    """Decode ``word`` (16 or 32 bits) into its most specific table row, or None if unknown."""
    row = lookup(word, size)
    if row is None:
        return None
    ops = {}
    for token in row.syntax:
        for name in operand_fields(token):
            ops[name] = FIELDS[name].extract(word)
    return Decoded(row, word, ops)
