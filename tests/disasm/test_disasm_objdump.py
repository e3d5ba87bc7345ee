"""The disassembler against GNU objdump: real firmware, every 16-bit word, random 32-bit words."""
from __future__ import annotations

import random

import pytest

from objdump_oracle import agreement, instructions, normalise, objdump
from vmlab.disasm import disassemble, disassemble_file
from vmlab.isa import FIELDS, INSTRUCTIONS, operand_fields

#: the done-when bar (the aim is 100%; differences are listed on failure)
REQUIRED = 0.999


def _ours(listing) -> dict[int, str]:
    return {i.address: normalise(i.text) for i in listing.instructions}


@pytest.fixture(scope="module", params=["opensbi_fw_jump", "uboot_smode"])
def firmware(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
def test_firmware_agrees_with_objdump(firmware, aliases, gnu_objdump):
    options = ["-d"] + ([] if aliases else ["-M", "no-aliases"])
    theirs = instructions(objdump(gnu_objdump, firmware, *options))
    ours = _ours(disassemble_file(firmware, aliases=aliases))
    share, diffs = agreement(theirs, ours)
    assert len(theirs) > 5000
    assert share >= REQUIRED, f"{share:.4%} of {len(theirs)} agree; differences:\n" + \
        "\n".join(diffs[:50])
    if diffs:  # within the bar, but say what is left
        print(f"{firmware.name}: {share:.4%} agree; remaining:\n" + "\n".join(diffs))


def test_firmware_listing_text_matches(firmware, gnu_objdump):
    """Not just the instructions: labels, byte columns, '...', data dumps and headers too."""
    theirs = objdump(gnu_objdump, firmware, "-d").splitlines()
    ours = disassemble_file(firmware).text().splitlines()
    bad = [f"{i}: {t!r} != {o!r}" for i, (t, o) in enumerate(zip(theirs, ours)) if t != o]
    assert len(theirs) == len(ours) and not bad, "\n".join(bad[:20])


def _raw_listing(gnu_objdump, tmp_path, data: bytes, aliases: bool) -> dict[int, str]:
    path = tmp_path / "words.bin"
    path.write_bytes(data)
    options = ["-D", "-b", "binary", "-m", "riscv:rv64"] + ([] if aliases else ["-M", "no-aliases"])
    return instructions(objdump(gnu_objdump, path, *options))


def _compare_words(gnu_objdump, tmp_path, data: bytes, aliases: bool):
    theirs = _raw_listing(gnu_objdump, tmp_path, data, aliases)
    ours = {i.address: normalise(i.text) for i in disassemble(data, 0, aliases=aliases)}
    share, diffs = agreement(theirs, ours)
    assert not diffs, "\n".join(diffs[:50])


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
def test_every_16bit_word(aliases, gnu_objdump, tmp_path):
    words = [w for w in range(1 << 16) if w & 3 != 3]
    _compare_words(gnu_objdump, tmp_path, b"".join(w.to_bytes(2, "little") for w in words),
                   aliases)


def _biased_word(row, rng) -> int:
    """A word of ``row`` with random bits, where fields often get the values aliases test
    for (0, 1, -1, 255 ...)."""
    word = row.match | (rng.getrandbits(32) & ~row.mask)
    for token in row.syntax:
        for name in operand_fields(token):
            if rng.random() < 0.35:
                f = FIELDS[name]
                raw = rng.choice([0, 1, 2, 3, 15, -1, 255, 0xC00, 0xC01, 0xC02]) & ((1 << f.width) - 1)
                word &= ~f.insn_mask
                for ilsb, w, vlsb in f.pieces:
                    word |= ((raw >> vlsb) & ((1 << w) - 1)) << ilsb
    return word if (word & row.mask) == row.match else row.match


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
def test_random_32bit_words(aliases, gnu_objdump, tmp_path):
    rng = random.Random(7)
    words = [_biased_word(row, rng) for row in INSTRUCTIONS if row.size == 4 for _ in range(40)]
    words += [rng.getrandbits(32) | 3 for _ in range(10000)]
    words = [w for w in words if w & 0x1F != 0x1F]  # keep them 32-bit long
    _compare_words(gnu_objdump, tmp_path, b"".join(w.to_bytes(4, "little") for w in words),
                   aliases)
