"""Operands that find floating-point bugs: specials, boundaries, halfway cases, near-cancellation.

Shared by the reference test and the unicorn differential test.  Values are unsigned bit
patterns of fmt (0 single, 1 double); ``box`` makes a 64-bit register value of one.
"""
from __future__ import annotations

import random

import numpy as np

from vmlab.isa import INSTRUCTIONS
from vmlab.machine.bits import i64
from vmlab.machine.fpexec import ILLEGAL, exec_fp

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


# --- random F/D programs (for the differential tests) ----------------------------------------
RM_FIELD = 0x7 << 12

#: every F/D row that computes (loads and stores go through the hart's memory path)
ROWS = [r for r in INSTRUCTIONS if r.ext in ("F", "D") and r.size == 4
        and (r.match & 0x7F) not in (0x07, 0x27)]


def random_word(rng):
    """A row's fixed bits, random operand bits; a free rm field gets a valid mode or DYN."""
    row = rng.choice(ROWS)
    w = row.match | (rng.getrandbits(32) & ~row.mask & 0xFFFFFFFF)
    if not row.mask & RM_FIELD:
        w = (w & ~RM_FIELD) | rng.choice([0, 1, 2, 3, 4, 7, 7]) << 12
    return w


def random_state(rng):
    """f registers (singles boxed, one in eight improperly), x registers (x0 = 0), frm."""
    f = []
    for _ in range(32):
        fmt = rng.randrange(2)
        v = box(operand(fmt, rng), fmt)
        if fmt == 0 and rng.randrange(8) == 0:
            v = v & 0xFFFFFFFF | rng.getrandbits(32) << 32
        f.append(v)
    x = [0] + [integer(rng) for _ in range(31)]
    return f, x, rng.randrange(5)


def run_exec_fp(words, f, x, frm):
    """Run the words through exec_fp: (f registers, x registers, fcsr) as unsigned ints."""
    fb, xb, fcsr = 0, 32, 64  # where this keeps f, x and fcsr in its register row
    row = np.zeros(65, dtype=np.int64)
    row[fb:fb + 32] = [i64(v) for v in f]
    row[xb:xb + 32] = [i64(v) for v in x]
    row[fcsr] = frm << 5
    for w in words:
        assert exec_fp(row, w, fb, xb, fcsr) != ILLEGAL, f"{w:#010x} is legal"
    u = [int(v) & (2**64 - 1) for v in row]
    return u[fb:fb + 32], u[xb:xb + 32], u[fcsr]
