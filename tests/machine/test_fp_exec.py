"""exec_fp at the register level: which words are instructions, NaN-boxing, x0, fcsr.

The arithmetic itself is checked against the reference (test_fp_reference.py) and against
unicorn (test_fp_unicorn.py); here are the rules around it.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from oracles import need_module
from vmlab.machine.bits import i64
from vmlab.machine.fpexec import ILLEGAL, OK, exec_fp

FB, XB, FCSR = 0, 32, 64
CODE = 0x10000
BOX = 0xFFFFFFFF00000000
CANON_S = 0x7FC00000


def r_type(f7, rs2, rs1, rm, rd, op=0x53):
    return f7 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | op


def machine(f=None, x=None, frm=0):
    row = np.zeros(65, dtype=np.int64)
    for i, v in (f or {}).items():
        row[FB + i] = i64(v)
    for i, v in (x or {}).items():
        row[XB + i] = i64(v)
    row[FCSR] = frm << 5
    return row


def freg(row, i):
    return int(row[FB + i]) & (2**64 - 1)


FADD_D, FADD_S = 0x01, 0x00


@pytest.mark.parametrize("rm,frm", [(5, 0), (6, 0), (7, 5), (7, 6), (7, 7)])
def test_reserved_rounding_mode_is_illegal_and_changes_nothing(rm, frm):
    row = machine({1: 0x3FF0000000000000, 2: 0x3FF0000000000000}, frm=frm)
    before = row.copy()
    assert exec_fp(row, r_type(FADD_D, 2, 1, rm, 3), FB, XB, FCSR) == ILLEGAL
    assert (row == before).all()


@pytest.mark.parametrize("frm", range(5))
def test_dyn_uses_frm(frm):
    # 1 + 2**-53 * 3 (1.5 ulp below the next double): RUP and RMM differ from the others
    row = machine({1: 0x3FF0000000000000, 2: 0x3CB8000000000000}, frm=frm)
    assert exec_fp(row, r_type(FADD_D, 2, 1, 7, 3), FB, XB, FCSR) == OK
    want = {0: 0x3FF0000000000002, 1: 0x3FF0000000000001, 2: 0x3FF0000000000001,
            3: 0x3FF0000000000002, 4: 0x3FF0000000000002}[frm]
    assert freg(row, 3) == want
    assert row[FCSR] == frm << 5 | 1  # NX accrued, frm kept


def test_improperly_boxed_single_reads_as_canonical_nan():
    row = machine({1: 0x000000003F800000, 2: BOX | 0x3F800000})  # 1.0 without its box
    assert exec_fp(row, r_type(FADD_S, 2, 1, 0, 3), FB, XB, FCSR) == OK
    assert freg(row, 3) == BOX | CANON_S
    assert row[FCSR] == 0  # a quiet NaN: no flag


def test_sign_injection_on_unboxed_single_injects_into_the_canonical_nan():
    row = machine({1: 0x0000000000000000, 2: BOX | 0x80000000})
    assert exec_fp(row, r_type(0x10, 2, 1, 0, 3), FB, XB, FCSR) == OK  # fsgnj.s
    assert freg(row, 3) == BOX | 0x80000000 | CANON_S


def test_fmv_x_w_moves_raw_bits_sign_extended_without_a_box_check():
    row = machine({1: 0x1234567880000001})
    assert exec_fp(row, r_type(0x70, 0, 1, 0, 5), FB, XB, FCSR) == OK
    assert int(row[XB + 5]) & (2**64 - 1) == 0xFFFFFFFF80000001


def test_fmv_w_x_boxes():
    row = machine(x={7: 0xDEADBEEF3F800000})
    assert exec_fp(row, r_type(0x78, 0, 7, 0, 4), FB, XB, FCSR) == OK
    assert freg(row, 4) == BOX | 0x3F800000


def test_x0_is_never_written():
    row = machine({1: 0x3FF0000000000000})
    assert exec_fp(row, r_type(0x71, 0, 1, 0, 0), FB, XB, FCSR) == OK  # fmv.x.d x0, f1
    assert row[XB] == 0


def test_flags_accrue():
    row = machine({1: 0x7FF0000000000001, 2: 0}, frm=2)  # sNaN
    row[FCSR] |= 1
    assert exec_fp(row, r_type(0x51, 2, 1, 2, 9), FB, XB, FCSR) == OK  # feq.d: NV for sNaN
    assert row[FCSR] == (2 << 5) | 0x10 | 1


def test_which_words_are_instructions_agrees_with_unicorn():
    """Random words in the OP-FP and FMA opcodes, random frm: exec_fp refuses exactly the words
    on which unicorn raises an illegal-instruction exception (bad fmt, rm, rs2, funct3)."""
    unicorn = need_module("unicorn")
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, UcError
    from unicorn import riscv_const as R
    emu = unicorn.Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    emu.mem_map(CODE, 0x1000)
    rng = random.Random(8)
    seen, differ = set(), []
    for _ in range(4000):
        w = rng.choice([0x53] * 6 + [0x43, 0x47, 0x4B, 0x4F]) | rng.getrandbits(25) << 7
        frm = rng.randrange(8)
        ours = exec_fp(machine(frm=frm), w, FB, XB, FCSR) == ILLEGAL
        emu.mem_write(CODE, w.to_bytes(4, "little"))
        emu.reg_write(R.UC_RISCV_REG_MSTATUS, 1 << 13)
        emu.reg_write(R.UC_RISCV_REG_FCSR, frm << 5)
        try:
            emu.emu_start(CODE, CODE + 4)
            theirs = False
        except UcError:
            theirs = True
        seen.add(theirs)
        if ours != theirs:
            differ.append(f"{w:#010x} frm={frm}: ours illegal={ours}, unicorn illegal={theirs}")
    assert seen == {False, True}
    assert not differ, "\n".join(differ[:10])
