"""vmlab's assembler against GNU as + ld: the same source must give the same section bytes."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings, strategies as st

from asm_gen import MARCH, ROWS, random_values, row_text
from asm_oracle import compare, gnu_sections
from vmlab.asm import assemble

CORPUS = sorted(Path(__file__).parent.joinpath("corpus").glob("*.s"))


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_matches_gnu(path, gnu_as, gnu_ld):
    assert compare(path.read_text(), gnu_as, gnu_ld) == []


@pytest.mark.parametrize("name", ["01_rv64i_alu.s", "04_loads_stores.s", "20_li_64.s", "54_norvc_file.s",
                                  "36_align_code.s", "47_branch_relax.s"])
def test_without_c_matches_gnu(name, gnu_as, gnu_ld):
    """With -march=rv64ima nothing is compressed, and padding still matches."""
    src = (Path(__file__).parent / "corpus" / name).read_text()
    assert compare(src, gnu_as, gnu_ld, march="rv64ima") == []


def _slots(lines: list[str], gnu_as, gnu_ld, march: str = "rv64imac") -> list[str]:
    """Assemble each line in its own 16-byte slot with both assemblers; return the lines
    whose bytes differ (a slot keeps one mistake from shifting everything after it)."""
    src = "".join(f"{line}\n.balign 16\n" for line in lines)
    prog = assemble(src, march=march)
    text = prog.sections[".text"]
    theirs = gnu_sections(src, {".text": text.addr}, gnu_as, gnu_ld, march)[".text"]
    return [f"{line}: ours {text.data[16 * i:16 * i + 16].hex()} GNU {theirs[16 * i:16 * i + 16].hex()}"
            for i, line in enumerate(lines) if text.data[16 * i:16 * i + 16] != theirs[16 * i:16 * i + 16]]


@pytest.mark.parametrize("seed", range(4))
def test_every_row_with_random_operands(seed, gnu_as, gnu_ld):
    """Every table row, random operands biased towards what compressed forms accept:
    checks both the encodings and GNU as's choice of compressed form."""
    rnd = random.Random(seed)
    lines = [row_text(row, random_values(row, rnd)) for _ in range(3) for row in ROWS]
    assert _slots(lines, gnu_as, gnu_ld, MARCH) == []


_INT64 = st.one_of(
    st.integers(-(1 << 63), (1 << 64) - 1),
    st.integers(-4096, 4096),
    st.integers(0, 51).flatmap(lambda s: st.integers(-(1 << 12), 1 << 12).map(lambda v: v << s)),
    st.builds(lambda a, b: a << 32 | b, st.integers(0, (1 << 32) - 1), st.sampled_from([0, 1, 0x7FF, 0x800, 0xFFF, 0xFFFFF000])),
)


@settings(max_examples=8, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate])  # each example runs GNU as: no shrinking
@given(st.lists(_INT64, min_size=40, max_size=40))
def test_li_matches_gnu(gnu_as, gnu_ld, values):
    """``li`` picks GNU as's sequence for any 64-bit constant (40 constants per run)."""
    regs = ["a0", "t0", "s1", "a5", "t6", "sp"]
    lines = [f"li {regs[i % len(regs)]}, {v}" for i, v in enumerate(values)]
    assert _slots(lines, gnu_as, gnu_ld) == []


_OPERAND_REGS = ["zero", "ra", "sp", "s0", "a0", "a5", "t0", "s2"]


@settings(max_examples=6, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate])  # each example runs GNU as: no shrinking
@given(st.lists(st.tuples(st.sampled_from(["mv", "not", "neg", "negw", "sext.w", "seqz", "snez", "sltz", "sgtz",
                                           "addi", "addiw", "andi", "slli", "srli", "srai", "lui"]),
                          st.sampled_from(_OPERAND_REGS), st.sampled_from(_OPERAND_REGS),
                          st.integers(-40, 40)), min_size=60, max_size=60))
def test_compression_choices_match_gnu(gnu_as, gnu_ld, cases):
    """Pseudo-instructions and immediates near the compressed forms' limits."""
    lines = []
    for mn, rd, rs, imm in cases:
        if mn in ("addi", "addiw", "andi"):
            lines.append(f"{mn} {rd}, {rs}, {imm}")
        elif mn in ("slli", "srli", "srai"):
            lines.append(f"{mn} {rd}, {rs}, {abs(imm) % 64}")
        elif mn == "lui":
            lines.append(f"lui {rd}, {imm & 0xFFFFF:#x}")
        else:
            lines.append(f"{mn} {rd}, {rs}")
    assert _slots(lines, gnu_as, gnu_ld) == []


def test_shipped_guests_match_gnu(gnu_as, gnu_ld):
    """Real programs written for vmlab (the hello guest and the teaching OS)."""
    from vmlab import guests
    from vmlab.guests import teachos
    sources = [(guests.source("hello"), 0x80000000), (teachos.source(), teachos.KERNEL_BASE)]
    for src, base in sources:
        prog = assemble(src, base)
        theirs = gnu_sections(src, {n: s.addr for n, s in prog.sections.items() if s.size}, gnu_as, gnu_ld)
        for name, sec in prog.sections.items():
            if sec.size and not sec.nobits:
                assert sec.data == theirs[name], name
