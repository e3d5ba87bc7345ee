"""Conversions: float <-> 32/64-bit signed/unsigned integers, and single <-> double.

Integer kinds are numbered as the instruction's rs2 field numbers them: ``W`` (int32),
``WU`` (uint32), ``L`` (int64), ``LU`` (uint64).  32-bit integer results are sign-extended
to 64 bits, the unsigned ones too (as the spec says of every 32-bit result in RV64).

Float -> integer follows the spec's table: a value that rounds outside the integer type
saturates and raises NV (never NX); NaN gives the largest value of the type.
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.bits import INT64_MIN, sext32
from vmlab.machine.fpformat import (CANON_D, CANON_S, INF, NV, NX, SNAN, ZERO, S, classify,
                                    frac_bits, infinity, is_nan, unpack, zero)
from vmlab.machine.fpround import W as WORK, round_pack, round_pack_u, round_sig, shr_jam
from vmlab.machine.jit import jit

W, WU, L, LU = 0, 1, 2, 3
# Constants passed as arguments are numpy scalars: numba compiles a separate copy of a
# function for each *literal* int it is called with.
TWO, WORK64 = np.int64(2), np.int64(WORK)


@jit
def int_max(kind):
    """Largest value of the kind, as the sign-extended 64-bit register pattern."""
    if kind == W:
        return (1 << 31) - 1
    if kind == L:
        return ~INT64_MIN
    return -1  # 2**32 - 1 sign-extended, and 2**64 - 1


@jit
def int_min(kind):
    if kind == W:
        return -(1 << 31)
    if kind == L:
        return INT64_MIN
    return 0


@jit
def in_range(sign, mag, kind):
    """Does -mag (sign 1) or +mag (sign 0) fit the kind?  mag is an unsigned 64-bit pattern."""
    if kind == LU:
        return sign == 0 or mag == 0
    if kind == L:
        return mag >= 0 or (sign == 1 and mag == INT64_MIN)
    if mag < 0:
        return False
    if kind == WU:
        return sign == 0 and mag < (1 << 32) or mag == 0
    return mag < (1 << 31) or (sign == 1 and mag == (1 << 31))


@jit
def round_to_integer(a, fmt, rm):
    """|a| rounded to an integer by rm, as an unsigned pattern: (sign, mag, inexact, huge);
    huge means |a| >= 2**64, beyond every integer kind."""
    sign, e, m = unpack(a, fmt)
    if e >= 64:
        return sign, 0, False, True
    shift = frac_bits(fmt) - e  # a = m * 2**-shift
    if shift <= 0:
        return sign, m << -shift, False, False
    # keep two bits below the binary point (half, and "more") and round those off
    m2 = shr_jam(m, shift - 2) if shift > 2 else m << (2 - shift)
    mag, inexact = round_sig(sign, rm, m2, TWO)
    return sign, mag, inexact, False


@jit
def f_to_int(a, fmt, rm, kind):
    """fcvt.{w,wu,l,lu}.{s,d}: (register value, flags)."""
    c = classify(a, fmt)
    if is_nan(c):
        return int_max(kind), NV
    if c == ZERO:
        return 0, 0
    sign = (a >> (31 if fmt == S else 63)) & 1
    if c == INF:
        return (int_min(kind) if sign else int_max(kind)), NV
    sign, mag, inexact, huge = round_to_integer(a, fmt, rm)
    if huge or not in_range(sign, mag, kind):
        return (int_min(kind) if sign else int_max(kind)), NV
    v = -mag if sign else mag
    if kind == W or kind == WU:
        v = sext32(v)
    return v, (NX if inexact else 0)


@jit
def int_to_f(x, fmt, rm, kind):
    """fcvt.{s,d}.{w,wu,l,lu}: the integer in x (a 64-bit register) to fmt bits: (bits, flags)."""
    if kind == W:
        v = sext32(x)
    elif kind == WU:
        v = x & 0xFFFFFFFF
    else:
        v = x
    sign = 1 if (kind == W or kind == L) and v < 0 else 0
    mag = -v if sign else v  # INT64_MIN stays as the unsigned pattern 2**63
    if mag == 0:
        return zero(0, fmt), 0
    return round_pack_u(sign, WORK64, mag, fmt, rm)


@jit
def f_to_f(a, src, dst, rm):
    """fcvt.s.d (src D, dst S; rounds) and fcvt.d.s (src S, dst D; exact)."""
    c = classify(a, src)
    if is_nan(c):
        return (CANON_S if dst == S else CANON_D), (NV if c == SNAN else 0)
    sign = (a >> (31 if src == S else 63)) & 1
    if c == INF:
        return infinity(sign, dst), 0
    if c == ZERO:
        return zero(sign, dst), 0
    _, e, m = unpack(a, src)
    return round_pack(sign, e, m << (WORK - frac_bits(src)), dst, rm)

