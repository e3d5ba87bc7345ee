"""Whole programs with F/D instructions on vmlab's machine vs unicorn: registers, fcsr, memory.

Random programs mix every computational F/D row with FP loads and stores (flw, fld, fsw,
fsd and the compressed c.fld, c.fsd, c.fldsp, c.fsdsp) into a data area, under random rounding
modes; the hart runs them through its own fetch, decode, load/store path and FP dispatch.
unicorn's older QEMU is adjusted exactly as in test_fp_unicorn.py (NaN-boxing, 2.2 fmin/fmax).

``VMLAB_FP_MACHINE_PROGRAMS`` sets the number of programs (default 1000).
"""
from __future__ import annotations

import os
import random

import pytest

import fpgen
from oracles import need_module
from test_fp_unicorn import step_unicorn
from vmlab.isa import decode
from vmlab.machine.bits import i64
from vmlab.machine.fpstate import FS_INITIAL
from vmlab.machine.layout import FCSR, FREG, MSTATUS

PROGRAMS = int(os.environ.get("VMLAB_FP_MACHINE_PROGRAMS", "1000"))
LENGTH = 24
CODE = 0x8000_0000
DATA = 0x8010_0000
DATA_SIZE = 4096
BASE, SP = 8, 2  # x8 and x2 point into the data area and are never written
M64 = (1 << 64) - 1


def i_type(op, rd, f3, rs1, imm):
    return (imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def s_type(op, f3, rs1, rs2, imm):
    return (imm >> 5 & 0x7F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 31) << 7 | op


def fp_memory_word(rng):
    """flw/fld/fsw/fsd at an aligned offset from x8 (0..2047) or sp (-2048..2047)."""
    double = rng.randrange(2)
    size = 8 if double else 4
    base = rng.choice([BASE, SP])
    off = rng.randrange(0 if base == BASE else -2048 // size, 2048 // size) * size
    if rng.randrange(2):
        return i_type(0x07, rng.randrange(32), 2 + double, base, off), 4
    return s_type(0x27, 2 + double, base, rng.randrange(32), off), 4


def compressed_word(rng):
    """c.fld / c.fsd (x8 + uimm, f8..f15) and c.fldsp / c.fsdsp (sp + uimm, any f)."""
    kind = rng.randrange(4)
    if kind < 2:  # c.fld (f3 = 1) / c.fsd (f3 = 5), base x8, uimm 0..248 step 8
        u = rng.randrange(32) * 8
        f3 = 1 if kind == 0 else 5
        return (f3 << 13 | (u >> 3 & 7) << 10 | 0 << 7 | (u >> 6 & 3) << 5
                | rng.randrange(8) << 2), 2
    u = rng.randrange(64) * 8  # c.fldsp (f3 = 1) / c.fsdsp (f3 = 5), uimm 0..504 step 8
    if kind == 2:
        return (1 << 13 | (u >> 5 & 1) << 12 | rng.randrange(32) << 7 | (u >> 3 & 3) << 5
                | (u >> 6 & 7) << 2 | 2), 2
    return 5 << 13 | (u >> 3 & 7) << 10 | (u >> 6 & 7) << 7 | rng.randrange(32) << 2 | 2, 2


def writes_base(word):
    d = decode(word)
    return d is not None and d.operands.get("rd") in (BASE, SP)


def random_program(rng):
    """(words with their sizes): FP computation, FP memory accesses, compressed forms."""
    out = []
    while len(out) < LENGTH:
        r = rng.randrange(6)
        w = (fp_memory_word(rng) if r == 0 else compressed_word(rng) if r == 1
             else (fpgen.random_word(rng), 4))
        if not writes_base(w[0]):
            out.append(w)
    return out


def code_bytes(program):
    return b"".join(w.to_bytes(n, "little") for w, n in program)


def start_state(rng):
    f, x, frm = fpgen.random_state(rng)
    x[BASE], x[SP] = DATA, DATA + 2048
    return f, x, frm, rng.randbytes(DATA_SIZE)


@pytest.fixture(scope="module")
def uc():
    unicorn = need_module("unicorn")
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64
    emu = unicorn.Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    emu.mem_map(CODE, 0x1000)
    emu.mem_map(DATA, DATA_SIZE)
    return emu


@pytest.fixture(scope="module")
def machine():
    from vmlab.machine import Machine
    return Machine(ram_size=4 << 20, harts=1)


def run_unicorn(emu, program, f, x, frm, data):
    from unicorn import riscv_const as R
    emu.mem_write(CODE, code_bytes(program))
    emu.mem_write(DATA, data)
    emu.reg_write(R.UC_RISCV_REG_MSTATUS, 1 << 13)
    for i in range(32):
        emu.reg_write(R.UC_RISCV_REG_F0 + i, f[i])
        emu.reg_write(R.UC_RISCV_REG_X0 + i, x[i])
    emu.reg_write(R.UC_RISCV_REG_FCSR, frm << 5)
    pc = CODE
    for w, n in program:
        step_unicorn(emu, pc, w, R, size=n)
        pc += n
    return ([emu.reg_read(R.UC_RISCV_REG_F0 + i) for i in range(32)],
            [emu.reg_read(R.UC_RISCV_REG_X0 + i) for i in range(32)],
            emu.reg_read(R.UC_RISCV_REG_FCSR), bytes(emu.mem_read(DATA, DATA_SIZE)))


def run_vmlab(m, program, f, x, frm, data):
    code = code_bytes(program)
    end = CODE + len(code)
    m.write_mem(CODE, code + b"\x6f\x00\x00\x00")
    m.write_mem(DATA, data)
    c = m.cpu[0]
    c[MSTATUS] |= FS_INITIAL
    c[FREG:FREG + 32] = [i64(v) for v in f]
    for i in range(1, 32):
        m.set_reg(i, x[i])
    c[FCSR] = frm << 5
    m.pc = CODE
    m.add_breakpoint(end)
    try:
        r = m.run(instructions=10 * LENGTH)
    finally:
        m.remove_breakpoint(end)
    assert (r.reason, m.pc) == ("breakpoint", end)
    return ([int(v) & M64 for v in c[FREG:FREG + 32]], [m.reg(i) & M64 for i in range(32)],
            int(c[FCSR]), m.read_mem(DATA, DATA_SIZE))


def test_random_fd_programs_on_the_machine_match_unicorn(uc, machine):
    rng = random.Random(11)
    failures = []
    for n in range(PROGRAMS):
        program = random_program(rng)
        state = start_state(rng)
        ours, theirs = run_vmlab(machine, program, *state), run_unicorn(uc, program, *state)
        names = ("f registers", "x registers", "fcsr", "data memory")
        bad = [names[k] for k in range(4) if ours[k] != theirs[k]]
        if bad:
            failures.append(f"program {n}: {', '.join(bad)} differ: "
                            + " ".join(f"{w:0{2 * s}x}" for w, s in program))
    assert not failures, f"{len(failures)}/{PROGRAMS} differ:\n" + "\n".join(failures[:5])
