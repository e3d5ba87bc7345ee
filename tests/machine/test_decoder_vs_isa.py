"""The hand-written decoder agrees with the instruction table ``vmlab.isa`` on every row.

* 32-bit rows: random encodings of each row are executed once on the machine.  Rows of the
  extensions we implement (I, M, A, Zicsr, Zifencei, privileged) must not raise an illegal
  instruction exception; rows of the ones we do not (F, D, N, debug, old Sv) must.
* 16-bit rows: the machine's expansion table (rvc.py) must give, for random encodings of each
  row, exactly the 32-bit word that assembling the row's documented ``expands`` produces; the
  table's reserved encodings, and F/D rows, must expand to 0 (illegal).
"""
from __future__ import annotations

import random

import pytest

from vmlab.isa import FIELDS, INSTRUCTIONS, lookup
from vmlab.isa.registers import xreg
from vmlab.machine import Machine
from vmlab.machine.rvc import expansion_table

IMPLEMENTED = {"I", "M", "A", "Zicsr", "Zifencei", "Priv", "C", "C+D", "H"}
SAMPLES = 24
#: RV128's 64-bit shift forms: on RV64 a shift by 0, a HINT that executes as a no-op
SHIFT_BY_ZERO = {"c.srli64", "c.srai64", "c.slli64"}
BASE, TRAP = 0x80000000, 0x80001000


def encodings(row, rng: random.Random, n: int = SAMPLES):
    """Random words of this row that the table itself decodes as this row."""
    out, tries = [], 0
    width = 16 if row.size == 2 else 32
    while len(out) < n and tries < 50 * n:
        tries += 1
        w = row.match | (rng.getrandbits(width) & ~row.mask)
        if row.mnemonic.startswith("csrr"):             # a CSR that surely exists: mscratch
            w = (w & 0x000FFFFF) | (0x340 << 20)
        if lookup(w, row.size) is row:
            out.append(w)
    return out


@pytest.fixture(scope="module")
def machine():
    return Machine(ram_size=1 << 20)


def traps_illegal(m: Machine, word: int) -> bool:
    """Execute ``word`` once in M-mode; True if it raised an illegal-instruction exception."""
    m.reset()
    m.write_mem(BASE, word.to_bytes(4, "little"))
    for i in range(1, 32):
        m.set_reg(i, BASE + 0x800)                       # every address a register makes is RAM
    m.set_csr("mtvec", TRAP)
    m.set_csr("mepc", BASE + 0x400)
    m.set_csr("sepc", BASE + 0x400)
    m.pc = BASE
    m.step()
    return m.pc == TRAP and m.csr("mcause") == 2


@pytest.mark.parametrize("row", [r for r in INSTRUCTIONS if r.size == 4],
                         ids=lambda r: r.mnemonic)
def test_32bit_rows_are_legal_exactly_when_implemented(machine, row):
    rng = random.Random(row.mnemonic)
    words = encodings(row, rng)
    assert words, "no encoding of this row decodes as itself"
    want_illegal = row.ext not in IMPLEMENTED
    for w in words:
        assert traps_illegal(machine, w) == want_illegal, f"{row.mnemonic} {w:08x}"


def _operand(token: str, word: int) -> str:
    """One operand of an ``expands`` text, with the row's field values filled in."""
    if "(" in token:                                     # offset(base)
        off, base = token[:-1].split("(")
        return f"{_operand(off, word)}({_operand(base, word)})"
    if token in FIELDS:
        f = FIELDS[token]
        v = f.extract(word)
        if f.kind in ("reg", "creg"):
            return f"x{v}"
        if f.kind in ("freg", "cfreg"):
            return f"f{v}"
        if f.pcrel:
            return f".{v:+d}"                            # relative to the instruction itself
        return str(v)
    if xreg(token) is not None:
        return token
    return token


def expected_expansion(row, word: int) -> int:
    from vmlab.asm import assemble
    mnemonic, _, operands = row.expands.partition(" ")
    text = ", ".join(_operand(t.strip(), word) for t in operands.split(","))
    prog = assemble(f".option norvc\n{mnemonic} {text}\n", base=0, march="rv64imafdc")
    return int.from_bytes(prog.image[:4], "little")


@pytest.mark.parametrize("row", [r for r in INSTRUCTIONS if r.size == 2],
                         ids=lambda r: r.mnemonic)
def test_compressed_rows_expand_as_the_table_says(row):
    table = expansion_table()
    rng = random.Random(row.mnemonic)
    words = encodings(row, rng, 12)
    assert words
    for w in words:
        got = int(table[w])
        if row.mnemonic in SHIFT_BY_ZERO:
            assert got != 0, f"{row.mnemonic} {w:04x} is a HINT on RV64: it executes"
            continue
        if row.ext not in IMPLEMENTED or row.expands is None:
            assert got == 0, f"{row.mnemonic} {w:04x} must be illegal"
            continue
        assert got == expected_expansion(row, w), f"{row.mnemonic} {w:04x} -> {got:08x}"


def test_reserved_compressed_encodings_are_illegal():
    table = expansion_table()
    rng = random.Random(5)
    for row in INSTRUCTIONS:
        if row.size != 2 or not row.reserved_if_zero:
            continue
        for _ in range(50):
            w = row.match | (rng.getrandbits(16) & ~row.mask)
            for name in row.reserved_if_zero:
                w &= ~FIELDS[name].insn_mask
            if (w & row.mask) == row.match and lookup(w, 2) is None:
                assert table[w] == 0, f"{row.mnemonic} {w:04x} is reserved"
