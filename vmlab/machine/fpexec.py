"""Execute one OP-FP or fused multiply-add instruction word on a hart's registers.

The registers are one int64 row (the hart's row of the cpu array): ``row[fb + i]`` is fi,
``row[xb + i]`` is xi and ``row[fcsr]`` is fcsr (frm in bits 7:5, the accrued fflags in 4:0).
Loads and stores of FP registers go through the hart's memory path, not through here.

Returns ``OK``, or ``ILLEGAL`` for a word that is no F/D instruction or whose rounding mode
is reserved (rm 5 or 6, or DYN while frm holds 5, 6 or 7): then nothing has changed, and the
hart raises an illegal-instruction exception.
"""
from __future__ import annotations

from vmlab.machine.bits import sext32
from vmlab.machine.fparith import fadd, fdiv, fmul, fsqrt, fsub
from vmlab.machine.fpcmp import fclass, fcompare, fminmax, fsgnj
from vmlab.machine.fpcvt import LU, f_to_f, f_to_int, int_to_f
from vmlab.machine.fpfma import fma
from vmlab.machine.fpformat import DYN, RMM, S, box, unbox
from vmlab.machine.jit import jit

OK, ILLEGAL = 0, 1
OP_FP = 0x53
FMADD, FMSUB, FNMSUB, FNMADD = 0x43, 0x47, 0x4B, 0x4F
FMT_H = 2  # (fmt 2 is half precision, 3 quad: neither is implemented)


@jit(inline="always")
def resolve_rm(rm, fcsr):
    """The rounding mode to use, or -1 when it is reserved (an illegal instruction)."""
    if rm == DYN:
        rm = (fcsr >> 5) & 7
    return rm if rm <= RMM else -1


@jit
def exec_fma(row, w, fb, fcsr_i):
    """fmadd/fmsub/fnmsub/fnmadd: rd = (+/-)(rs1 * rs2) (+/-) rs3."""
    fmt = (w >> 25) & 3
    rm = resolve_rm((w >> 12) & 7, row[fcsr_i])
    if fmt >= FMT_H or rm < 0:
        return ILLEGAL
    op = w & 0x7F
    a = unbox(row[fb + ((w >> 15) & 31)], fmt)
    b = unbox(row[fb + ((w >> 20) & 31)], fmt)
    c = unbox(row[fb + ((w >> 27) & 31)], fmt)
    r, flags = fma(a, b, c, fmt, rm, 1 if op >= FNMSUB else 0, 1 if op == FMSUB or op == FNMADD else 0)
    row[fb + ((w >> 7) & 31)] = box(r, fmt)
    row[fcsr_i] |= flags
    return OK


@jit
def arith(funct5, a, b, fmt, rm):
    """The rounding two-operand operations and fsqrt: (bits, flags), or flags -1 if none."""
    if funct5 == 0:
        return fadd(a, b, fmt, rm)
    if funct5 == 1:
        return fsub(a, b, fmt, rm)
    if funct5 == 2:
        return fmul(a, b, fmt, rm)
    if funct5 == 3:
        return fdiv(a, b, fmt, rm)
    return fsqrt(a, fmt, rm)


@jit
def set_x(row, xb, rd, v):
    if rd != 0:  # x0 stays zero
        row[xb + rd] = v


@jit
def exec_rounding(row, w, fb, xb, fcsr_i):
    """Instructions whose rm field is a rounding mode: arithmetic, sqrt and every fcvt."""
    f5, fmt, rs2, rd = (w >> 27) & 31, (w >> 25) & 3, (w >> 20) & 31, (w >> 7) & 31
    rm = resolve_rm((w >> 12) & 7, row[fcsr_i])
    valid = (f5 <= 3 or (f5 == 11 and rs2 == 0) or (f5 == 8 and rs2 == 1 - fmt)
             or ((f5 == 24 or f5 == 26) and rs2 <= LU))
    if fmt >= FMT_H or rm < 0 or not valid:
        return ILLEGAL
    src = row[fb + ((w >> 15) & 31)]
    if f5 == 24:  # fcvt.{w,wu,l,lu}.fmt
        v, flags = f_to_int(unbox(src, fmt), fmt, rm, rs2)
        set_x(row, xb, rd, v)
    elif f5 == 26:  # fcvt.fmt.{w,wu,l,lu}
        r, flags = int_to_f(row[xb + ((w >> 15) & 31)], fmt, rm, rs2)
        row[fb + rd] = box(r, fmt)
    elif f5 == 8:  # fcvt.s.d (fmt S, from D) and fcvt.d.s (fmt D, from S)
        r, flags = f_to_f(unbox(src, 1 - fmt), 1 - fmt, fmt, rm)
        row[fb + rd] = box(r, fmt)
    else:
        r, flags = arith(f5, unbox(src, fmt), unbox(row[fb + rs2], fmt), fmt, rm)
        row[fb + rd] = box(r, fmt)
    row[fcsr_i] |= flags
    return OK


@jit
def exec_exact(row, w, fb, xb, fcsr_i):
    """Instructions whose funct3 picks a variant: sign injection, min/max, compares, moves,
    fclass.  None of them rounds."""
    f5, fmt, rs2, f3, rd = (w >> 27) & 31, (w >> 25) & 3, (w >> 20) & 31, (w >> 12) & 7, (w >> 7) & 31
    rs1 = (w >> 15) & 31
    a, b = unbox(row[fb + rs1], fmt), unbox(row[fb + rs2], fmt)
    if fmt >= FMT_H:
        return ILLEGAL
    flags = 0
    if f5 == 4 and f3 <= 2:
        row[fb + rd] = box(fsgnj(a, b, fmt, f3), fmt)
    elif f5 == 5 and f3 <= 1:
        r, flags = fminmax(a, b, fmt, f3 == 1)
        row[fb + rd] = box(r, fmt)
    elif f5 == 20 and f3 <= 2:
        v, flags = fcompare(a, b, fmt, f3)
        set_x(row, xb, rd, v)
    elif f5 == 28 and rs2 == 0 and f3 == 0:  # fmv.x.w / fmv.x.d: raw bits, no unboxing
        raw = row[fb + rs1]
        set_x(row, xb, rd, sext32(raw) if fmt == S else raw)
    elif f5 == 28 and rs2 == 0 and f3 == 1:
        set_x(row, xb, rd, fclass(a, fmt))
    elif f5 == 30 and rs2 == 0 and f3 == 0:  # fmv.w.x / fmv.d.x
        row[fb + rd] = box(row[xb + rs1], fmt)
    else:
        return ILLEGAL
    row[fcsr_i] |= flags
    return OK


@jit
def exec_fp(row, w, fb, xb, fcsr_i):
    """One F/D computational instruction (OP-FP or FMA opcodes): OK or ILLEGAL."""
    op = w & 0x7F
    if op != OP_FP:
        if op == FMADD or op == FMSUB or op == FNMSUB or op == FNMADD:
            return exec_fma(row, w, fb, fcsr_i)
        return ILLEGAL
    f5 = (w >> 27) & 31
    if f5 <= 3 or f5 == 11 or f5 == 8 or f5 == 24 or f5 == 26:
        return exec_rounding(row, w, fb, xb, fcsr_i)
    return exec_exact(row, w, fb, xb, fcsr_i)

