"""The hot loop's first switch: every key is the instruction its comment names.

exec_hart dispatches the common instructions on one key, opcode bits 6..2 | funct3 << 5, and
each case carries a comment naming the instruction(s) it executes.  The keys come from the
table (``switch_key``); this test reads the hot loop's source and checks, for every case,
that the table decodes a word with that key as the mnemonic the comment names -- so a key
and its comment cannot disagree, and neither can drift from the table.
"""
from __future__ import annotations

import inspect
import re

from vmlab.isa import lookup
from vmlab.machine import hart

#: ``elif k == K_X:  ...  # x`` -- or, for jal and lui, ``elif (k == K_X or k == K_X + 32
#: ...):`` with ``# x`` after the statement on the next line
CASE = re.compile(r"if \(?k == (K_\w+)[^#]*# (\S+)")


def cases() -> list[tuple[str, str]]:
    source = inspect.getsource(hart)
    return CASE.findall(source)


def word_with_key(key: int) -> int:
    """The smallest 32-bit instruction word whose opcode and funct3 give ``key``."""
    return ((key & 31) << 2) | 3 | ((key >> 5) << 12)


def test_the_switch_has_its_cases():
    names = {mnemonic for _, mnemonic in cases()}
    assert {"addi", "ld", "sd", "beq", "jal", "lui", "jalr"} <= names
    assert len(cases()) >= 29


def test_each_key_decodes_as_the_mnemonic_its_comment_names():
    for const, mnemonic in cases():
        key = getattr(hart, const)
        row = lookup(word_with_key(key), 4)
        assert row is not None and row.mnemonic == mnemonic, (const, hex(key), mnemonic, row)
        assert key == hart.switch_key(mnemonic)


def test_a_wrong_key_would_be_caught():
    # the check above is not vacuous: the key of bne decodes as bne, not as beq
    assert lookup(word_with_key(hart.K_BNE), 4).mnemonic == "bne"
    assert hart.K_BNE != hart.K_BEQ
