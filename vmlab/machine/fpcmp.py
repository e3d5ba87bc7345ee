"""Operations that never round: compares, min/max, classify, sign injection.

Comparisons work on an integer *key* with the same order as the values: the magnitude bits
for positive numbers, minus the magnitude for negative ones (IEEE formats are sign-magnitude,
so the bit pattern of a positive float already sorts like an integer).
"""
from __future__ import annotations

from vmlab.machine.fpformat import (NORMAL, NV, QNAN, SNAN, SUBNORMAL, ZERO, canonical_nan,
                                    classify, is_nan, sign_of)
from vmlab.machine.jit import jit


@jit(inline="always")
def sign_bit(fmt):
    return 1 << (31 if fmt == 0 else 63)


@jit
def order_key(bits, fmt, zeros_equal):
    """An int64 ordered as the (non-NaN) values; -0 sorts below +0 unless zeros_equal."""
    mag = bits & ~sign_bit(fmt)
    if sign_of(bits, fmt) == 0:
        return mag
    return -mag if zeros_equal else -mag - 1


@jit
def fminmax(a, b, fmt, want_max):
    """fmin/fmax of the 2.2 spec (IEEE 754-2019 minimumNumber/maximumNumber): a NaN operand
    yields the other operand, two NaNs the canonical NaN, any signalling NaN raises NV."""
    ca, cb = classify(a, fmt), classify(b, fmt)
    flags = NV if ca == SNAN or cb == SNAN else 0
    if is_nan(ca) and is_nan(cb):
        return canonical_nan(fmt), flags
    if is_nan(ca):
        return b, flags
    if is_nan(cb):
        return a, flags
    a_less = order_key(a, fmt, False) < order_key(b, fmt, False)
    return (b if a_less else a) if want_max else (a if a_less else b), flags


@jit
def fcompare(a, b, fmt, f3):
    """fle (f3 = 0), flt (1), feq (2): (0 or 1, flags).  feq is a quiet compare (NV only for a
    signalling NaN); flt and fle signal on any NaN."""
    ca, cb = classify(a, fmt), classify(b, fmt)
    if is_nan(ca) or is_nan(cb):
        quiet = f3 == 2 and ca != SNAN and cb != SNAN
        return 0, (0 if quiet else NV)
    ka, kb = order_key(a, fmt, True), order_key(b, fmt, True)
    if f3 == 0:
        return (1 if ka <= kb else 0), 0
    if f3 == 1:
        return (1 if ka < kb else 0), 0
    return (1 if ka == kb else 0), 0


@jit
def fclass(a, fmt):
    """One of ten bits: -inf, -normal, -subnormal, -0, +0, +subnormal, +normal, +inf, sNaN, qNaN."""
    c = classify(a, fmt)
    if c == SNAN:
        return 1 << 8
    if c == QNAN:
        return 1 << 9
    # positive classes take bits 4..7 in the order ZERO, SUBNORMAL, NORMAL, INF; negative
    # ones mirror them into bits 3..0
    pos = 4 + (0 if c == ZERO else 1 if c == SUBNORMAL else 2 if c == NORMAL else 3)
    return 1 << (pos if sign_of(a, fmt) == 0 else 7 - pos)


@jit
def fsgnj(a, b, fmt, f3):
    """fsgnj (f3 = 0): a's magnitude with b's sign; fsgnjn (1): with the opposite of b's
    sign; fsgnjx (2): with the sign a XOR b.  Bit operations: no flags, NaNs pass through."""
    s = sign_bit(fmt)
    if f3 == 0:
        sign = b & s
    elif f3 == 1:
        sign = ~b & s
    else:
        sign = (a ^ b) & s
    return (a & ~s) | sign

