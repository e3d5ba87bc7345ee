"""Random RV64IMAC programs for the differential and fuzz tests.

The encoders here are written from the ISA manual's instruction formats, on purpose separately
from vmlab.isa: a test should not take its inputs from the code it is testing.  Programs only
branch forward, so every one of them ends.
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

# ------------------------------------------------------------------------ 32-bit formats

OP, OP_32, OP_IMM, OP_IMM_32 = 0x33, 0x3B, 0x13, 0x1B
LOAD, STORE, BRANCH, LUI, AUIPC, JAL = 0x03, 0x23, 0x63, 0x37, 0x17, 0x6F


def r_type(op, f3, f7, rd, rs1, rs2):
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def i_type(op, f3, rd, rs1, imm):
    return (imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def s_type(op, f3, rs1, rs2, imm):
    return ((imm >> 5) & 0x7F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1F) << 7 | op


def b_type(f3, rs1, rs2, off):
    return ((off >> 12) & 1) << 31 | ((off >> 5) & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | \
        f3 << 12 | ((off >> 1) & 0xF) << 8 | ((off >> 11) & 1) << 7 | BRANCH


def u_type(op, rd, imm20):
    return (imm20 & 0xFFFFF) << 12 | rd << 7 | op


def j_type(rd, off):
    return ((off >> 20) & 1) << 31 | ((off >> 1) & 0x3FF) << 21 | ((off >> 11) & 1) << 20 | \
        ((off >> 12) & 0xFF) << 12 | rd << 7 | JAL


R_OPS = {"add": (0, 0), "sub": (0, 0x20), "sll": (1, 0), "slt": (2, 0), "sltu": (3, 0),
         "xor": (4, 0), "srl": (5, 0), "sra": (5, 0x20), "or": (6, 0), "and": (7, 0),
         "mul": (0, 1), "mulh": (1, 1), "mulhsu": (2, 1), "mulhu": (3, 1),
         "div": (4, 1), "divu": (5, 1), "rem": (6, 1), "remu": (7, 1)}
R_W_OPS = {"addw": (0, 0), "subw": (0, 0x20), "sllw": (1, 0), "srlw": (5, 0), "sraw": (5, 0x20),
           "mulw": (0, 1), "divw": (4, 1), "divuw": (5, 1), "remw": (6, 1), "remuw": (7, 1)}
I_OPS = {"addi": 0, "slti": 2, "sltiu": 3, "xori": 4, "ori": 6, "andi": 7}
SHIFT_OPS = {"slli": (1, 0), "srli": (5, 0), "srai": (5, 0x400)}
LOADS = {"lb": (0, 1), "lh": (1, 2), "lw": (2, 4), "ld": (3, 8),
         "lbu": (4, 1), "lhu": (5, 2), "lwu": (6, 4)}
STORES = {"sb": (0, 1), "sh": (1, 2), "sw": (2, 4), "sd": (3, 8)}
BRANCHES = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}

# ------------------------------------------------------------------- compressed formats


def bits(value, hi, lo):
    return (value >> lo) & ((1 << (hi - lo + 1)) - 1)


def c_ci(f3, rd, imm6, quadrant):
    """CI format: imm[5] at bit 12, imm[4:0] at bits 6:2."""
    return f3 << 13 | bits(imm6, 5, 5) << 12 | rd << 7 | bits(imm6, 4, 0) << 2 | quadrant


def c_arith(kind, rdp, rs2p=0, imm6=0):
    """The CB/CA arithmetic group (funct3 100, quadrant 1); rdp/rs2p are x8..x15 as 0..7."""
    if kind in ("srli", "srai", "andi"):
        sel = {"srli": 0, "srai": 1, "andi": 2}[kind]
        return 0b100 << 13 | bits(imm6, 5, 5) << 12 | sel << 10 | rdp << 7 | \
            bits(imm6, 4, 0) << 2 | 1
    hi, sel = {"sub": (0, 0), "xor": (0, 1), "or": (0, 2), "and": (0, 3),
               "subw": (1, 0), "addw": (1, 1)}[kind]
    return 0b100 << 13 | hi << 12 | 0b11 << 10 | rdp << 7 | sel << 5 | rs2p << 2 | 1


def c_mem(f3, rs1p, rp, uimm, dword):
    """CL/CS: c.lw/c.sw (word offsets) and c.ld/c.sd (doubleword offsets)."""
    low = (bits(uimm, 7, 6) if dword else bits(uimm, 2, 2) << 1 | bits(uimm, 6, 6))
    return f3 << 13 | bits(uimm, 5, 3) << 10 | rs1p << 7 | low << 5 | rp << 2


def c_sp_load(f3, rd, uimm, dword):
    low = (bits(uimm, 4, 3) << 3 | bits(uimm, 8, 6)) if dword else \
        (bits(uimm, 4, 2) << 2 | bits(uimm, 7, 6))
    return f3 << 13 | bits(uimm, 5, 5) << 12 | rd << 7 | low << 2 | 2


def c_sp_store(f3, rs2, uimm, dword):
    field = (bits(uimm, 5, 3) << 3 | bits(uimm, 8, 6)) if dword else \
        (bits(uimm, 5, 2) << 2 | bits(uimm, 7, 6))
    return f3 << 13 | field << 7 | rs2 << 2 | 2


def c_j(off):
    field = (bits(off, 11, 11) << 10 | bits(off, 4, 4) << 9 | bits(off, 9, 8) << 7 |
             bits(off, 10, 10) << 6 | bits(off, 6, 6) << 5 | bits(off, 7, 7) << 4 |
             bits(off, 3, 1) << 1 | bits(off, 5, 5))
    return 0b101 << 13 | field << 2 | 1


def c_branch(f3, rs1p, off):
    return f3 << 13 | bits(off, 8, 8) << 12 | bits(off, 4, 3) << 10 | rs1p << 7 | \
        bits(off, 7, 6) << 5 | bits(off, 2, 1) << 3 | bits(off, 5, 5) << 2 | 1


def c_addi4spn(rdp, nzuimm):
    field = bits(nzuimm, 5, 4) << 6 | bits(nzuimm, 9, 6) << 2 | bits(nzuimm, 2, 2) << 1 | \
        bits(nzuimm, 3, 3)
    return field << 5 | rdp << 2


# --------------------------------------------------------------------------- programs

DATA_REG, SP = 8, 2          # x8 (s0) and x2 (sp) point into the data area and stay fixed
DATA_SIZE = 4096
WRITABLE = [r for r in range(32) if r not in (DATA_REG, SP)]     # x0 allowed: writes vanish
SOURCES = [r for r in range(32)]
RVC_REGS = [r - 8 for r in range(9, 16)]                         # x9..x15 as 3-bit fields


@dataclass
class Insn:
    """One instruction; branches know how many instructions they skip, not their offset."""

    text: str
    size: int
    encode: object              # callable(offset or None) -> int
    skip: int | None = None     # for forward branches/jumps: instructions to skip


def _fixed(text, word, size=4):
    return Insn(text, size, lambda _off: word)


reg = st.sampled_from(WRITABLE)
src = st.sampled_from(SOURCES)
rvc = st.sampled_from(RVC_REGS)


@st.composite
def alu(draw):
    kind = draw(st.sampled_from(["r", "rw", "i", "iw", "shift", "shiftw", "lui", "auipc"]))
    rd, rs1, rs2 = draw(reg), draw(src), draw(src)
    if kind == "r":
        name = draw(st.sampled_from(sorted(R_OPS)))
        f3, f7 = R_OPS[name]
        return _fixed(f"{name} x{rd},x{rs1},x{rs2}", r_type(OP, f3, f7, rd, rs1, rs2))
    if kind == "rw":
        name = draw(st.sampled_from(sorted(R_W_OPS)))
        f3, f7 = R_W_OPS[name]
        return _fixed(f"{name} x{rd},x{rs1},x{rs2}", r_type(OP_32, f3, f7, rd, rs1, rs2))
    imm = draw(st.integers(-2048, 2047))
    if kind == "i":
        name = draw(st.sampled_from(sorted(I_OPS)))
        return _fixed(f"{name} x{rd},x{rs1},{imm}", i_type(OP_IMM, I_OPS[name], rd, rs1, imm))
    if kind == "iw":
        return _fixed(f"addiw x{rd},x{rs1},{imm}", i_type(OP_IMM_32, 0, rd, rs1, imm))
    name = draw(st.sampled_from(sorted(SHIFT_OPS)))
    f3, hi = SHIFT_OPS[name]
    if kind == "shift":
        sh = draw(st.integers(0, 63))
        return _fixed(f"{name} x{rd},x{rs1},{sh}", i_type(OP_IMM, f3, rd, rs1, hi | sh))
    if kind == "shiftw":
        sh = draw(st.integers(0, 31))
        return _fixed(f"{name}w x{rd},x{rs1},{sh}", i_type(OP_IMM_32, f3, rd, rs1, hi | sh))
    imm20 = draw(st.integers(0, 0xFFFFF))
    op = LUI if kind == "lui" else AUIPC
    return _fixed(f"{kind} x{rd},{imm20:#x}", u_type(op, rd, imm20))


@st.composite
def memory(draw):
    """Aligned loads/stores inside the data area, off x8 (0..2047) or sp (-2048..2047)."""
    load = draw(st.booleans())
    name = draw(st.sampled_from(sorted(LOADS if load else STORES)))
    f3, size = (LOADS if load else STORES)[name]
    base = draw(st.sampled_from([DATA_REG, SP]))
    low = 0 if base == DATA_REG else -2048
    imm = draw(st.integers(low // size, (2048 - size) // size)) * size
    if load:
        rd = draw(reg)
        return _fixed(f"{name} x{rd},{imm}(x{base})", i_type(LOAD, f3, rd, base, imm))
    rs2 = draw(src)
    return _fixed(f"{name} x{rs2},{imm}(x{base})", s_type(STORE, f3, base, rs2, imm))


@st.composite
def control(draw):
    """Forward-only branches and jumps (so a program always terminates)."""
    skip = draw(st.integers(0, 6))
    kind = draw(st.sampled_from(["b", "jal", "c.j", "c.bz"]))
    if kind == "b":
        name = draw(st.sampled_from(sorted(BRANCHES)))
        rs1, rs2 = draw(src), draw(src)
        return Insn(f"{name} x{rs1},x{rs2},+{skip}", 4,
                    lambda off: b_type(BRANCHES[name], rs1, rs2, off), skip)
    if kind == "jal":
        rd = draw(reg)
        return Insn(f"jal x{rd},+{skip}", 4, lambda off: j_type(rd, off), skip)
    if kind == "c.j":
        return Insn(f"c.j +{skip}", 2, c_j, skip)
    f3, rs1p = draw(st.sampled_from([6, 7])), draw(rvc)
    return Insn(f"c.b{'eq' if f3 == 6 else 'ne'}z x{rs1p + 8},+{skip}", 2,
                lambda off: c_branch(f3, rs1p, off), skip)


@st.composite
def compressed(draw):
    kind = draw(st.sampled_from(["addi", "addiw", "li", "lui", "slli", "cb", "ca", "mv", "add",
                                 "lw", "ld", "sw", "sd", "lwsp", "ldsp", "swsp", "sdsp",
                                 "addi4spn"]))
    rd = draw(st.sampled_from([r for r in WRITABLE if r != 0]))
    imm6 = draw(st.integers(-32, 31))
    if kind in ("addi", "addiw", "li"):
        f3 = {"addi": 0, "addiw": 1, "li": 2}[kind]
        return _fixed(f"c.{kind} x{rd},{imm6}", c_ci(f3, rd, imm6, 1), 2)
    if kind == "lui":
        nz = draw(st.integers(-32, 31).filter(bool))
        return _fixed(f"c.lui x{rd},{nz}", c_ci(3, rd, nz, 1), 2)
    if kind == "slli":
        sh = draw(st.integers(1, 63))
        return _fixed(f"c.slli x{rd},{sh}", c_ci(0, rd, sh, 2), 2)
    rdp, rs2p = draw(rvc), draw(rvc)
    if kind == "cb":
        op = draw(st.sampled_from(["srli", "srai", "andi"]))
        value = draw(st.integers(1, 63)) if op != "andi" else imm6
        return _fixed(f"c.{op} x{rdp + 8},{value}", c_arith(op, rdp, imm6=value), 2)
    if kind == "ca":
        op = draw(st.sampled_from(["sub", "xor", "or", "and", "subw", "addw"]))
        return _fixed(f"c.{op} x{rdp + 8},x{rs2p + 8}", c_arith(op, rdp, rs2p), 2)
    rs2 = draw(st.sampled_from([r for r in SOURCES if r != 0]))
    if kind in ("mv", "add"):
        word = 0b100 << 13 | (kind == "add") << 12 | rd << 7 | rs2 << 2 | 2
        return _fixed(f"c.{kind} x{rd},x{rs2}", word, 2)
    if kind in ("lw", "sw", "ld", "sd"):
        dword = kind in ("ld", "sd")
        uimm = draw(st.integers(0, 31)) * (8 if dword else 4)
        f3 = {"lw": 2, "ld": 3, "sw": 6, "sd": 7}[kind]
        other = rdp if kind[0] == "l" else rs2p
        return _fixed(f"c.{kind} x{other + 8},{uimm}(x8)",
                      c_mem(f3, DATA_REG - 8, other, uimm, dword), 2)
    if kind in ("lwsp", "ldsp"):
        dword = kind == "ldsp"
        uimm = draw(st.integers(0, 63)) * (8 if dword else 4)
        return _fixed(f"c.{kind} x{rd},{uimm}(sp)", c_sp_load(2 + dword, rd, uimm, dword), 2)
    if kind in ("swsp", "sdsp"):
        dword = kind == "sdsp"
        uimm = draw(st.integers(0, 63)) * (8 if dword else 4)
        return _fixed(f"c.{kind} x{rs2},{uimm}(sp)", c_sp_store(6 + dword, rs2, uimm, dword), 2)
    nz = draw(st.integers(1, 255)) * 4
    return _fixed(f"c.addi4spn x{rdp + 8},{nz}", c_addi4spn(rdp, nz), 2)


AMO, AMO_OPS = 0x2F, {"amoadd": 0x00, "amoswap": 0x01, "amoxor": 0x04, "amoor": 0x08,
                      "amoand": 0x0C, "amomin": 0x10, "amomax": 0x14, "amominu": 0x18,
                      "amomaxu": 0x1C}
ORDERING = {(0, 0): "", (1, 0): ".aq", (0, 1): ".rl", (1, 1): ".aqrl"}


def amo_type(funct5, aq, rl, width, rd, rs1, rs2):
    return funct5 << 27 | aq << 26 | rl << 25 | rs2 << 20 | rs1 << 15 | width << 12 | rd << 7 | AMO


@st.composite
def atomic(draw):
    """An AMO on one of the two data pointers, or an LR/SC pair kept together.

    LR and SC stay adjacent on purpose: whether an SC succeeds after the same hart stored to
    the reserved address in between is left to the implementation, so a differential test
    must not ask.
    """
    width, aq, rl = draw(st.sampled_from([2, 3])), draw(st.integers(0, 1)), draw(st.integers(0, 1))
    suffix = (".w" if width == 2 else ".d") + ORDERING[aq, rl]
    base, rd, rs2 = draw(st.sampled_from([DATA_REG, SP])), draw(reg), draw(src)
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(AMO_OPS)))
        word = amo_type(AMO_OPS[name], aq, rl, width, rd, base, rs2)
        return _fixed(f"{name}{suffix} x{rd},x{rs2},(x{base})", word)
    rd2, base2 = draw(reg), draw(st.sampled_from([DATA_REG, SP]))
    lr = amo_type(0x02, aq, rl, width, rd, base, 0)
    sc = amo_type(0x03, aq, rl, width, rd2, base2, rs2)
    if draw(st.booleans()):   # a lone SC: no reservation, so it must fail
        return _fixed(f"sc{suffix} x{rd2},x{rs2},(x{base2})", sc)
    return Insn(f"lr{suffix} x{rd},(x{base}); sc{suffix} x{rd2},x{rs2},(x{base2})", 8,
                lambda _off: lr | sc << 32)


instruction = st.one_of(alu(), alu(), memory(), compressed(), control(), atomic())


def layout(program: list[Insn]) -> tuple[bytes, list[int]]:
    """Place the instructions; resolve each forward branch to the address it skips to.

    Returns the code bytes and each instruction's byte offset (plus the end offset).
    """
    offsets = [0]
    for insn in program:
        offsets.append(offsets[-1] + insn.size)
    code = bytearray()
    for i, insn in enumerate(program):
        off = None
        if insn.skip is not None:
            target = min(i + 1 + insn.skip, len(program))
            off = offsets[target] - offsets[i]
        code += insn.encode(off).to_bytes(insn.size, "little")
    return bytes(code), offsets


SPECIAL = [0, 1, 2, -1, -2, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 31) - 1, -(1 << 31),
           0xFFFFFFFF, 0x80000000, 0x7FFFFFFF_FFFFFFFF, 0x1_0000_0000, 63, 64, 31, 32]
register_value = st.one_of(st.sampled_from(SPECIAL), st.integers(0, 2**64 - 1),
                           st.integers(-300, 300)).map(lambda v: v & (2**64 - 1))
