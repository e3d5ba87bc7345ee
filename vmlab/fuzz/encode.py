"""The few RV64 encodings the guest generator writes by hand (field layouts from the spec).

Generated guests must not depend on the assembler under test elsewhere, and they are built
thousands of times a second, so the snippets are encoded directly."""
from __future__ import annotations

LOAD, STORE, OP_IMM, SYSTEM = 0x03, 0x23, 0x13, 0x73
ECALL, MRET, SRET = 0x00000073, 0x30200073, 0x10200073

#: loads and stores by width in bytes: funct3 (ld/sd = 3)
WIDTH_F3 = {1: 0, 2: 1, 4: 2, 8: 3}


def i_type(opcode: int, f3: int, rd: int, rs1: int, imm: int) -> int:
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode


def s_type(f3: int, rs1: int, rs2: int, imm: int) -> int:
    imm &= 0xFFF
    return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1F) << 7) | STORE


def ld(rd: int, rs1: int, imm: int) -> int:
    return i_type(LOAD, 3, rd, rs1, imm)


def load(width: int, rd: int, rs1: int, imm: int) -> int:
    return i_type(LOAD, WIDTH_F3[width], rd, rs1, imm)


def store(width: int, rs2: int, rs1: int, imm: int) -> int:
    return s_type(WIDTH_F3[width], rs1, rs2, imm)


def addi(rd: int, rs1: int, imm: int) -> int:
    return i_type(OP_IMM, 0, rd, rs1, imm)


def csr_op(f3: int, rd: int, csr: int, rs1: int) -> int:
    """csrrw (1), csrrs (2), csrrc (3) and their immediate forms (5, 6, 7)."""
    return i_type(SYSTEM, f3, rd, rs1, csr)


def words(ws: list[int]) -> bytes:
    return b"".join((w & 0xFFFF_FFFF).to_bytes(4, "little") for w in ws)


def skip_handler(scratch: int, epc: int, ret: int) -> bytes:
    """A trap handler that steps over the trapping instruction (epc += 4, even for a 16-bit
    one: random words do not care where the next one starts) and returns.  It keeps t0 in
    the scratch CSR, so that it works whatever the random words did to the stack."""
    t0 = 5
    return words([csr_op(1, t0, scratch, t0), csr_op(2, t0, epc, 0), addi(t0, t0, 4),
                  csr_op(1, 0, epc, t0), csr_op(1, t0, scratch, t0), ret])
