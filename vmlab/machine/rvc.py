"""The C extension: every 16-bit instruction expands to one 32-bit instruction.

The hot loop never decodes compressed instructions itself: :func:`expansion_table` expands
all 65536 halfwords once, and the loop looks the 32-bit equivalent up (0 = illegal).  This
is the RV64C table of the unprivileged spec, chapter "C", including the double-precision
loads and stores (c.fld, c.fsd, c.fldsp, c.fsdsp; RV64 has no c.flw/c.fsw).  Plain Python: the table is built once and kept next to the compiled code.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numba
import numpy as np


def _b(v, hi, lo):
    """Bits hi..lo of v."""
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


def i_type(op, rd, f3, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def s_type(op, f3, rs1, rs2, imm):
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op


def r_type(op, rd, f3, rs1, rs2, f7):
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def b_type(f3, rs1, rs2, imm):
    return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15)
            | (f3 << 12) | (((imm >> 1) & 0xF) << 8) | (((imm >> 11) & 1) << 7) | 0x63)


def j_type(rd, imm):
    return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20)
            | (((imm >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F)


def _sx(v, bits):
    m = 1 << (bits - 1)
    return (v ^ m) - m


def _q0(h):
    f3 = _b(h, 15, 13)
    rdp, rs1p = _b(h, 4, 2) + 8, _b(h, 9, 7) + 8
    if f3 == 0:                                   # c.addi4spn
        imm = (_b(h, 12, 11) << 4) | (_b(h, 10, 7) << 6) | (_b(h, 6, 6) << 2) | (_b(h, 5, 5) << 3)
        return i_type(0x13, rdp, 0, 2, imm) if imm else 0
    lw_off = (_b(h, 12, 10) << 3) | (_b(h, 6, 6) << 2) | (_b(h, 5, 5) << 6)
    ld_off = (_b(h, 12, 10) << 3) | (_b(h, 6, 5) << 6)
    if f3 == 2:
        return i_type(0x03, rdp, 2, rs1p, lw_off)  # c.lw
    if f3 == 3:
        return i_type(0x03, rdp, 3, rs1p, ld_off)  # c.ld
    if f3 == 6:
        return s_type(0x23, 2, rs1p, rdp, lw_off)  # c.sw
    if f3 == 7:
        return s_type(0x23, 3, rs1p, rdp, ld_off)  # c.sd
    if f3 == 1:
        return i_type(0x07, rdp, 3, rs1p, ld_off)  # c.fld
    if f3 == 5:
        return s_type(0x27, 3, rs1p, rdp, ld_off)  # c.fsd
    return 0                                      # reserved


def _q1_alu(h):
    rd = _b(h, 9, 7) + 8
    f2 = _b(h, 11, 10)
    shamt = (_b(h, 12, 12) << 5) | _b(h, 6, 2)
    if f2 == 0:
        return i_type(0x13, rd, 5, rd, shamt)                       # c.srli
    if f2 == 1:
        return i_type(0x13, rd, 5, rd, shamt | 0x400)               # c.srai
    if f2 == 2:
        return i_type(0x13, rd, 7, rd, _sx(shamt, 6))               # c.andi
    rs2 = _b(h, 4, 2) + 8
    k = _b(h, 6, 5)
    if _b(h, 12, 12) == 0:
        if k == 0:
            return r_type(0x33, rd, 0, rd, rs2, 0x20)                # c.sub
        return r_type(0x33, rd, (4, 6, 7)[k - 1], rd, rs2, 0)        # c.xor c.or c.and
    if k == 0:
        return r_type(0x3B, rd, 0, rd, rs2, 0x20)                    # c.subw
    if k == 1:
        return r_type(0x3B, rd, 0, rd, rs2, 0)                       # c.addw
    return 0


def _q1(h):
    f3 = _b(h, 15, 13)
    rd = _b(h, 11, 7)
    imm6 = _sx((_b(h, 12, 12) << 5) | _b(h, 6, 2), 6)
    if f3 == 0:
        return i_type(0x13, rd, 0, rd, imm6)                          # c.addi / c.nop
    if f3 == 1:
        return i_type(0x1B, rd, 0, rd, imm6) if rd else 0            # c.addiw
    if f3 == 2:
        return i_type(0x13, rd, 0, 0, imm6)                           # c.li
    if f3 == 3:
        if rd == 2:                                                   # c.addi16sp
            imm = ((_b(h, 12, 12) << 9) | (_b(h, 6, 6) << 4) | (_b(h, 5, 5) << 6)
                   | (_b(h, 4, 3) << 7) | (_b(h, 2, 2) << 5))
            return i_type(0x13, 2, 0, 2, _sx(imm, 10)) if imm else 0
        if imm6 == 0:
            return 0
        return ((imm6 << 12) & 0xFFFFF000) | (rd << 7) | 0x37           # c.lui
    if f3 == 4:
        return _q1_alu(h)
    if f3 == 5:                                                       # c.j
        imm = ((_b(h, 12, 12) << 11) | (_b(h, 11, 11) << 4) | (_b(h, 10, 9) << 8)
               | (_b(h, 8, 8) << 10) | (_b(h, 7, 7) << 6) | (_b(h, 6, 6) << 7)
               | (_b(h, 5, 3) << 1) | (_b(h, 2, 2) << 5))
        return j_type(0, _sx(imm, 12))
    imm = ((_b(h, 12, 12) << 8) | (_b(h, 11, 10) << 3) | (_b(h, 6, 5) << 6)
           | (_b(h, 4, 3) << 1) | (_b(h, 2, 2) << 5))
    return b_type(f3 - 6, _b(h, 9, 7) + 8, 0, _sx(imm, 9))            # c.beqz / c.bnez


def _q2(h):
    f3 = _b(h, 15, 13)
    rd = _b(h, 11, 7)
    rs2 = _b(h, 6, 2)
    if f3 == 0:
        return i_type(0x13, rd, 1, rd, (_b(h, 12, 12) << 5) | rs2)     # c.slli
    if f3 == 2:                                                       # c.lwsp
        off = (_b(h, 12, 12) << 5) | (_b(h, 6, 4) << 2) | (_b(h, 3, 2) << 6)
        return i_type(0x03, rd, 2, 2, off) if rd else 0
    if f3 == 3:                                                       # c.ldsp
        off = (_b(h, 12, 12) << 5) | (_b(h, 6, 5) << 3) | (_b(h, 4, 2) << 6)
        return i_type(0x03, rd, 3, 2, off) if rd else 0
    if f3 == 4:
        if _b(h, 12, 12) == 0:
            if rs2 == 0:
                return i_type(0x67, 0, 0, rd, 0) if rd else 0        # c.jr
            return r_type(0x33, rd, 0, 0, rs2, 0)                     # c.mv
        if rs2 == 0:
            if rd == 0:
                return 0x00100073                                     # c.ebreak
            return i_type(0x67, 1, 0, rd, 0)                          # c.jalr
        return r_type(0x33, rd, 0, rd, rs2, 0)                        # c.add
    if f3 == 6:                                                       # c.swsp
        return s_type(0x23, 2, 2, rs2, (_b(h, 12, 9) << 2) | (_b(h, 8, 7) << 6))
    if f3 == 7:                                                       # c.sdsp
        return s_type(0x23, 3, 2, rs2, (_b(h, 12, 10) << 3) | (_b(h, 9, 7) << 6))
    if f3 == 1:                                                       # c.fldsp (f0 allowed)
        return i_type(0x07, rd, 3, 2, (_b(h, 12, 12) << 5) | (_b(h, 6, 5) << 3) | (_b(h, 4, 2) << 6))
    return s_type(0x27, 3, 2, rs2, (_b(h, 12, 10) << 3) | (_b(h, 9, 7) << 6))  # c.fsdsp


def expand(h):
    """The 32-bit instruction a 16-bit one stands for, or 0 if it is illegal/reserved."""
    q = h & 3
    if q == 0:
        return _q0(h)
    if q == 1:
        return _q1(h)
    if q == 2:
        return _q2(h)
    return 0


@lru_cache(maxsize=None)
def expansion_table() -> np.ndarray:
    """int64[65536]: the expansion of every halfword (low two bits 11 are not compressed).

    Made once per process (and kept on disk next to the compiled code): the bare machine,
    every VM and the tests share this one array.  Nothing may write to it."""
    cache = Path(numba.config.CACHE_DIR or "") / "rvc-expansion.npy" if numba.config.CACHE_DIR else None
    if cache is not None and cache.exists():
        return np.load(cache)
    t = np.array([expand(h) for h in range(65536)], dtype=np.int64)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, t)
        except OSError:
            pass
    return t
