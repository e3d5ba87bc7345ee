"""Property: a valid instruction word, disassembled to text and assembled again, gives the
same bytes.  The text comes from three sources: vmlab's disassembler (with and without
aliases), GNU objdump's ``-M no-aliases`` output (an independent reader of the same words),
and the instruction table's own syntax."""
from __future__ import annotations

import random
import re
import subprocess
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings, strategies as st

from asm_gen import MARCH, ROWS, row_text
from vmlab.asm.march import enabled, parse_march
from vmlab.asm import AsmError, assemble
from vmlab.isa import decode
from vmlab.asm.encoder import constraint_violation, encode

BASE = 0x80000000
EXTENSIONS = parse_march(MARCH)


def _canonical(row, rnd_bits: int):
    """A word for ``row`` with random operand bits, if it is the row's canonical form."""
    word = row.match | (rnd_bits & ~row.mask & ((1 << (8 * row.size)) - 1))
    d = decode(word, row.size)
    if d is None or not enabled(d.insn.ext, EXTENSIONS):
        return None
    if d.operands.get("rm") in (5, 6):
        return None               # reserved rounding modes: no name to write them with
    if d.operands.get("pred") == 0 or d.operands.get("succ") == 0:
        return None               # an empty fence set has no spelling GNU as accepts
    try:
        if encode(d.insn, d.operands) != word or constraint_violation(d.insn, d.operands):
            return None           # reserved bits set, or a hint the text cannot express
    except ValueError:
        return None
    return d


def _assemble_one(text: str, size: int) -> bytes:
    # 32-bit rows with compression off, so the assembler keeps the row that was written
    prog = assemble((".option norvc\n" if size == 4 else "") + text + "\n", BASE, march=MARCH)
    return prog.sections[".text"].data[:size]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.sampled_from(ROWS), st.integers(0, (1 << 32) - 1))
def test_table_text_round_trips(row, bits):
    d = _canonical(row, bits)
    assume(d is not None)
    text = row_text(d.insn, d.operands)
    assert _assemble_one(text, d.size) == d.word.to_bytes(d.size, "little"), text


_BRANCH = re.compile(r"^(\S+)\s+(.*,)?(0x[0-9a-f]+|[0-9a-f]+)(?:\s*<.*>)?$")
_JUMPS = {"beq", "bne", "blt", "bge", "bltu", "bgeu", "jal", "c.beqz", "c.bnez", "c.j"}


def test_objdump_text_round_trips(gnu_objdump):
    """500 random words, disassembled by objdump, reassembled by vmlab."""
    rnd = random.Random(7)
    words = []
    while len(words) < 500:
        d = _canonical(rnd.choice(ROWS), rnd.getrandbits(32))
        if d is not None:
            words.append(d)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp, "w.bin")
        # each word in its own 4-byte slot so objdump keeps them apart
        raw.write_bytes(b"".join(d.word.to_bytes(d.size, "little") + bytes(4 - d.size) for d in words))
        out = subprocess.run([gnu_objdump, "-D", "-b", "binary", "-m", "riscv:rv64", "-M", "no-aliases",
                              str(raw)], capture_output=True, text=True, check=True).stdout
    lines = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0].strip().endswith(":"):
            lines[int(parts[0].strip()[:-1], 16)] = "\t".join(parts[2:]).split("#")[0].strip()
    failures = []
    for i, d in enumerate(words):
        text = lines[4 * i]
        mnemonic = text.split()[0]
        if mnemonic in _JUMPS:
            # objdump prints the target's address; GNU syntax for "relative to here" is .+off
            m = _BRANCH.match(text)
            offset = (int(m.group(3), 16) - 4 * i + (1 << 63)) % (1 << 64) - (1 << 63)
            text = f"{m.group(1)} {m.group(2) or ''}.{offset:+d}"
        try:
            got = _assemble_one(text, d.size)
        except AsmError as exc:
            got = str(exc).encode()
        if got != d.word.to_bytes(d.size, "little"):
            failures.append(f"{text}: {got!r} != {d.word:#x}")
    assert failures == []


def _relative(insn) -> str:
    """vmlab.disasm's text with a branch target rewritten as ``.+offset`` (GNU syntax for
    "relative to this instruction"; an absolute number would make GNU as use the long form)."""
    ops = insn.operands.split("<")[0].strip()
    if insn.target is not None:
        head = ops.rsplit(",", 1)[0] + "," if "," in ops else ""
        ops = f"{head}.{insn.target - insn.address:+d}"
    return f"{insn.mnemonic} {ops}".strip()


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.sampled_from(ROWS), st.integers(0, (1 << 32) - 1))
def test_vmlab_disasm_text_round_trips(row, bits):
    """``-M no-aliases`` text from vmlab.disasm names the exact row: same bytes back."""
    from vmlab.disasm import disassemble
    d = _canonical(row, bits)
    assume(d is not None)
    raw = d.word.to_bytes(d.size, "little")
    text = _relative(disassemble(raw, BASE, aliases=False)[0])
    assert _assemble_one(text, d.size) == raw, text


def test_vmlab_disasm_alias_text_round_trips(gnu_as, gnu_ld):
    """With aliases (``mv``, ``beqz``, ``ret``, compressed rows printed as what they do),
    the text must come back as the same bytes, or as exactly what GNU as makes of it
    (``c.addi16sp sp, 16`` prints as ``add sp,sp,16``, which GNU as writes as ``c.addi``)."""
    from asm_oracle import gnu_sections
    from vmlab.disasm import disassemble
    rnd = random.Random(11)
    cases = []
    while len(cases) < 600:
        d = _canonical(rnd.choice(ROWS), rnd.getrandbits(32))
        if d is not None:
            raw = d.word.to_bytes(d.size, "little")
            cases.append((_relative(disassemble(raw, BASE, aliases=True)[0]), raw))
    # 32-bit words are assembled with compression off, 16-bit ones with it on
    lines = [(".option norvc" if len(raw) == 4 else ".option rvc") + f"\n{text}\n.balign 16"
             for text, raw in cases]
    src = "\n".join(lines) + "\n"
    ours = assemble(src, BASE, march=MARCH).sections[".text"].data
    theirs = gnu_sections(src, {".text": BASE}, gnu_as, gnu_ld, MARCH)[".text"]
    bad = []
    for i, (text, raw) in enumerate(cases):
        got, gnu = ours[16 * i:16 * i + 16], theirs[16 * i:16 * i + 16]
        if got != gnu:
            bad.append(f"{text}: word {raw.hex()} ours {got.hex()} GNU {gnu.hex()}")
    assert bad == []
    same = sum(ours[16 * i:16 * i + 16].startswith(raw) for i, (_, raw) in enumerate(cases))
    assert same > 0.9 * len(cases)
