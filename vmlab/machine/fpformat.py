"""IEEE 754 binary32 / binary64 as RISC-V's F and D extensions hold them: fields, classes, boxing.

Every value here is a raw bit pattern in an int64 (the machine's register type): a double is
its 64 bits, a single lives in the low 32 bits of a 64-bit register with the upper 32 bits all
ones ("NaN-boxed").  The soft-float modules (``fpround``, ``fparith``, ``fpfma``, ``fpcmp``,
``fpcvt``) compute on integers only, so every result is exact and the same on every host.

``fmt`` selects the precision everywhere: ``S`` (0) or ``D`` (1), as in the instruction's bits
26:25.  A finite nonzero value is unpacked to ``(sign, exp, sig)`` meaning
``(-1)**sign * sig * 2**(exp - frac_bits(fmt))`` with the hidden bit set in ``sig`` (subnormals
are normalized on the way in, so arithmetic never needs a special case for them).
"""
from __future__ import annotations

# the architectural numbers, re-exported for the soft-float modules
from vmlab.isa.fp import (CANON_D, CANON_S, DYN, DZ, NV, NX, OF, RDN, RMM, RNE,  # noqa: F401
                          RTZ, RUP, UF)
from vmlab.machine.jit import jit

S, D = 0, 1

# value classes, in fclass's bit order for the positive half (see fpcmp.fclass)
ZERO, SUBNORMAL, NORMAL, INF, SNAN, QNAN = 0, 1, 2, 3, 4, 5

#: the upper half of a properly boxed single: all ones (as int64 after ``>> 32``: -1)
BOX = -(1 << 32)


@jit(inline="always")
def frac_bits(fmt):
    return 23 if fmt == S else 52


@jit(inline="always")
def exp_bits(fmt):
    return 8 if fmt == S else 11


@jit(inline="always")
def bias(fmt):
    return 127 if fmt == S else 1023


@jit(inline="always")
def canonical_nan(fmt):
    return CANON_S if fmt == S else CANON_D


@jit(inline="always")
def unbox(reg, fmt):
    """The fmt-bits operand held in a 64-bit register: a single not NaN-boxed reads as the
    canonical NaN (the spec's rule, so that stale double bits never pass for a float)."""
    if fmt == D:
        return reg
    if (reg >> 32) != -1:
        return CANON_S
    return reg & 0xFFFFFFFF


@jit(inline="always")
def box(bits, fmt):
    """A fmt-bits result as a 64-bit register value (singles NaN-boxed)."""
    if fmt == D:
        return bits
    return (bits & 0xFFFFFFFF) | BOX


@jit(inline="always")
def sign_of(bits, fmt):
    return (bits >> (31 if fmt == S else 63)) & 1


@jit(inline="always")
def exp_field(bits, fmt):
    return (bits >> frac_bits(fmt)) & ((1 << exp_bits(fmt)) - 1)


@jit(inline="always")
def frac_field(bits, fmt):
    return bits & ((1 << frac_bits(fmt)) - 1)


@jit
def classify(bits, fmt):
    """ZERO, SUBNORMAL, NORMAL, INF, SNAN or QNAN."""
    e, f = exp_field(bits, fmt), frac_field(bits, fmt)
    if e == 0:
        return ZERO if f == 0 else SUBNORMAL
    if e == (1 << exp_bits(fmt)) - 1:
        if f == 0:
            return INF
        # the quiet bit is the top fraction bit
        return QNAN if (f >> (frac_bits(fmt) - 1)) & 1 else SNAN
    return NORMAL


@jit(inline="always")
def is_nan(cls):
    return cls == SNAN or cls == QNAN


@jit
def unpack(bits, fmt):
    """(sign, exp, sig) of a finite nonzero value, sig normalized with its hidden bit at
    frac_bits(fmt) (for subnormals: shifted up, exp lowered to match)."""
    fb = frac_bits(fmt)
    e, sig = exp_field(bits, fmt), frac_field(bits, fmt)
    if e == 0:
        e = 1
        while sig < (1 << fb):
            sig <<= 1
            e -= 1
    else:
        sig |= 1 << fb
    return sign_of(bits, fmt), e - bias(fmt), sig


@jit(inline="always")
def pack(sign, biased_exp, frac, fmt):
    """Assemble the fields into a bit pattern (fmt bits, not boxed)."""
    return (sign << (31 if fmt == S else 63)) | (biased_exp << frac_bits(fmt)) | frac


@jit(inline="always")
def infinity(sign, fmt):
    return pack(sign, (1 << exp_bits(fmt)) - 1, 0, fmt)


@jit(inline="always")
def zero(sign, fmt):
    return pack(sign, 0, 0, fmt)
