"""Integer arithmetic and the immediates of the base formats, for the hot loop (hart.py).

Plain functions of numbers -- no arrays, no state -- so that numba inlines them into the hot
loop (``inline="always"``) at no cost: after inlining, a funct3 the caller passes as a
constant leaves only its own case.  Each returns (ok, value): ok is False for an encoding
that is not an instruction (the hot loop raises an illegal-instruction exception).
"""
from __future__ import annotations

from vmlab.machine.bits import div, divu, ltu, mulh, mulhsu, mulhu, rem, remu, sext32, srl
from vmlab.machine.jit import jit


# ---- immediates of the base formats (spec "Immediate Encoding Variants") -------------------
@jit(inline="always")
def imm_i(w):
    return ((w >> 20) ^ 0x800) - 0x800


@jit(inline="always")
def imm_s(w):
    return ((((w >> 25) << 5) | ((w >> 7) & 31)) ^ 0x800) - 0x800


@jit(inline="always")
def imm_b(w):
    imm = (((w >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3F) << 5)
           | (((w >> 8) & 0xF) << 1))
    return (imm ^ 0x1000) - 0x1000


@jit(inline="always")
def imm_j(w):
    imm = (((w >> 31) << 20) | (((w >> 12) & 0xFF) << 12) | (((w >> 20) & 1) << 11)
           | (((w >> 21) & 0x3FF) << 1))
    return (imm ^ 0x100000) - 0x100000


@jit(inline="always")
def imm_u(w):
    return ((w & 0xFFFFF000) ^ 0x80000000) - 0x80000000


@jit(inline="always")
def alu(f3, f7, a, b, has_m):
    """OP (register-register) instructions; returns (ok, result).  Without M (``has_m``
    False: misa.M clear) the M instructions are not instructions."""
    if f7 == 0:
        if f3 == 0:
            return True, a + b
        if f3 == 1:
            return True, a << (b & 63)
        if f3 == 2:
            return True, 1 if a < b else 0
        if f3 == 3:
            return True, 1 if ltu(a, b) else 0
        if f3 == 4:
            return True, a ^ b
        if f3 == 5:
            return True, srl(a, b & 63)
        if f3 == 6:
            return True, a | b
        return True, a & b
    if f7 == 0x20:
        if f3 == 0:
            return True, a - b
        if f3 == 5:
            return True, a >> (b & 63)
        return False, 0
    if f7 == 1 and has_m:
        if f3 == 0:
            return True, a * b
        if f3 == 1:
            return True, mulh(a, b)
        if f3 == 2:
            return True, mulhsu(a, b)
        if f3 == 3:
            return True, mulhu(a, b)
        if f3 == 4:
            return True, div(a, b)
        if f3 == 5:
            return True, -1 if b == 0 else divu(a, b)
        if f3 == 6:
            return True, rem(a, b)
        return True, a if b == 0 else remu(a, b)
    return False, 0


@jit(inline="always")
def alu32(f3, f7, a, b, has_m):
    """OP-32 instructions (addw ... remuw): compute on 32 bits, sign-extend the result."""
    if f7 == 0:
        if f3 == 0:
            return True, sext32(a + b)
        if f3 == 1:
            return True, sext32(a << (b & 31))
        if f3 == 5:
            return True, sext32(srl(a & 0xFFFFFFFF, b & 31))
        return False, 0
    if f7 == 0x20:
        if f3 == 0:
            return True, sext32(a - b)
        if f3 == 5:
            return True, sext32(sext32(a) >> (b & 31))
        return False, 0
    if f7 == 1 and has_m:
        if f3 == 0:
            return True, sext32(a * b)
        if f3 == 4:
            return True, sext32(div(sext32(a), sext32(b)))
        if f3 == 5:
            return True, sext32(-1 if (b & 0xFFFFFFFF) == 0 else divu(a & 0xFFFFFFFF, b & 0xFFFFFFFF))
        if f3 == 6:
            return True, sext32(rem(sext32(a), sext32(b)))
        if f3 == 7:
            bu = b & 0xFFFFFFFF
            return True, sext32(a if bu == 0 else remu(a & 0xFFFFFFFF, bu))
    return False, 0


@jit(inline="always")
def alu_imm(f3, w, a):
    """OP-IMM instructions; shifts take a 6-bit amount and a funct6 in the immediate."""
    imm = ((w >> 20) ^ 0x800) - 0x800
    if f3 == 0:
        return True, a + imm
    if f3 == 2:
        return True, 1 if a < imm else 0
    if f3 == 3:
        return True, 1 if ltu(a, imm) else 0
    if f3 == 4:
        return True, a ^ imm
    if f3 == 6:
        return True, a | imm
    if f3 == 7:
        return True, a & imm
    sh, f6 = (w >> 20) & 63, w >> 26
    if f3 == 1:
        return f6 == 0, a << sh
    if f6 == 0:
        return True, srl(a, sh)
    return f6 == 0x10, a >> sh


@jit(inline="always")
def alu_imm32(f3, w, a):
    imm = ((w >> 20) ^ 0x800) - 0x800
    sh, f7 = (w >> 20) & 31, w >> 25
    if f3 == 0:
        return True, sext32(a + imm)
    if f3 == 1:
        return f7 == 0, sext32(a << sh)
    if f3 == 5:
        if f7 == 0:
            return True, sext32(srl(a & 0xFFFFFFFF, sh))
        return f7 == 0x20, sext32(sext32(a) >> sh)
    return False, 0


@jit(inline="always")
def branch_taken(f3, a, b):
    if f3 == 0:
        return a == b
    if f3 == 1:
        return a != b
    if f3 == 4:
        return a < b
    if f3 == 5:
        return a >= b
    if f3 == 6:
        return ltu(a, b)
    return not ltu(a, b)


@jit(inline="always")
def branch(f3, pc, npc, w, a, b):
    """The pc after a conditional branch: its target if taken, else the next instruction."""
    return pc + imm_b(w) if branch_taken(f3, a, b) else npc


@jit(inline="always")
def compute(w, pc, a, b, has_m):
    """The integer instructions the hot loop's first switch leaves to the opcode alone (OP,
    OP-IMM and their 32-bit forms, auipc), on rs1's value ``a`` and rs2's ``b``: (ok, rd's
    new value); ok is False for anything else."""
    op, f3 = w & 0x7F, (w >> 12) & 7
    if op == 0x13:
        return alu_imm(f3, w, a)
    if op == 0x33:
        return alu(f3, w >> 25, a, b, has_m)
    if op == 0x17:                                        # auipc
        return True, pc + imm_u(w)
    if op == 0x1B:
        return alu_imm32(f3, w, a)
    if op == 0x3B:
        return alu32(f3, w >> 25, a, b, has_m)
    return False, 0
