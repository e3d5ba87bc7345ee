"""Differential test: random F/D instruction sequences on vmlab's exec_fp and on unicorn.

unicorn is QEMU's RISC-V CPU with QEMU's softfloat: an independent implementation of the same
spec.  Each program is a few dozen words drawn from every computational F/D row of the
``vmlab.isa`` table (operand fields and rounding modes random, rm including DYN), run from
random registers (specials, subnormals, boundaries, integer-range edges, singles both
properly and improperly NaN-boxed) under a random frm.  All 32 f registers, the integer
registers and fflags must come out bit-identical.

``VMLAB_FP_PROGRAMS`` sets the number of programs (default 3000).
"""
from __future__ import annotations

import os
import random

import pytest

import fpgen
from oracles import need_module
from vmlab.isa import decode

PROGRAMS = int(os.environ.get("VMLAB_FP_PROGRAMS", "3000"))
LENGTH = 24
CODE = 0x10000
MSTATUS_FS_INITIAL = 1 << 13


@pytest.fixture(scope="module")
def uc():
    unicorn = need_module("unicorn")
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64
    emu = unicorn.Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    emu.mem_map(CODE, 0x1000)
    return emu


def single_operands(word, size=4):
    """(f registers the instruction reads as singles, f register it writes as a single or None)."""
    d = decode(word, size)
    parts = d.insn.mnemonic.split(".")
    if parts[0] in ("c", "fld", "fsd", "fsw"):  # compressed FP accesses are all doubles;
        return [], None                          # fsw stores the low bits, boxed or not
    if parts[0] == "flw":
        return [], d.operands["frd"]
    if parts[0] == "fmv":  # fmv.x.w reads raw bits; fmv.w.x writes a single
        src, dst = None, ("s" if parts[1] == "w" else None)
    elif parts[0] == "fcvt":
        src, dst = parts[2], parts[1]
    else:
        src = dst = parts[1]
    reads = [d.operands[k] for k in ("frs1", "frs2", "frs3") if k in d.operands] if src == "s" else []
    return reads, (d.operands["frd"] if dst == "s" and "frd" in d.operands else None)


def is_snan(v, fmt):
    e, f = (8, 23) if fmt == "s" else (11, 52)
    exp, frac = v >> f & ((1 << e) - 1), v & ((1 << f) - 1)
    return exp == (1 << e) - 1 and frac != 0 and not frac >> (f - 1) & 1


def is_nan(v, fmt):
    e, f = (8, 23) if fmt == "s" else (11, 52)
    return v >> f & ((1 << e) - 1) == (1 << e) - 1 and v & ((1 << f) - 1) != 0


def minmax_of_one_snan(emu, word, R):
    """fmin/fmax with one signalling NaN and one number: the spec (since F 2.2) gives the
    number, unicorn's QEMU the canonical NaN (IEEE 754-2008 minNum, QEMU before 6.1).
    Returns the spec's result for such a case (NV is raised by both), else None."""
    d = decode(word)
    if d.insn.mnemonic[:4] not in ("fmin", "fmax"):
        return None
    fmt = d.insn.mnemonic[-1]
    a, b = (emu.reg_read(R.UC_RISCV_REG_F0 + d.operands[k]) for k in ("frs1", "frs2"))
    if fmt == "s":
        a, b = (v & 0xFFFFFFFF for v in (a, b))
    if is_snan(a, fmt) and not is_nan(b, fmt):
        return b
    if is_snan(b, fmt) and not is_nan(a, fmt):
        return a
    return None


def step_unicorn(emu, pc, word, R, size=4):
    """One instruction on unicorn, with the spec's NaN-boxing applied around it.

    unicorn 2.1's QEMU predates NaN-boxing (QEMU added it in 5.2): its single-precision
    instructions read the low 32 bits whatever the upper ones hold, and write singles unboxed.
    So an improperly boxed single source is shown to it as the canonical NaN (the value the
    spec says it reads as), and a single result is boxed afterwards.  Likewise for the one
    place where its fmin/fmax predate the spec (see minmax_of_one_snan)."""
    reads, writes = single_operands(word, size)
    saved = {}
    for r in set(reads):
        v = emu.reg_read(R.UC_RISCV_REG_F0 + r)
        if v >> 32 != 0xFFFFFFFF:
            saved[r] = v
            emu.reg_write(R.UC_RISCV_REG_F0 + r, 0x7FC00000)
    spec_minmax = minmax_of_one_snan(emu, word, R) if size == 4 else None
    emu.emu_start(pc, pc + size)
    if spec_minmax is not None:
        emu.reg_write(R.UC_RISCV_REG_F0 + decode(word).operands["frd"], spec_minmax)
    for r, v in saved.items():
        if r != decode(word, size).operands.get("frd"):  # (a result written there stays)
            emu.reg_write(R.UC_RISCV_REG_F0 + r, v)
    if writes is not None:
        v = emu.reg_read(R.UC_RISCV_REG_F0 + writes)
        emu.reg_write(R.UC_RISCV_REG_F0 + writes, v | 0xFFFFFFFF00000000)


def run_unicorn(emu, words, f, x, frm):
    from unicorn import riscv_const as R
    emu.mem_write(CODE, b"".join(w.to_bytes(4, "little") for w in words))
    emu.reg_write(R.UC_RISCV_REG_MSTATUS, MSTATUS_FS_INITIAL)  # FS Off would trap every F insn
    for i in range(32):
        emu.reg_write(R.UC_RISCV_REG_F0 + i, f[i])
        emu.reg_write(R.UC_RISCV_REG_X0 + i, x[i])
    emu.reg_write(R.UC_RISCV_REG_FCSR, frm << 5)
    for i, w in enumerate(words):
        step_unicorn(emu, CODE + 4 * i, w, R)
    return ([emu.reg_read(R.UC_RISCV_REG_F0 + i) for i in range(32)],
            [emu.reg_read(R.UC_RISCV_REG_X0 + i) for i in range(32)],
            emu.reg_read(R.UC_RISCV_REG_FCSR))


def describe(words):
    return "\n".join(f"  {w:08x}  {decode(w).insn.mnemonic}" for w in words)


def diff(ours, theirs):
    out = [f"f{i}: {a:#x} != {b:#x}" for i, (a, b) in enumerate(zip(ours[0], theirs[0])) if a != b]
    out += [f"x{i}: {a:#x} != {b:#x}" for i, (a, b) in enumerate(zip(ours[1], theirs[1])) if a != b]
    if ours[2] != theirs[2]:
        out.append(f"fcsr: {ours[2]:#x} != {theirs[2]:#x}")
    return out


def test_random_fd_programs_match_unicorn(uc):
    rng = random.Random(2026)
    failures = []
    for n in range(PROGRAMS):
        words = [fpgen.random_word(rng) for _ in range(LENGTH)]
        f, x, frm = fpgen.random_state(rng)
        d = diff(fpgen.run_exec_fp(words, f, x, frm), run_unicorn(uc, words, f, x, frm))
        if d:
            failures.append(f"program {n}:\n{describe(words)}\n  " + "; ".join(d))
    assert not failures, f"{len(failures)}/{PROGRAMS} programs differ, first:\n" + "\n".join(failures[:3])


def test_every_computational_row_is_generated():
    """The generator draws from every F/D row, so the programs above exercise each one."""
    rng = random.Random(0)
    seen = {decode(fpgen.random_word(rng)).insn.mnemonic for _ in range(20000)}
    assert seen == {r.mnemonic for r in fpgen.ROWS}
