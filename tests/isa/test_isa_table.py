"""The instruction table: no overlaps, fields that round-trip, bytes equal to GNU as's."""
from __future__ import annotations

import random

import pytest

from isa_samples import as_bytes, assembly, gnu_text_bytes, row_fields, sample
from vmlab.isa import (ALIASES, BY_MNEMONIC, FIELDS, INSTRUCTIONS, decode, lookup,
                       operand_fields)


def _special_chain(row) -> set[str]:
    """Every row ``row`` is (transitively) declared a special case of."""
    out, name = set(), row.special_of
    while name is not None:
        out.add(name)
        name = BY_MNEMONIC[name].special_of
    return out


def _overlap(a, b) -> bool:
    """Some word matches both rows' match/mask."""
    common = a.mask & b.mask
    return a.size == b.size and (a.match ^ b.match) & common == 0


def test_mnemonics_are_unique():
    names = [r.mnemonic for r in INSTRUCTIONS]
    assert len(names) == len(set(names))


def test_no_two_rows_overlap_except_declared_special_cases():
    bad = []
    for i, a in enumerate(INSTRUCTIONS):
        for b in INSTRUCTIONS[i + 1:]:
            if _overlap(a, b) and b.mnemonic not in _special_chain(a) \
                    and a.mnemonic not in _special_chain(b):
                bad.append(f"{a.mnemonic} / {b.mnemonic}")
    assert not bad, "rows overlap without special_of: " + ", ".join(bad)


def test_special_cases_are_real_and_come_first():
    """A special case must lie inside its general row, and be tried before it."""
    order = {r.mnemonic: i for i, r in enumerate(INSTRUCTIONS)}
    for row in INSTRUCTIONS:
        if row.special_of is None:
            continue
        general = BY_MNEMONIC[row.special_of]
        assert row.mask & general.mask == general.mask, row.mnemonic
        assert row.match & general.mask == general.match, row.mnemonic
        assert order[row.mnemonic] < order[general.mnemonic], row.mnemonic


def test_operand_fields_do_not_collide_with_fixed_bits():
    for row in INSTRUCTIONS:
        for name in row_fields(row):
            assert FIELDS[name].insn_mask & row.mask == 0, (row.mnemonic, name)


@pytest.mark.parametrize("row", INSTRUCTIONS, ids=lambda r: r.mnemonic)
def test_fields_round_trip(row):
    """Values read from a word, inserted into the bare row, give the word back."""
    rng = random.Random(row.mnemonic)
    for _ in range(20):
        word, values = sample(row, rng)
        rebuilt = row.match
        for name, value in values.items():
            rebuilt = FIELDS[name].insert(rebuilt, value)
        assert rebuilt == word
        d = decode(word, row.size)
        assert d.insn is row and d.operands == values


def test_field_check_rejects_what_cannot_be_encoded():
    assert FIELDS["imm_i"].check(2048) is not None
    assert FIELDS["imm_i"].check(-2048) is None
    assert FIELDS["imm_b"].check(3) is not None          # branch offsets are even
    assert FIELDS["c_addi4spn"].check(0) is not None     # reserved encoding
    assert FIELDS["c_rd_p"].check(7) is not None         # x8..x15 only
    assert FIELDS["c_lui"].check(0xFFFFF) is None        # -1 written the lui way


def test_every_row_encodes_as_gnu_as_does(gnu_as, gnu_ld, tmp_path):
    rng = random.Random(1)
    lines, words = [], []
    for row in INSTRUCTIONS:
        for _ in range(8):
            word, values = sample(row, rng)
            lines.append((assembly(row.mnemonic, row.syntax, values), row.size))
            words.append((word, row.size))
    gnu = gnu_text_bytes(lines, gnu_as, gnu_ld, tmp_path)
    ours = as_bytes(words)
    if gnu != ours:
        bad, pos = [], 0
        for (line, size), (word, _) in zip(lines, words):
            theirs = int.from_bytes(gnu[pos:pos + size], "little")
            if theirs != word:
                bad.append(f"{line}: table {word:#x}, GNU as {theirs:#x}")
            pos += size
        pytest.fail("\n".join(bad[:40]))


def test_aliases_name_fields_of_their_row():
    for alias in ALIASES:
        row = BY_MNEMONIC[alias.base]
        fields = set(row_fields(row))
        for token in alias.syntax:
            for name in operand_fields(token):
                assert name in fields, (alias, name)
        for cond in alias.when:
            assert cond.replace("!", "").split("=")[0] in fields, (alias, cond)


def _alias_sample(alias, rng):
    row = BY_MNEMONIC[alias.base]
    for _ in range(200):
        _, values = sample(row, rng, fixed=alias.fixed())
        for name, source in alias.copies().items():
            values[name] = values[source]
        if alias.holds(values):
            return row, values
    raise AssertionError(alias)


def test_aliases_mean_what_gnu_as_says(gnu_as, gnu_ld, tmp_path):
    """GNU as turns each alias the assembler accepts into its base row with ``when``'s
    values."""
    rng = random.Random(2)
    chosen = [a for a in ALIASES if a.asm]
    lines, expected = [], []
    for alias in chosen:
        row, values = _alias_sample(alias, rng)
        lines.append((assembly(alias.name, alias.syntax, values), 4))
        expected.append((alias, row, values))
    gnu = gnu_text_bytes(lines, gnu_as, gnu_ld, tmp_path)
    bad = []
    for i, (alias, row, values) in enumerate(expected):
        d = decode(int.from_bytes(gnu[4 * i:4 * i + 4], "little"), 4)
        if d is None or d.insn is not row or any(d.operands[k] != v for k, v in values.items()
                                                 if k in d.operands):
            bad.append(f"{lines[i][0]!r}: GNU as gives {d and d.insn.mnemonic} {d and d.operands}")
    assert not bad, "\n".join(bad)


def test_lookup_rejects_reserved_encodings():
    # c.lwsp with rd = x0 and c.addi4spn with a zero immediate are reserved.
    assert lookup(0x4002, 2) is None
    assert lookup(0x0004, 2) is None
    assert lookup(0x0000, 2).mnemonic == "c.unimp"
