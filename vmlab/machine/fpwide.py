"""128-bit unsigned arithmetic on (hi, lo) pairs of int64, for exact products and sums.

Why uint64 inside: numba compiles int64 ``+ - *`` with LLVM's "no signed wrap" promise, so an
int64 operation that overflows is undefined and the optimizer may assume it never happens
(it did: a wrapped low product word compared unequal to 0 although it was 0).  Unsigned
operations wrap by definition.  Each helper converts to uint64 (a reinterpretation of the same
64 bits), computes with uint64 constants only -- mixing in an int64 would turn the arithmetic
into floating point -- and hands int64 patterns back.
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.fpround import bitlen
from vmlab.machine.jit import jit

_M32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
_0 = np.uint64(0)
_1 = np.uint64(1)


@jit(inline="always")
def lsr(v, n):
    """Logical shift right of a 64-bit pattern by 0..63."""
    return np.int64(np.uint64(v) >> np.uint64(n))


@jit(inline="always")
def add64(a, b):
    """a + b modulo 2**64 (an address computation a guest controls may wrap)."""
    return np.int64(np.uint64(a) + np.uint64(b))


@jit
def mul64(a, b):
    """The full 128-bit product of two unsigned 64-bit patterns: (hi, lo), from four 32 x 32
    partial products, carrying the middle column by hand."""
    ua, ub = np.uint64(a), np.uint64(b)
    al, ah, bl, bh = ua & _M32, ua >> _32, ub & _M32, ub >> _32
    ll, lh, hl, hh = al * bl, al * bh, ah * bl, ah * bh
    mid = (ll >> _32) + (lh & _M32) + (hl & _M32)
    lo = (mid << _32) | (ll & _M32)
    hi = hh + (lh >> _32) + (hl >> _32) + (mid >> _32)
    return np.int64(hi), np.int64(lo)


@jit
def add128(ah, al, bh, bl):
    lo = np.uint64(al) + np.uint64(bl)
    carry = _1 if lo < np.uint64(al) else _0
    return np.int64(np.uint64(ah) + np.uint64(bh) + carry), np.int64(lo)


@jit
def sub128(ah, al, bh, bl):
    """(a - b) mod 2**128."""
    borrow = _1 if np.uint64(al) < np.uint64(bl) else _0
    return np.int64(np.uint64(ah) - np.uint64(bh) - borrow), np.int64(np.uint64(al) - np.uint64(bl))


@jit
def lt128(ah, al, bh, bl):
    """Unsigned a < b."""
    if ah != bh:
        return np.uint64(ah) < np.uint64(bh)
    return np.uint64(al) < np.uint64(bl)


@jit
def shl128(hi, lo, n):
    """(hi, lo) << n for 0 <= n < 128 (bits above 127 are lost; callers keep them zero)."""
    if n == 0:
        return hi, lo
    if n >= 64:
        return lo << (n - 64), 0
    return (hi << n) | lsr(lo, 64 - n), lo << n


@jit(inline="always")
def low_bits_set(v, n):
    """Are any of the low n (0..64) bits of v set?"""
    if n >= 64:
        return v != 0
    return (np.uint64(v) << np.uint64(64 - n)) != _0 if n > 0 else False


@jit
def shr_jam128(hi, lo, n):
    """(hi, lo) >> n with every bit shifted out OR-ed into bit 0."""
    if n <= 0:
        return hi, lo
    if n >= 128:
        return 0, (1 if (hi | lo) != 0 else 0)
    if n >= 64:
        lost = lo != 0 or low_bits_set(hi, n - 64)
        return 0, lsr(hi, n - 64) | (1 if lost else 0)
    lost = low_bits_set(lo, n)
    return lsr(hi, n), (lsr(lo, n) | (hi << (64 - n))) | (1 if lost else 0)


@jit
def bitlen128(hi, lo):
    if hi != 0:
        return 64 + bitlen(hi)  # callers keep bit 127 clear, so hi > 0 here
    return 64 if lo < 0 else bitlen(lo)
