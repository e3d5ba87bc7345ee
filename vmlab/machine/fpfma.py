"""Fused multiply-add: (+/-)(a * b) (+/-) c with a single rounding.

The exact product of two doubles has up to 106 bits, and adding c may cancel its leading bits,
so the sum is formed exactly in 128 bits -- a (hi, lo) pair of int64 holding an unsigned
value -- and only then rounded.  Both terms are placed with their leading bit near bit 124;
the one with the smaller exponent is shifted right with its lost bits jammed into bit 0.
(The 128-bit helpers are in ``fpwide``.)
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.fparith import add_zero_sign, mul_sig
from vmlab.machine.fpformat import (INF, NV, SNAN, ZERO, canonical_nan, classify, frac_bits,
                                    infinity, is_nan, sign_of, unpack, zero)
from vmlab.machine.fpround import W, round_pack
from vmlab.machine.fpwide import add128, bitlen128, lt128, mul64, shl128, shr_jam128, sub128
from vmlab.machine.jit import jit

TOP = 124  # a term's scale: value = X * 2**(exp - TOP)
NOTHING = np.int64(0)  # (a numpy scalar: a literal 0 argument would compile a second copy)


@jit
def to_working(hi, lo, exp):
    """A 128-bit value * 2**(exp - TOP) as (exp, sig) for round_pack (sig < 2**62)."""
    t = bitlen128(hi, lo) - 62
    if t > 0:
        hi, lo = shr_jam128(hi, lo, t)
    return exp - TOP + (t if t > 0 else 0) + W, lo


@jit
def fma_finite(sp, ep, ma, mb, sc, ec, mc, fmt, rm):
    """sp * ma * mb * 2**(ep - 2 fb)  +  sc * mc * 2**(ec - fb), all finite nonzero."""
    fb = frac_bits(fmt)
    ph, pl = mul64(ma, mb)
    xh, xl = shl128(ph, pl, TOP - 2 * fb)                  # value = X * 2**(ep - TOP)
    yh, yl = shl128(NOTHING, mc, TOP - fb)                  # value = Y * 2**(ec - TOP)
    if ep >= ec:
        yh, yl = shr_jam128(yh, yl, ep - ec)
        exp = ep
    else:
        xh, xl = shr_jam128(xh, xl, ec - ep)
        exp = ec
    if sp == sc:
        zh, zl = add128(xh, xl, yh, yl)
        sign = sp
    elif lt128(xh, xl, yh, yl):
        zh, zl = sub128(yh, yl, xh, xl)
        sign = sc
    else:
        zh, zl = sub128(xh, xl, yh, yl)
        sign = sp
    if zh == 0 and zl == 0:
        return zero(add_zero_sign(sp, sc, rm), fmt), 0
    e, sig = to_working(zh, zl, exp)
    return round_pack(sign, e, sig, fmt, rm)


@jit
def fma_special(a, b, c, ca, cb, cc, sp, sc, fmt):
    """The result when an operand is NaN or infinite: (bits, flags)."""
    if (ca == INF and cb == ZERO) or (ca == ZERO and cb == INF):
        return canonical_nan(fmt), NV  # inf * 0 is invalid even when c is a quiet NaN
    if is_nan(ca) or is_nan(cb) or is_nan(cc):
        return canonical_nan(fmt), (NV if ca == SNAN or cb == SNAN or cc == SNAN else 0)
    if ca == INF or cb == INF:
        if cc == INF and sc != sp:
            return canonical_nan(fmt), NV  # inf - inf
        return infinity(sp, fmt), 0
    return infinity(sc, fmt), 0  # c is the only infinity


@jit
def fma(a, b, c, fmt, rm, neg_product, neg_addend):
    """(-1)**neg_product * a * b + (-1)**neg_addend * c, rounded once: (bits, flags)."""
    ca, cb, cc = classify(a, fmt), classify(b, fmt), classify(c, fmt)
    sp = sign_of(a, fmt) ^ sign_of(b, fmt) ^ neg_product
    sc = sign_of(c, fmt) ^ neg_addend
    if is_nan(ca) or is_nan(cb) or is_nan(cc) or ca == INF or cb == INF or cc == INF:
        return fma_special(a, b, c, ca, cb, cc, sp, sc, fmt)
    if ca == ZERO or cb == ZERO:
        if cc == ZERO:
            return zero(add_zero_sign(sp, sc, rm), fmt), 0
        return c ^ (neg_addend << (31 if fmt == 0 else 63)), 0  # 0 + c is exactly c
    _, ea, ma = unpack(a, fmt)
    _, eb, mb = unpack(b, fmt)
    if cc == ZERO:
        return round_pack(sp, ea + eb + 1, mul_sig(ma, mb, fmt), fmt, rm)
    _, ec, mc = unpack(c, fmt)
    return fma_finite(sp, ea + eb, ma, mb, sc, ec, mc, fmt, rm)
