"""The one rounding step every F/D operation ends in: an exact-enough value -> bits + flags.

Operations compute a *working significand* ``sig`` (a positive int64) and an exponent ``exp``
meaning ``sig * 2**(exp - W)`` with ``W = 61``: normalized, the leading bit sits at bit 61.
That leaves 61 - 52 = 9 bits below a double's last bit (38 for a single) to decide rounding,
and two bits of headroom above so that adding the rounding increment cannot reach the sign bit.
Bits an operation shifts out are not dropped but OR-ed into bit 0 ("jamming"): bit 0 then
says "something nonzero was below", which is all round-to-nearest and the directed modes need.

RISC-V detects tininess *after* rounding: a result is tiny when, rounded to the format's
precision with an unbounded exponent range, it is still below the smallest normal number.
Underflow (UF) is raised when the result is tiny *and* inexact.
"""
from __future__ import annotations

from vmlab.machine.bits import srl
from vmlab.machine.fpformat import (NX, OF, RDN, RMM, RNE, RTZ, RUP, UF, bias, exp_bits, frac_bits,
                                    infinity, pack)
from vmlab.machine.jit import jit

W = 61  # bit position of the leading 1 of a normalized working significand


@jit
def bitlen(v):
    """Number of bits of a nonnegative int64 (0 for 0); binary search, no loop per bit."""
    n = 0
    for step in (32, 16, 8, 4, 2, 1):
        if v >= (1 << step):
            v = v >> step
            n += step
    return n + (1 if v else 0)


@jit
def shr_jam(v, n):
    """v >> n (v >= 0) with every bit shifted out OR-ed into bit 0."""
    if n <= 0:
        return v
    if n >= 63:
        return 1 if v != 0 else 0
    return (v >> n) | (1 if v & ((1 << n) - 1) else 0)


@jit
def normalize(exp, sig):
    """Move the leading 1 of sig (> 0) to bit W, keeping the value: (exp, sig)."""
    n = bitlen(sig) - 1 - W
    if n > 0:
        return exp + n, shr_jam(sig, n)
    return exp + n, sig << -n


@jit
def round_increment(sign, rm, sig, shift):
    """What to add to sig before dropping its low ``shift`` bits, for mode rm.

    Ties-to-even is done by the caller clearing the last kept bit on an exact tie."""
    if rm == RNE or rm == RMM:
        return 1 << (shift - 1)
    if rm == RTZ:
        return 0
    if (rm == RDN and sign == 1) or (rm == RUP and sign == 0):
        return (1 << shift) - 1
    return 0


@jit
def round_sig(sign, rm, sig, shift):
    """sig rounded to a multiple of 2**shift, then shifted down: (kept, inexact)."""
    low = sig & ((1 << shift) - 1)
    kept = (sig + round_increment(sign, rm, sig, shift)) >> shift
    if rm == RNE and low == (1 << (shift - 1)):
        kept &= ~1  # exact tie: to even
    return kept, low != 0


@jit
def overflow_result(sign, fmt, rm):
    """Overflow gives infinity, or the largest finite number when the mode rounds toward 0."""
    if rm == RTZ or (rm == RDN and sign == 0) or (rm == RUP and sign == 1):
        fb = frac_bits(fmt)
        return pack(sign, (1 << exp_bits(fmt)) - 2, (1 << fb) - 1, fmt)
    return infinity(sign, fmt)


@jit
def is_tiny(sign, rm, sig, biased, fmt):
    """Tininess after rounding: below the smallest normal even with an unbounded exponent?"""
    if biased < 0:
        return True
    if biased > 0:
        return False
    kept, _ = round_sig(sign, rm, sig, W - frac_bits(fmt))
    return kept < (1 << (frac_bits(fmt) + 1))  # rounding did not carry up to 2**emin


@jit
def round_pack(sign, exp, sig, fmt, rm):
    """Round sign * sig * 2**(exp - W) (sig > 0) into fmt: (bits, fflags)."""
    exp, sig = normalize(exp, sig)
    fb = frac_bits(fmt)
    biased = exp + bias(fmt)
    flags = 0
    shift = W - fb
    if biased <= 0:
        if is_tiny(sign, rm, sig, biased, fmt):
            flags |= UF
        sig = shr_jam(sig, 1 - biased)  # denormalize: the exponent field will read 0
        biased = 0
    kept, inexact = round_sig(sign, rm, sig, shift)
    if inexact:
        flags |= NX
    else:
        flags &= ~UF  # an exact tiny result does not underflow
    if biased == 0:
        # a subnormal that rounded up to the smallest normal carries into the exponent field
        return pack(sign, 0, 0, fmt) + kept, flags
    if kept >= (1 << (fb + 1)):  # rounding carried out: 1.111..1 -> 10.000..0
        kept >>= 1
        biased += 1
    if biased >= (1 << exp_bits(fmt)) - 1:
        return overflow_result(sign, fmt, rm), flags | OF | NX
    return pack(sign, biased, kept - (1 << fb), fmt), flags


@jit
def round_pack_u(sign, exp, u, fmt, rm):
    """Like round_pack for a significand given as an *unsigned* 64-bit pattern u != 0
    (integer conversions): bring it below 2**62 first, jamming the two bits that fall off."""
    if u < 0 or u >= (1 << 62):
        return round_pack(sign, exp + 2, srl(u, 2) | (1 if u & 3 else 0), fmt, rm)
    return round_pack(sign, exp, u, fmt, rm)
