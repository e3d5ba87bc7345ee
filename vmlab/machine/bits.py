"""Small integer helpers for 64-bit two's-complement arithmetic in int64 (numba-friendly).

Registers are int64 everywhere (see layout.py for why), so unsigned operations are spelled
out here once: logical shift right, unsigned compare, sign extension, 64x64->128 products.
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.jit import jit

INT64_MIN = -(1 << 63)
MASK32 = 0xFFFFFFFF
MASK64 = (1 << 64) - 1


# ---- the one conversion pair between Python's ints and the machine's int64 words ----------
# A guest value is an unsigned 64-bit number (a pc of 0xffffffff80000000 is a big positive
# int in Python) but the state arrays hold it as an int64 bit pattern.  Every crossing goes
# through these two, so that no caller can hand numba a Python int >= 2**63 (OverflowError)
# and a compiled function always sees the same argument type, whichever call came first.

def i64(v) -> np.int64:
    """Any integer (Python int, numpy scalar, negative or >= 2**63) as the int64 bit pattern
    of its low 64 bits: what to store in a state array or pass to compiled code."""
    v = int(v) & MASK64
    return np.int64(v - (1 << 64) if v >> 63 else v)


def u64(v) -> int:
    """A state word (or any integer) as the unsigned 64-bit value the guest means."""
    return int(v) & MASK64


def s64(v: int) -> int:
    """i64's bit pattern as a plain Python int: what a Python-path caller passes to compiled
    code on every exit (numba types both as int64; making a numpy scalar costs more)."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def words(a: np.ndarray, signed: bool = False) -> memoryview:
    """The words of a 1-D int64 state array as Python ints, through a memoryview: ``w[i]``
    is ``u64(a[i])`` (``int(a[i])`` if ``signed``) and ``w[i] = v`` stores v's bit pattern
    (0 <= v < 2**64; for signed, a value that fits int64).  The same memory, no copy.

    Why: the Python path of an exit reads and writes a few dozen words, and numpy's scalar
    indexing plus the int conversion cost ~230 ns a word against ~50 ns through this view.
    Writes of values out of range raise (ValueError/OverflowError): mask them first."""
    return memoryview(a).cast("B").cast("q" if signed else "Q")


@jit(inline="always")
def sext(v, bits):
    """Sign-extend the low ``bits`` bits of ``v``."""
    m = 1 << (bits - 1)
    return ((v & ((m << 1) - 1)) ^ m) - m


@jit(inline="always")
def sext32(v):
    return ((v & MASK32) ^ 0x80000000) - 0x80000000


@jit(inline="always")
def srl(v, s):
    """Logical shift right of a 64-bit pattern by 0..63."""
    if s == 0:
        return v
    return (v >> s) & ((1 << (64 - s)) - 1)


@jit(inline="always")
def ltu(a, b):
    """Unsigned a < b: flipping the sign bit maps unsigned order onto signed order."""
    return (a ^ INT64_MIN) < (b ^ INT64_MIN)


@jit
def mulhu(a, b):
    """High 64 bits of the unsigned 128-bit product, from four 32x32 partial products."""
    al, ah = a & MASK32, srl(a, 32)
    bl, bh = b & MASK32, srl(b, 32)
    ll = al * bl
    lh = al * bh
    hl = ah * bl
    hh = ah * bh
    # every partial product is < 2**64 unsigned; carry the middle terms by hand
    mid = srl(ll, 32) + (lh & MASK32) + (hl & MASK32)
    return hh + srl(lh, 32) + srl(hl, 32) + srl(mid, 32)


@jit
def mulh(a, b):
    """High half of signed x signed: the unsigned product corrected for negative operands."""
    h = mulhu(a, b)
    if a < 0:
        h -= b
    if b < 0:
        h -= a
    return h


@jit
def mulhsu(a, b):
    h = mulhu(a, b)
    if a < 0:
        h -= b
    return h


@jit
def divu(a, b):
    """Unsigned division of 64-bit patterns (b != 0), by long division when needed."""
    if a >= 0 and b > 0:
        return a // b
    if b < 0:  # divisor >= 2**63: quotient is 0 or 1
        return 1 if not ltu(a, b) else 0
    # a >= 2**63, 0 < b < 2**63: divide a/2 then fix up one bit
    q = (srl(a, 1) // b) << 1
    r = a - q * b
    if not ltu(r, b):
        q += 1
    return q


@jit
def remu(a, b):
    return a - divu(a, b) * b


@jit
def div(a, b):
    """Signed division rounding toward zero, with RISC-V's results for /0 and overflow."""
    if b == 0:
        return -1
    if a == INT64_MIN and b == -1:
        return a
    q = divu(-a if a < 0 else a, -b if b < 0 else b)
    return -q if (a < 0) != (b < 0) else q


@jit
def rem(a, b):
    if b == 0:
        return a
    if a == INT64_MIN and b == -1:
        return 0
    r = remu(-a if a < 0 else a, -b if b < 0 else b)
    return -r if a < 0 else r
