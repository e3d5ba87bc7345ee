"""A slow, obvious reference for RISC-V F/D arithmetic: exact rationals, then one rounding.

Every operation here computes its exact result as a :class:`fractions.Fraction` and rounds
it with :func:`round_value`, written straight from the IEEE 754 definitions: find the
quantum (the value of one unit in the last place) at the result's exponent, round the
quotient to an integer by the rounding mode, and compare with the format's limits.  The
compiled soft-float in the other ``fp*`` modules must agree with it bit for bit, results and
flags (tests/machine/test_fp_reference.py).  Nothing here is fast, on purpose.

Values are bit patterns (Python ints, unsigned) of the format ``fmt``: 0 single, 1 double.
"""
from __future__ import annotations

from fractions import Fraction
from math import isqrt

from vmlab.isa.fp import CANON_D, CANON_S, DZ, NV, NX, OF, RDN, RMM, RNE, RTZ, RUP, UF
#: (exponent bits, fraction bits) of single and double
FORMATS = {0: (8, 23), 1: (11, 52)}
CANONICAL = {0: CANON_S, 1: CANON_D}
INT_RANGE = {0: (-(1 << 31), (1 << 31) - 1), 1: (0, (1 << 32) - 1),
             2: (-(1 << 63), (1 << 63) - 1), 3: (0, (1 << 64) - 1)}


def params(fmt):
    ebits, fbits = FORMATS[fmt]
    bias = (1 << (ebits - 1)) - 1
    return ebits, fbits, bias


def decode(bits, fmt):
    """('nan', is_signalling) | ('inf', sign) | ('num', sign, Fraction)."""
    ebits, fbits, bias = params(fmt)
    sign = bits >> (ebits + fbits) & 1
    e, f = bits >> fbits & ((1 << ebits) - 1), bits & ((1 << fbits) - 1)
    if e == (1 << ebits) - 1:
        return ("nan", not f >> (fbits - 1)) if f else ("inf", sign)
    mag = Fraction(f, 1 << fbits) * Fraction(2) ** (1 - bias) if e == 0 else \
        Fraction((1 << fbits) + f, 1 << fbits) * Fraction(2) ** (e - bias)
    return ("num", sign, -mag if sign else mag)


def encode(sign, biased, frac, fmt):
    ebits, fbits, _ = params(fmt)
    return sign << (ebits + fbits) | biased << fbits | frac


def floor_log2(m: Fraction) -> int:
    e = m.numerator.bit_length() - m.denominator.bit_length()
    while Fraction(2) ** e > m:
        e -= 1
    while Fraction(2) ** (e + 1) <= m:
        e += 1
    return e


def round_int(x: Fraction, rm, negative) -> int:
    """A nonnegative magnitude x rounded to an integer; ``negative``: the value is -x."""
    fl = x.numerator // x.denominator
    rest = x - fl
    if rest == 0:
        return fl
    up = {RNE: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and fl % 2 == 1),
          RTZ: False, RDN: negative, RUP: not negative, RMM: rest >= Fraction(1, 2)}[rm]
    return fl + 1 if up else fl


def round_value(v: Fraction, fmt, rm):
    """The nonzero exact value v rounded to fmt: (bits, flags)."""
    ebits, fbits, bias = params(fmt)
    sign, m = (1, -v) if v < 0 else (0, v)
    emin, emax = 1 - bias, bias
    e = floor_log2(m)
    quantum = Fraction(2) ** (max(e, emin) - fbits)
    r = round_int(m / quantum, rm, sign) * quantum
    inexact = r != m
    unbounded = round_int(m / Fraction(2) ** (e - fbits), rm, sign) * Fraction(2) ** (e - fbits)
    flags = (NX if inexact else 0) | (UF if inexact and unbounded < Fraction(2) ** emin else 0)
    if r >= Fraction(2) ** (emax + 1):
        to_inf = rm in (RNE, RMM) or (rm == RUP and not sign) or (rm == RDN and sign)
        bits = encode(sign, (1 << ebits) - 1, 0, fmt) if to_inf else \
            encode(sign, (1 << ebits) - 2, (1 << fbits) - 1, fmt)
        return bits, OF | NX
    if r == 0:
        return encode(sign, 0, 0, fmt), flags
    if r < Fraction(2) ** emin:
        return encode(sign, 0, int(r / Fraction(2) ** (emin - fbits)), fmt), flags
    er = floor_log2(r)
    frac = int(r / Fraction(2) ** (er - fbits)) - (1 << fbits)
    return encode(sign, er + bias, frac, fmt), flags


def zero_sum_sign(sa, sb, rm):
    """The sign of an exact zero sum: common sign, else + (- when rounding down)."""
    return sa if sa == sb else int(rm == RDN)


def exact_or_zero(v, zsign, fmt, rm):
    """Round v; an exact zero gets the sign the caller worked out."""
    if v == 0:
        return encode(zsign, 0, 0, fmt), 0
    return round_value(v, fmt, rm)


def nan_of(fmt, *ops):
    return CANONICAL[fmt], NV if any(o[0] == "nan" and o[1] for o in ops) else 0


def has_nan(*ops):
    return any(o[0] == "nan" for o in ops)


def inf(sign, fmt):
    ebits, _, _ = params(fmt)
    return encode(sign, (1 << ebits) - 1, 0, fmt)


def add(a, b, fmt, rm):
    x, y = decode(a, fmt), decode(b, fmt)
    if has_nan(x, y):
        return nan_of(fmt, x, y)
    if x[0] == "inf" and y[0] == "inf":
        return (inf(x[1], fmt), 0) if x[1] == y[1] else (CANONICAL[fmt], NV)
    if x[0] == "inf" or y[0] == "inf":
        return inf(x[1] if x[0] == "inf" else y[1], fmt), 0
    return exact_or_zero(x[2] + y[2], zero_sum_sign(x[1], y[1], rm), fmt, rm)


def sub(a, b, fmt, rm):
    ebits, fbits, _ = params(fmt)
    b_neg = b ^ (1 << (ebits + fbits))
    return add(a, b_neg, fmt, rm)


def mul(a, b, fmt, rm):
    x, y = decode(a, fmt), decode(b, fmt)
    if has_nan(x, y):
        return nan_of(fmt, x, y)
    sign = x[1] ^ y[1]
    if x[0] == "inf" or y[0] == "inf":
        if (x[0] == "num" and x[2] == 0) or (y[0] == "num" and y[2] == 0):
            return CANONICAL[fmt], NV
        return inf(sign, fmt), 0
    return exact_or_zero(x[2] * y[2], sign, fmt, rm)


def div(a, b, fmt, rm):
    x, y = decode(a, fmt), decode(b, fmt)
    if has_nan(x, y):
        return nan_of(fmt, x, y)
    sign = x[1] ^ y[1]
    if x[0] == "inf":
        return (CANONICAL[fmt], NV) if y[0] == "inf" else (inf(sign, fmt), 0)
    if y[0] == "inf":
        return encode(sign, 0, 0, fmt), 0
    if y[2] == 0:
        return (CANONICAL[fmt], NV) if x[2] == 0 else (inf(sign, fmt), DZ)
    return exact_or_zero(x[2] / y[2], sign, fmt, rm)


def sqrt_stand_in(m: Fraction, k=1200) -> Fraction:
    """sqrt(m) if exact; else a value strictly inside the same 2**-k-wide interval as the true
    root, which rounds the same way (no rounding boundary of either format is that fine)."""
    scaled = m * Fraction(4) ** k
    r = isqrt(scaled.numerator // scaled.denominator)
    if Fraction(r * r) == scaled:
        return Fraction(r, 1 << k)
    return Fraction(2 * r + 1, 1 << (k + 1))


def sqrt(a, fmt, rm):
    x = decode(a, fmt)
    if x[0] == "nan":
        return nan_of(fmt, x)
    if x[0] == "inf":
        return (inf(0, fmt), 0) if x[1] == 0 else (CANONICAL[fmt], NV)
    if x[2] == 0:
        return a, 0
    if x[2] < 0:
        return CANONICAL[fmt], NV
    return round_value(sqrt_stand_in(x[2]), fmt, rm)


def fma(a, b, c, fmt, rm, neg_product=0, neg_addend=0):
    x, y, z = decode(a, fmt), decode(b, fmt), decode(c, fmt)
    is_zero = lambda o: o[0] == "num" and o[2] == 0  # noqa: E731
    if (x[0] == "inf" and is_zero(y)) or (is_zero(x) and y[0] == "inf"):
        return CANONICAL[fmt], NV
    if has_nan(x, y, z):
        return nan_of(fmt, x, y, z)
    sp, sc = x[1] ^ y[1] ^ neg_product, z[1] ^ neg_addend
    if x[0] == "inf" or y[0] == "inf":
        return (CANONICAL[fmt], NV) if z[0] == "inf" and sc != sp else (inf(sp, fmt), 0)
    if z[0] == "inf":
        return inf(sc, fmt), 0
    p = x[2] * y[2] * (-1 if neg_product else 1)
    v = p + z[2] * (-1 if neg_addend else 1)
    return exact_or_zero(v, zero_sum_sign(sp, sc, rm), fmt, rm)


BEYOND = Fraction(2) ** 2000  # stands for infinity in comparisons: above every finite value


def sort_key(o, zeros_equal):
    """(value, tie-break) of a non-NaN: -0 sorts before +0 unless zeros_equal."""
    if o[0] == "inf":
        return (-BEYOND if o[1] else BEYOND), 0
    if o[2] == 0 and not zeros_equal:
        return Fraction(0), (-1 if o[1] else 1)
    return o[2], 0


def minmax(a, b, fmt, want_max):
    x, y = decode(a, fmt), decode(b, fmt)
    flags = NV if any(o[0] == "nan" and o[1] for o in (x, y)) else 0
    if x[0] == "nan" and y[0] == "nan":
        return CANONICAL[fmt], flags
    if x[0] == "nan" or y[0] == "nan":
        return (b if x[0] == "nan" else a), flags
    a_less = sort_key(x, False) < sort_key(y, False)
    return ((b if a_less else a) if want_max else (a if a_less else b)), flags


def compare(a, b, fmt, f3):
    """fle (0), flt (1), feq (2): (result, flags)."""
    x, y = decode(a, fmt), decode(b, fmt)
    if has_nan(x, y):
        signalling = any(o[0] == "nan" and o[1] for o in (x, y))
        return 0, NV if f3 != 2 or signalling else 0
    kx, ky = sort_key(x, True), sort_key(y, True)
    return int({0: kx <= ky, 1: kx < ky, 2: kx == ky}[f3]), 0


def fclass(a, fmt):
    x = decode(a, fmt)
    ebits, fbits, _ = params(fmt)
    if x[0] == "nan":
        return 1 << (8 if x[1] else 9)
    if x[0] == "inf":
        return 1 << (0 if x[1] else 7)
    subnormal = (a >> fbits & ((1 << ebits) - 1)) == 0
    kind = 0 if x[2] == 0 else (1 if subnormal else 2)  # zero, subnormal, normal
    return 1 << (3 - kind if x[1] else 4 + kind)


def sgnj(a, b, fmt, f3):
    ebits, fbits, _ = params(fmt)
    top = ebits + fbits
    sa, sb = a >> top & 1, b >> top & 1
    sign = {0: sb, 1: 1 - sb, 2: sa ^ sb}[f3]
    return (a & ((1 << top) - 1)) | sign << top


def to_int(a, fmt, rm, kind):
    """fcvt to int kind (0 w, 1 wu, 2 l, 3 lu): (unsigned 64-bit register value, flags)."""
    lo, hi = INT_RANGE[kind]
    x = decode(a, fmt)
    if x[0] == "nan":
        n, flags = hi, NV
    elif x[0] == "inf":
        n, flags = (lo if x[1] else hi), NV
    else:
        n = round_int(abs(x[2]), rm, x[2] < 0) * (-1 if x[2] < 0 else 1)
        flags = NX if n != x[2] else 0
        if not lo <= n <= hi:
            n, flags = (lo if x[2] < 0 else hi), NV
    if kind in (0, 1):  # 32-bit results are sign-extended
        n = (n & 0xFFFFFFFF) - ((n & 0x80000000) << 1)
    return n & ((1 << 64) - 1), flags


def from_int(xreg, fmt, rm, kind):
    """fcvt from the integer in a 64-bit register (unsigned int) of the given kind."""
    bits = 32 if kind in (0, 1) else 64
    n = xreg & ((1 << bits) - 1)
    if kind in (0, 2) and n >> (bits - 1):
        n -= 1 << bits
    return exact_or_zero(Fraction(n), 0, fmt, rm)


def convert(a, src, dst, rm):
    """fcvt.s.d / fcvt.d.s."""
    x = decode(a, src)
    if x[0] == "nan":
        return CANONICAL[dst], NV if x[1] else 0
    if x[0] == "inf":
        return inf(x[1], dst), 0
    return exact_or_zero(x[2], x[1], dst, rm)
