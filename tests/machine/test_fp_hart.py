"""F and D in the hart: mstatus.FS and SD, the FP CSRs, misa, loads and stores, snapshots.

The arithmetic is checked elsewhere (test_fp_reference, test_fp_unicorn, test_fp_qemu, and
whole programs in test_fp_machine); these are the rules around it.  F/D words are written
with ``.word`` so that the programs do not depend on the assembler knowing F and D.
"""
from __future__ import annotations

from machine_asm import run_asm
from vmlab.machine import Machine
from vmlab.machine.layout import FCSR, FREG, MSTATUS

FS_INITIAL = 1 << 13
SD = 1 << 63
U64 = (1 << 64) - 1


def r_type(f7, rs2, rs1, rm, rd, op=0x53):
    return f7 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | op


FADD_D = r_type(0x01, 2, 1, 0, 0)        # fadd.d f0, f1, f2, rne
FADD_D_DYN = r_type(0x01, 2, 1, 7, 0)    # fadd.d f0, f1, f2 (rm from frm)
FMV_X_D_A0_F1 = r_type(0x71, 0, 1, 0, 10)
FMV_D_X_F1_A1 = r_type(0x79, 0, 11, 0, 1)
FLW_F1_0_S0 = 2 << 12 | 8 << 15 | 1 << 7 | 0x07
FSW_F1_8_S0 = 8 << 7 | 2 << 12 | 8 << 15 | 1 << 20 | 0x27


def fs_on(body):
    return f"li t0, {FS_INITIAL}\n csrs mstatus, t0\n{body}"


def test_fs_off_makes_fp_instructions_and_fp_csrs_illegal():
    for insn in (f".word {FADD_D:#x}", ".half 0x2000", "csrr a0, fflags", "csrwi frm, 1"):
        m, _ = run_asm(f"la s7, 1f\n1: {insn}")
        assert (m.reg("s10"), m.reg("gp"), m.reg("s9")) == (2, 1, m.reg("s7")), insn


def test_an_fp_instruction_makes_fs_dirty_and_sd_says_so():
    m, _ = run_asm(fs_on(f"""
        csrr a0, mstatus
        .word {FADD_D:#x}
        csrr a1, mstatus
        csrr a2, sstatus
        li t0, 0x4000        # FS = Clean (as an OS does after saving the registers)
        csrc mstatus, t0
        csrr a3, mstatus
    """))
    a0, a1, a2, a3 = (m.reg(r) & U64 for r in ("a0", "a1", "a2", "a3"))
    assert (a0 >> 13 & 3, a0 & SD) == (1, 0)
    assert (a1 >> 13 & 3, a1 & SD) == (3, SD)
    assert (a2 >> 13 & 3, a2 & SD) == (3, SD)    # sstatus shows FS and SD too
    assert (a3 >> 13 & 3, a3 & SD) == (1, 0)


def test_fp_csrs_are_views_of_fcsr():
    m, _ = run_asm(fs_on("""
        li t0, 0x1FF
        csrw fcsr, t0
        csrr a0, fcsr
        csrr a1, fflags
        csrr a2, frm
        csrwi frm, 3
        csrwi fflags, 0x5
        csrr a3, fcsr
    """))
    assert [m.reg(r) for r in ("a0", "a1", "a2", "a3")] == [0xFF, 0x1F, 7, 3 << 5 | 5]


def test_misa_says_f_and_d():
    m, _ = run_asm("csrr a0, misa")
    assert m.reg("a0") >> 3 & 1 and m.reg("a0") >> 5 & 1


def test_reserved_dynamic_rounding_mode_traps_with_the_bits():
    m, _ = run_asm(fs_on(f"csrwi frm, 5\n la s7, 1f\n1: .word {FADD_D_DYN:#x}"))
    assert (m.reg("s10"), m.reg("s11"), m.reg("s9")) == (2, FADD_D_DYN, m.reg("s7"))


def test_flw_boxes_and_fsw_stores_the_low_half():
    m, syms = run_asm(fs_on(f"""
        la s0, data
        .word {FLW_F1_0_S0:#x}
        .word {FMV_X_D_A0_F1:#x}
        li a1, 0x1234567840490FDB
        .word {FMV_D_X_F1_A1:#x}
        .word {FSW_F1_8_S0:#x}
        ld a2, 8(s0)
        j pass
        .balign 8
    data:
        .dword 0x55555555C0000000
        .dword 0x9999999999999999
    """))
    assert m.reg("a0") & U64 == 0xFFFFFFFFC0000000
    assert m.reg("a2") & U64 == 0x9999999940490FDB


def test_snapshots_carry_fp_state(tmp_path):
    m, _ = run_asm(fs_on(f"""
        li a1, 0x400921FB54442D18
        .word {FMV_D_X_F1_A1:#x}
        li t0, 0x7F
        csrw fcsr, t0
    """))
    m.snapshot(tmp_path / "m.snap")
    back = Machine.restore(tmp_path / "m.snap")
    assert (back.cpu[0, FREG:FREG + 32] == m.cpu[0, FREG:FREG + 32]).all()
    assert back.cpu[0, FREG + 1] == 0x400921FB54442D18
    assert (back.cpu[0, FCSR], back.cpu[0, MSTATUS]) == (0x7F, m.cpu[0, MSTATUS])
