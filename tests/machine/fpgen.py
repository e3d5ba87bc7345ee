"""Operands that find floating-point bugs: specials, boundaries, halfway cases, near-cancellation.

Shared by the reference test and the unicorn differential test.  Values are unsigned bit
patterns of fmt (0 single, 1 double); ``box`` makes a 64-bit register value of one.
"""
from __future__ import annotations

import random

FMT_BITS = {0: (8, 23), 1: (11, 52)}


def fields(fmt):
    e, f = FMT_BITS[fmt]
    return e, f, (1 << (e - 1)) - 1


def make(fmt, sign, biased, frac):
    e, f, _ = fields(fmt)
    return sign << (e + f) | biased << f | frac


def specials(fmt):
    """±0, ±inf, NaNs (quiet, signalling, with payloads), subnormal and normal extremes,
    small integers, and the integer-range edges of fcvt."""
    e, f, bias = fields(fmt)
    top = (1 << e) - 1
    out = []
    for s in (0, 1):
        out += [make(fmt, s, 0, 0), make(fmt, s, top, 0), make(fmt, s, 0, 1),
                make(fmt, s, 0, (1 << f) - 1), make(fmt, s, 1, 0), make(fmt, s, 1, 1),
                make(fmt, s, top - 1, (1 << f) - 1), make(fmt, s, top - 1, 0),
                make(fmt, s, bias, 0), make(fmt, s, bias - 1, 0), make(fmt, s, bias, 1 << (f - 1)),
                make(fmt, s, top, 1 << (f - 1)), make(fmt, s, top, 1), make(fmt, s, top, 0x1234)]
        for p in (31, 32, 63, 64):  # around the integer limits
            if bias + p < top:
                out += [make(fmt, s, bias + p, 0), make(fmt, s, bias + p - 1, (1 << f) - 1),
                        make(fmt, s, bias + p, 1)]
    return out


def near_integer(fmt, rng):
    """x.5, x.5 ± ulp and similar: where the rounding modes of fcvt differ."""
    e, f, bias = fields(fmt)
    exp = rng.randrange(0, min(f, 66))
    frac = rng.getrandbits(f)
    if exp < f:
        low = f - exp  # fraction bits below the binary point
        half = 1 << (low - 1)
        frac = (frac >> low << low) | rng.choice([half, half - 1, half + 1, 0, (1 << low) - 1])
        frac &= (1 << f) - 1
    return make(fmt, rng.getrandbits(1), bias + exp, frac)


def operand(fmt, rng: random.Random):
    e, f, bias = fields(fmt)
    top = (1 << e) - 1
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(specials(fmt))
    if kind == 1:  # near the subnormal / underflow boundary
        return make(fmt, rng.getrandbits(1), rng.choice([0, 0, 1, 2, rng.randrange(0, f + 3)]),
                    rng.getrandbits(f))
    if kind == 2:  # near overflow
        return make(fmt, rng.getrandbits(1), top - 1 - rng.randrange(3), rng.getrandbits(f))
    if kind == 3:
        return near_integer(fmt, rng)
    if kind == 4:  # few significant bits: exact results, ties
        return make(fmt, rng.getrandbits(1), bias + rng.randrange(-8, 8),
                    rng.getrandbits(4) << (f - 4))
    return rng.getrandbits(e + f + 1)  # anything


def neighbour(x, fmt, rng):
    """x nudged by a few ulps: operands that nearly cancel."""
    e, f, _ = fields(fmt)
    return (x + rng.randrange(-3, 4)) & ((1 << (e + f + 1)) - 1)


def negate(x, fmt):
    e, f, _ = fields(fmt)
    return x ^ (1 << (e + f))


def pair(fmt, rng):
    a = operand(fmt, rng)
    r = rng.randrange(4)
    if r == 0:
        b = negate(neighbour(a, fmt, rng), fmt)  # a + b nearly cancels
    elif r == 1:
        b = neighbour(a, fmt, rng)
    else:
        b = operand(fmt, rng)
    return a, b


def integer(rng):
    """A 64-bit register value, often at an edge of the 32/64-bit integer ranges."""
    edges = [0, 1, -1, 2**31 - 1, -2**31, 2**31, 2**32 - 1, 2**32, 2**63 - 1, -2**63, 2**53 + 1,
             2**24 + 1, 2**62 + 2**9 + 1]
    r = rng.randrange(4)
    if r == 0:
        v = rng.choice(edges) + rng.randrange(-2, 3)
    elif r == 1:
        v = rng.getrandbits(rng.randrange(1, 65))
    else:
        v = rng.getrandbits(64)
    return v & (2**64 - 1)


def box(x, fmt):
    return x | 0xFFFFFFFF00000000 if fmt == 0 else x
