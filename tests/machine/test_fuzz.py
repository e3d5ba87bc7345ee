"""Fuzz: over a million random instruction words in M, S and U mode.

Random words are laid out in RAM and run in batches.  Every trap goes to a small M-mode handler
(hand-encoded below, independent of vmlab.asm) that logs (mepc, mcause, mtval) and steps over the
instruction, so one run covers tens of thousands of words.  What must hold:

* the process survives, and every run ends where it should (a breakpoint after the batch);
* every trap has a defined cause for the mode, at an instruction boundary, at most once;
* words the ISA says are illegal (unknown opcodes, FP without F/D, reserved compressed forms,
  CSRs above the current privilege, writes to read-only CSRs) trap as illegal instructions with
  the instruction bits in mtval; plain ALU words never trap.

In the main batches control flow, AUIPC and the CSRs the handler depends on are filtered out, so
execution is a straight line and every word is executed exactly once.  A smaller "wild" part
runs unfiltered words (jumps, CSR writes and all) and only asks that each run ends normally.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

import rvgen
from vmlab.isa import lookup
from rvgen import b_type, i_type, j_type, s_type

# Random words can build "round" addresses such as 0x8000_0000 (lui, shifts) and store
# through them -- M-mode has no protection -- so everything the harness relies on sits at
# addresses a random computation is unlikely to produce.
RAM_BASE = 0x8000_0000
LAUNCH = RAM_BASE              # mret: enter the batch's mode at mepc
HANDLER = RAM_BASE + 0x2_7A40  # mtvec (direct)
SCRATCH = RAM_BASE + 0x3_1C88  # saved t0, t1; log cursor; sentinel address
REGION = RAM_BASE + 0x4_9E36   # the random words
LOG = RAM_BASE + 0x23_5A48     # (mepc, mcause, mtval) per trap
RAM_SIZE = 4 << 20

BATCH = 24_000                 # instructions per run
BATCHES_PER_MODE = 14          # 3 modes x 14 x 24,000 = 1,008,000 words
WILD_BATCHES, WILD_WORDS = 6, 4000

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3
ECALL_CAUSE = {PRIV_U: 8, PRIV_S: 9, PRIV_M: 11}
ECALL, EBREAK, C_EBREAK = 0x00000073, 0x00100073, 0x9002
MRET, SRET, WFI = 0x30200073, 0x10200073, 0x10500073

CSR_MSTATUS, CSR_MTVEC, CSR_MSCRATCH, CSR_MEPC, CSR_MCAUSE, CSR_MTVAL = \
    0x300, 0x305, 0x340, 0x341, 0x342, 0x343
SYSTEM = 0x73
SP, T0, T1 = 2, 5, 6


# ------------------------------------------------------------------------- the handler

def csrrw(rd, csr, rs1):
    return i_type(SYSTEM, 1, rd, rs1, csr)


def csrr(rd, csr):
    return i_type(SYSTEM, 2, rd, 0, csr)


def handler_code() -> bytes:
    """The M-mode trap handler, one 32-bit instruction per line (offsets in comments)."""
    ld = lambda rd, off, rs1: i_type(rvgen.LOAD, 3, rd, rs1, off)       # noqa: E731
    sd = lambda rs2, off, rs1: s_type(rvgen.STORE, 3, rs1, rs2, off)    # noqa: E731
    addi = lambda rd, rs1, imm: i_type(rvgen.OP_IMM, 0, rd, rs1, imm)   # noqa: E731
    words = [
        csrrw(SP, CSR_MSCRATCH, SP),     # 0   sp <-> mscratch: our own save area
        sd(T0, 0, SP),                   # 1
        sd(T1, 8, SP),                   # 2
        ld(T0, 24, SP),                  # 3   t0 = log cursor
        csrr(T1, CSR_MEPC), sd(T1, 0, T0),     # 4, 5
        csrr(T1, CSR_MCAUSE), sd(T1, 8, T0),   # 6, 7
        csrr(T1, CSR_MTVAL), sd(T1, 16, T0),   # 8, 9
        addi(T0, T0, 24), sd(T0, 24, SP),      # 10, 11
        csrr(T0, CSR_MEPC),              # 12
        ld(T1, 32, SP),                  # 13  the sentinel ecall ends the batch ...
        b_type(0, T0, T1, (28 - 14) * 4),      # 14  beq -> 28 (exit)
        csrr(T1, CSR_MCAUSE),            # 15  an interrupt returns to the same instruction
        b_type(4, T1, 0, (24 - 16) * 4),       # 16  blt t1, x0 -> 24
        i_type(rvgen.LOAD, 5, T1, T0, 0),      # 17  lhu t1, 0(t0): low bits give the length
        i_type(rvgen.OP_IMM, 7, T1, T1, 3),    # 18  andi t1, t1, 3
        addi(T0, T0, 2),                 # 19
        addi(T1, T1, -3),                # 20
        b_type(1, T1, 0, 8),             # 21  bne t1, x0 -> 23 (16-bit instruction)
        addi(T0, T0, 2),                 # 22
        csrrw(0, CSR_MEPC, T0),          # 23
        ld(T0, 0, SP),                   # 24
        ld(T1, 8, SP),                   # 25
        csrrw(SP, CSR_MSCRATCH, SP),     # 26
        MRET,                            # 27
        j_type(0, 0),                    # 28  exit: j .  (a breakpoint stops the run here)
    ]
    return b"".join(w.to_bytes(4, "little") for w in words)


EXIT = HANDLER + 28 * 4


# ---------------------------------------------------------------- what the ISA promises

VALID_OPCODES = {0x03, 0x0F, 0x13, 0x17, 0x1B, 0x23, 0x2F, 0x33, 0x37, 0x3B, 0x63, 0x67, 0x6F,
                 0x73}
HANDLER_CSRS = {CSR_MSTATUS, 0x301, 0x302, 0x303, 0x304, CSR_MTVEC, 0x306, CSR_MSCRATCH,
                CSR_MEPC, CSR_MTVAL, 0x344, 0x100, 0x104, 0x105, 0x140, 0x141, 0x143, 0x144,
                0x180} | set(range(0x3A0, 0x3F0)) | set(range(0x7A0, 0x7B0))


def field(w, hi, lo):
    return (w >> lo) & ((1 << (hi - lo + 1)) - 1)


def csr_expectation(w: int, mode: int) -> str | None:
    """Zicsr access rules: CSR bits 9:8 give the lowest privilege; bits 11:10 == 3 read-only."""
    f3, csr, rs1 = field(w, 14, 12), field(w, 31, 20), field(w, 19, 15)
    writes = f3 in (1, 5) or rs1 != 0
    level = field(csr, 9, 8)
    if (1 if level == 2 else level) > mode or (writes and field(csr, 11, 10) == 3):  # H: 2 = HS
        return "illegal"
    return None


def expect32(w: int, mode: int) -> str | None:
    """'illegal', 'legal' (never traps) or None (depends on data) for a 32-bit word."""
    op, f3, f7 = w & 0x7F, field(w, 14, 12), field(w, 31, 25)
    if field(w, 4, 2) == 0b111:
        return None  # a 48-bit-or-longer prefix: what mtval holds is not pinned down
    if op not in VALID_OPCODES:
        return "illegal"
    if op == 0x33:
        return "legal" if f7 in (0, 1) or (f7 == 0x20 and f3 in (0, 5)) else "illegal"
    if op == 0x3B:
        ok = (f7 == 0 and f3 in (0, 1, 5)) or (f7 == 0x20 and f3 in (0, 5)) or \
             (f7 == 1 and f3 in (0, 4, 5, 6, 7))
        return "legal" if ok else "illegal"
    if op == 0x13:
        if f3 == 1:
            return "legal" if field(w, 31, 26) == 0 else "illegal"
        if f3 == 5:
            return "legal" if field(w, 31, 26) in (0, 0x10) else "illegal"
        return "legal"
    if op == 0x1B:
        if f3 == 0:
            return "legal"
        if f3 == 1:
            return "legal" if f7 == 0 else "illegal"
        if f3 == 5:
            return "legal" if f7 in (0, 0x20) else "illegal"
        return "illegal"
    if op == 0x37:
        return "legal"
    if op == 0x03 and f3 == 7 or op == 0x23 and f3 >= 4 or op == 0x2F and f3 not in (2, 3):
        return "illegal"
    if op == SYSTEM:
        if f3 == 4:                     # HLV/HLVX/HSV (hstatus.HU = 0: not from U-mode)
            return None if mode != PRIV_U and lookup(w, 4) is not None else "illegal"
        if f3 == 0:
            return None if w in (ECALL, EBREAK) else _privileged(w, mode)
        return csr_expectation(w, mode)
    return None


def _privileged(w: int, mode: int) -> str | None:
    """SYSTEM funct3=0 words other than ecall/ebreak: only a few exact encodings exist."""
    if field(w, 31, 25) in (0x09, 0x11, 0x31) and field(w, 11, 7) == 0:  # sfence.vma, HFENCEs
        return "illegal" if mode == PRIV_U else None
    if w in (SRET, WFI):
        return "illegal" if mode == PRIV_U else None
    if w == MRET:
        return "illegal" if mode != PRIV_M else None
    return "illegal"


def expect16(p: int) -> str | None:
    """Expectation for a 16-bit parcel (RV64C; F/D absent so their compressed forms are illegal)."""
    q, f3, rd = p & 3, field(p, 15, 13), field(p, 11, 7)
    if p == 0 or q == 0 and f3 == 0 and field(p, 12, 5) == 0:
        return "illegal"                                   # c.addi4spn with nzuimm = 0
    if q == 0:
        return "illegal" if f3 in (1, 4, 5) else None      # c.fld, reserved, c.fsd
    if q == 1:
        if f3 in (0, 2):
            return "legal"                                 # c.addi, c.li (HINTs included)
        if f3 == 1:
            return "illegal" if rd == 0 else "legal"       # c.addiw
        if f3 == 3:
            imm = field(p, 12, 12) << 5 | field(p, 6, 2)
            if imm == 0:
                return "illegal"                           # c.lui / c.addi16sp, nzimm = 0
            return "legal" if rd != 2 else None
        if f3 == 4:
            if field(p, 11, 10) == 3 and field(p, 12, 12) == 1 and field(p, 6, 5) >= 2:
                return "illegal"                           # reserved CA encodings
            return "legal"
        return None
    if f3 == 0:
        return "legal"                                     # c.slli (HINTs included)
    if f3 in (1, 5):
        return "illegal"                                   # c.fldsp, c.fsdsp
    if f3 in (2, 3) and rd == 0:
        return "illegal"                                   # c.lwsp / c.ldsp with rd = 0
    if f3 == 4:
        rs2, hi = field(p, 6, 2), field(p, 12, 12)
        if rs2 == 0 and rd == 0 and hi == 0:
            return "illegal"                               # c.jr x0
        if rs2 != 0:
            return "legal"                                 # c.mv, c.add
    return None


# ------------------------------------------------------------------- random programs

def is_control_flow32(w: int) -> bool:
    return w & 0x7F in (0x63, 0x67, 0x6F, 0x17)   # branches, jalr, jal -- and auipc (see doc)


def is_control_flow16(p: int) -> bool:
    q, f3 = p & 3, field(p, 15, 13)
    if q == 1 and f3 in (5, 6, 7):
        return True                                # c.j, c.beqz, c.bnez
    return q == 2 and f3 == 4 and field(p, 6, 2) == 0 and field(p, 11, 7) != 0   # c.jr/c.jalr


def touches_handler_state(w: int) -> bool:
    if w in (MRET, SRET, WFI, 0x7B200073):
        return True
    return w & 0x7F == SYSTEM and field(w, 14, 12) not in (0, 4) and field(w, 31, 20) in \
        HANDLER_CSRS


def straight_line(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    """``n`` random (word, size) instructions that neither jump nor disturb the handler."""
    out: list[tuple[int, int]] = []
    while len(out) < n:
        roll = rng.random()
        if roll < 0.002:
            out.append([(ECALL, 4), (EBREAK, 4), (C_EBREAK, 2), (0, 2)][rng.integers(4)])
        elif roll < 0.5:
            w = int(rng.integers(0, 1 << 32)) | 3
            if not (is_control_flow32(w) or touches_handler_state(w)):
                out.append((w, 4))
        else:
            p = int(rng.integers(0, 1 << 16))
            if p & 3 != 3 and not is_control_flow16(p):
                out.append((p, 2))
    return out


def encode(instrs: list[tuple[int, int]]) -> tuple[bytes, list[int]]:
    offsets, code = [], bytearray()
    for w, size in instrs:
        offsets.append(len(code))
        code += w.to_bytes(size, "little")
    return bytes(code), offsets


# ---------------------------------------------------------------------------- running

@pytest.fixture(scope="module")
def machine():
    from vmlab.machine import Machine
    m = Machine(ram_size=RAM_SIZE, harts=1)
    m.write_mem(LAUNCH, MRET.to_bytes(4, "little"))
    m.write_mem(HANDLER, handler_code())
    m.add_breakpoint(EXIT)
    return m


def start_batch(m, code: bytes, mode: int, rng: np.random.Generator) -> int:
    """Load a batch, reset the hart's trap state, and point it at LAUNCH in M-mode."""
    sentinel = REGION + len(code)
    m.write_mem(LAUNCH, MRET.to_bytes(4, "little"))
    m.write_mem(HANDLER, handler_code())
    m.write_mem(REGION, code + ECALL.to_bytes(4, "little"))
    m.write_mem(SCRATCH, struct.pack("<5Q", 0, 0, 0, LOG, sentinel))
    for i in range(1, 32):
        m.set_reg(i, int(rng.integers(0, 1 << 63)) * 2 + int(rng.integers(0, 2)))
    for name, value in (("mtvec", HANDLER), ("mscratch", SCRATCH), ("mepc", REGION),
                        ("mstatus", mode << 11), ("medeleg", 0), ("mideleg", 0), ("mie", 0),
                        ("satp", 0), ("mcounteren", 0), ("scounteren", 0),
                        ("pmpaddr0", (1 << 54) - 1), ("pmpcfg0", 0x1F)):
        m.set_csr(name, value)
    m.pc = LAUNCH
    return sentinel


def read_log(m) -> list[tuple[int, int, int]]:
    cursor = struct.unpack("<Q", m.read_mem(SCRATCH + 24, 8))[0]
    raw = m.read_mem(LOG, cursor - LOG)
    return [struct.unpack_from("<3Q", raw, k) for k in range(0, len(raw), 24)]


def check_batch(instrs, offsets, log, mode, sentinel) -> dict[int, int]:
    """Every promise of the module docstring, for one batch; returns trap counts by cause."""
    *traps, last = log
    assert last[0] == sentinel and last[1] == ECALL_CAUSE[mode], last
    index = {REGION + off: k for k, off in enumerate(offsets)}
    allowed = {2, 3, 4, 5, 6, 7, ECALL_CAUSE[mode]}
    trapped: dict[int, tuple[int, int]] = {}
    prev = -1
    for mepc, cause, tval in traps:
        assert mepc in index, f"trap at {mepc:#x}, not an instruction boundary"
        assert mepc > prev, "an instruction trapped twice, or execution went backwards"
        prev = mepc
        assert cause in allowed, f"cause {cause:#x} (mtval {tval:#x}) in mode {mode} at {mepc:#x}"
        trapped[index[mepc]] = (cause, tval)
    counts: dict[int, int] = {}
    for k, (w, size) in enumerate(instrs):
        want = expect32(w, mode) if size == 4 else expect16(w)
        got = trapped.get(k)
        if got:
            counts[got[0]] = counts.get(got[0], 0) + 1
        text = f"{w:0{size * 2}x} in mode {mode}"
        if want == "illegal":
            assert got is not None and got[0] == 2, f"{text} must be illegal, got {got}"
        elif want == "legal":
            assert got is None, f"{text} must not trap, got {got}"
        if got and got[0] == 2 and field(w, 4, 2) != 0b111:
            assert got[1] == w, f"{text}: mtval {got[1]:#x} is not the instruction"
        if got and got[0] in (8, 9, 11):
            assert w == ECALL, f"{text}: ecall cause for a non-ecall"
        if got and got[0] == 3:
            assert w in (EBREAK, C_EBREAK), f"{text}: breakpoint cause for a non-ebreak"
    return counts


@pytest.mark.parametrize("mode", [PRIV_M, PRIV_S, PRIV_U], ids=["M", "S", "U"])
def test_random_words_trap_precisely(machine, mode):
    rng = np.random.default_rng(1000 + mode)
    total: dict[int, int] = {}
    for _ in range(BATCHES_PER_MODE):
        instrs = straight_line(rng, BATCH)
        code, offsets = encode(instrs)
        sentinel = start_batch(machine, code, mode, rng)
        r = machine.run(instructions=BATCH * 64)
        assert (r.reason, machine.pc) == ("breakpoint", EXIT), (r.reason, hex(machine.pc))
        for cause, n in check_batch(instrs, offsets, read_log(machine), mode, sentinel).items():
            total[cause] = total.get(cause, 0) + n
    assert total.get(2, 0) > BATCH, "random words are mostly illegal: the decoder is too lax"
    assert total.get(ECALL_CAUSE[mode], 0) > 0 and total.get(3, 0) > 0


def test_wild_words_end_in_a_defined_state():
    """Unfiltered words: jumps anywhere, CSR writes, stores to devices.  Every run must end."""
    from vmlab.machine import Machine
    rng = np.random.default_rng(7)
    reasons = set()
    for b in range(WILD_BATCHES):
        m = Machine(ram_size=RAM_SIZE, harts=1)
        m.write_mem(LAUNCH, MRET.to_bytes(4, "little"))
        m.write_mem(HANDLER, handler_code())
        m.add_breakpoint(EXIT)
        words = rng.integers(0, 1 << 32, WILD_WORDS, dtype=np.uint64).astype("<u4").tobytes()
        start_batch(m, words, [PRIV_M, PRIV_S, PRIV_U][b % 3], rng)
        r = m.run(instructions=200_000)
        assert r.reason in ("budget", "breakpoint", "halt"), r.reason
        reasons.add(r.reason)
        m.pc  # the machine still answers
        if r.reason != "halt":
            again = m.run(instructions=1000)
            assert again.reason in ("budget", "breakpoint", "halt")
    assert reasons
