"""fadd, fsub, fmul, fdiv, fsqrt on raw fmt-bit patterns: each returns (bits, fflags).

Each operation first settles the special operands (NaN, infinity, zero) by the IEEE 754 rules,
then computes the exact significand of the result with integers (plus a jam bit for whatever
is below), and hands it to :func:`fpround.round_pack` for the one rounding.
"""
from __future__ import annotations

from vmlab.machine.fpformat import (DZ, INF, NV, RDN, SNAN, ZERO, canonical_nan, classify,
                                    frac_bits, infinity, is_nan, unpack, zero)
from vmlab.machine.fpround import W, round_pack, shr_jam
from vmlab.machine.fpwide import mul64
from vmlab.machine.jit import jit


@jit
def nan_result(ca, cb, fmt):
    """Any NaN operand makes the canonical NaN; a signalling one also raises NV."""
    return canonical_nan(fmt), (NV if ca == SNAN or cb == SNAN else 0)


@jit
def add_zero_sign(sa, sb, rm):
    """Sign of an exact zero sum: the common sign, else +0 (-0 when rounding down)."""
    if sa == sb:
        return sa
    return 1 if rm == RDN else 0


@jit
def add_finite(sa, ea, ma, sb, eb, mb, fmt, rm):
    """Sum of two finite nonzero unpacked values (sig with hidden bit at frac_bits)."""
    up = W - 1 - frac_bits(fmt)  # leading bit to W-1: one bit of room for a carry
    ma, mb = ma << up, mb << up
    if ea < eb or (ea == eb and ma < mb):  # make a the larger magnitude
        sa, ea, ma, sb, eb, mb = sb, eb, mb, sa, ea, ma
    mb = shr_jam(mb, ea - eb)
    m = ma + mb if sa == sb else ma - mb
    if m == 0:
        return zero(add_zero_sign(sa, sb, rm), fmt), 0
    return round_pack(sa, ea + 1, m, fmt, rm)


@jit
def fadd(a, b, fmt, rm):
    ca, cb = classify(a, fmt), classify(b, fmt)
    if is_nan(ca) or is_nan(cb):
        return nan_result(ca, cb, fmt)
    sa, sb = (a >> (31 if fmt == 0 else 63)) & 1, (b >> (31 if fmt == 0 else 63)) & 1
    if ca == INF or cb == INF:
        if ca == INF and cb == INF and sa != sb:
            return canonical_nan(fmt), NV  # inf - inf
        return infinity(sa if ca == INF else sb, fmt), 0
    if ca == ZERO and cb == ZERO:
        return zero(add_zero_sign(sa, sb, rm), fmt), 0
    if ca == ZERO:
        return b, 0
    if cb == ZERO:
        return a, 0
    sa, ea, ma = unpack(a, fmt)
    sb, eb, mb = unpack(b, fmt)
    return add_finite(sa, ea, ma, sb, eb, mb, fmt, rm)


@jit(inline="always")
def negate(b, fmt):
    return b ^ (1 << (31 if fmt == 0 else 63))


@jit
def fsub(a, b, fmt, rm):
    """a - b is a + (-b), NaNs included (the result of any NaN is canonical anyway)."""
    return fadd(a, negate(b, fmt), fmt, rm)


@jit
def mul_sig(ma, mb, fmt):
    """Product of two significands (hidden bit at frac_bits) as a working significand for
    exponent ea + eb + 1: the high word of (ma << 61-fb) * (mb << 63-fb), low word jammed."""
    fb = frac_bits(fmt)
    hi, lo = mul64(ma << (W - fb), mb << (63 - fb))
    return hi | (1 if lo != 0 else 0)


@jit
def fmul(a, b, fmt, rm):
    ca, cb = classify(a, fmt), classify(b, fmt)
    if is_nan(ca) or is_nan(cb):
        return nan_result(ca, cb, fmt)
    sign = ((a ^ b) >> (31 if fmt == 0 else 63)) & 1
    if ca == INF or cb == INF:
        if ca == ZERO or cb == ZERO:
            return canonical_nan(fmt), NV  # 0 * inf
        return infinity(sign, fmt), 0
    if ca == ZERO or cb == ZERO:
        return zero(sign, fmt), 0
    _, ea, ma = unpack(a, fmt)
    _, eb, mb = unpack(b, fmt)
    return round_pack(sign, ea + eb + 1, mul_sig(ma, mb, fmt), fmt, rm)


@jit
def div_sig(ma, mb):
    """floor(ma / mb * 2**62) by long division, remainder jammed into bit 0.

    ma, mb < 2**54, so the remainder stays far from overflow; 63 steps, one bit each."""
    q, r = 0, ma
    for _ in range(63):
        q <<= 1
        if r >= mb:
            r -= mb
            q |= 1
        r <<= 1
    return q | (1 if r != 0 else 0)


@jit
def fdiv(a, b, fmt, rm):
    ca, cb = classify(a, fmt), classify(b, fmt)
    if is_nan(ca) or is_nan(cb):
        return nan_result(ca, cb, fmt)
    sign = ((a ^ b) >> (31 if fmt == 0 else 63)) & 1
    if ca == INF:
        if cb == INF:
            return canonical_nan(fmt), NV  # inf / inf
        return infinity(sign, fmt), 0
    if cb == INF:
        return zero(sign, fmt), 0
    if cb == ZERO:
        if ca == ZERO:
            return canonical_nan(fmt), NV  # 0 / 0
        return infinity(sign, fmt), DZ
    if ca == ZERO:
        return zero(sign, fmt), 0
    _, ea, ma = unpack(a, fmt)
    _, eb, mb = unpack(b, fmt)
    # q = ma/mb * 2**62 = value * 2**(62 - (ea - eb)) -> exponent ea - eb - 1 at W = 61
    return round_pack(sign, ea - eb - 1, div_sig(ma, mb), fmt, rm)


@jit
def isqrt_jam(m, n):
    """floor(sqrt(m * 4**n)) for 0 < m < 2**56, with bit 0 set if the root is inexact.

    The schoolbook digit-by-digit method: bring down two bits of the radicand per step and
    try appending a 1 to the root.  The remainder stays below 2 * root + 1, i.e. small."""
    root, rem = 0, 0
    for k in range(n + 27, -1, -1):
        pair = (m >> (2 * (k - n))) & 3 if k >= n else 0
        rem = (rem << 2) | pair
        trial = (root << 2) | 1
        root <<= 1
        if rem >= trial:
            rem -= trial
            root |= 1
    return root | (1 if rem != 0 else 0)


@jit
def fsqrt(a, fmt, rm):
    ca = classify(a, fmt)
    if is_nan(ca):
        return nan_result(ca, ca, fmt)
    sign = (a >> (31 if fmt == 0 else 63)) & 1
    if ca == ZERO:
        return a, 0  # sqrt(-0) = -0
    if sign == 1:
        return canonical_nan(fmt), NV
    if ca == INF:
        return a, 0
    _, ea, ma = unpack(a, fmt)
    x = ea - frac_bits(fmt)  # a = ma * 2**x; make x even so that sqrt(2**x) = 2**(x/2)
    if x & 1:
        ma <<= 1
        x -= 1
    n = 59 - (frac_bits(fmt) + 2) // 2  # root below 2**59.5: remainder math fits an int64
    return round_pack(sign, x // 2 - n + W, isqrt_jam(ma, n), fmt, rm)
