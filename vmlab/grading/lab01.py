"""The graded exercises of lab 01 (the machine and its traps).

1. ``factorial`` (warm-up): ``a0 = a0! mod M`` in at most 256 bytes, M a prime of the
   student's own; 0! is always tested, hidden n up to 3000.
2. ``emulate_m`` (the main one): on a hart *without* the M extension (misa.M clear, so
   ``mul``/``div``/... are illegal instructions), write the M-mode trap handler that
   emulates one M instruction -- each student gets their own -- so that the interrupted
   program cannot tell: decode the instruction from ``mtval``, compute the result with
   RV64I alone, write ``rd`` (never x0), leave every other register as it was, and return
   past the instruction (2 or 4 bytes: ``mtval``'s low bits say which).  The grader runs
   the handler on hidden operands, edge cases of the spec's table included (division by
   zero, INT_MIN / -1, the W forms' 32-bit cases).
"""
from __future__ import annotations

import base64
import math

from vmlab.grading.checkers import AsmProgram, unusable
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.isa.instructions import BY_MNEMONIC

lab01 = Assignment("lab01", title="Lab 01 -- the machine")

MASK64, MASK32 = (1 << 64) - 1, (1 << 32) - 1
INT64_MIN, INT32_MIN = 1 << 63, 1 << 31


# ---- 1. n! mod a prime (warm-up) ----------------------------------------------------------------
def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _factorial_cases(params, rng):
    """0! (the edge case), the student's own n, then hidden n up to 3000.  (Not 1!: a
    program that does nothing would pass it, a0 = 1 being its own answer.)"""
    visible = [0, params["n"]]
    hidden = [rng.randrange(2, 3000) for _ in range(3)]
    return ([Case({"regs": {"a0": n}}, label=f"a0 = {n}") for n in visible]
            + [Case({"regs": {"a0": n}}, True, f"hidden case {i + 1}") for i, n in enumerate(hidden)])


def _factorial_expect(params, inputs):
    n, m = inputs["regs"]["a0"], params["modulus"]
    result = 1
    for k in range(2, n + 1):
        result = result * k % m
    return {"a0": result % m}


@lab01.exercise(points=6, checker=AsmProgram("answer", _factorial_cases, _factorial_expect,
                                             budget=200_000, max_size=256),
                prompt="Write a program that computes **`a0 = a0! mod {modulus}`** (so 0! = 1) "
                       "and then executes `ecall`. It is tested with `a0` = 0, {n} and with "
                       "hidden values up to 3000, and must fit in 256 bytes. Multiply step by step "
                       "and reduce with `remu` after each step, so nothing overflows.")
def factorial(rng):
    modulus = rng.randrange(1_000_003, 1 << 31, 2)
    while not is_prime(modulus):
        modulus += 2
    return {"modulus": modulus, "n": rng.randrange(5, 21)}


# ---- 2. emulate an M instruction in a trap handler ------------------------------------------------
M_OPS = ("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
         "mulw", "divw", "divuw", "remw", "remuw")


def _s64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v & INT64_MIN else v


def _s32(v: int) -> int:
    v &= MASK32
    return v - (1 << 32) if v & INT32_MIN else v


def _quot(a: int, b: int) -> int:
    """Division rounding toward zero, as RISC-V's div does (Python's // rounds down)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _divide(op: str, a: int, b: int) -> int:
    """div/divu/rem/remu on Python ints (already sign- or zero-extended), with the spec's
    table: x / 0 = all ones and x % 0 = x; the one overflow (MIN / -1) gives MIN, rem 0."""
    if b == 0:
        return -1 if op.startswith("div") else a
    q = _quot(a, b)
    return q if op.startswith("div") else a - b * q


def m_result(op: str, a: int, b: int) -> int:
    """What ``op rd, rs1, rs2`` writes to rd for rs1 = a, rs2 = b (64-bit patterns), per
    the unprivileged spec's M chapter -- the grader's reference."""
    a, b = a & MASK64, b & MASK64
    if op == "mul":
        r = a * b
    elif op in ("mulh", "mulhsu", "mulhu"):
        x = a if op == "mulhu" else _s64(a)
        y = _s64(b) if op == "mulh" else b
        r = (x * y) >> 64
    elif op == "mulw":
        r = _s32(a * b)
    elif op.endswith("w"):          # divw divuw remw remuw: 32-bit operands
        signed = op in ("divw", "remw")
        x, y = (_s32(a), _s32(b)) if signed else (a & MASK32, b & MASK32)
        r = _s32(_divide(op[:-1], x, y))
    else:
        signed = op in ("div", "rem")
        x, y = (_s64(a), _s64(b)) if signed else (a, b)
        r = _divide(op, x, y)
    return r & MASK64


def m_word(op: str, rd: int, rs1: int, rs2: int) -> int:
    """The instruction's 32 bits, from its row in vmlab.isa (the one encoding table)."""
    return BY_MNEMONIC[op].match | (rd << 7) | (rs1 << 15) | (rs2 << 20)


#: reserved 16-bit encodings (illegal on every RV64C hart): c.unimp, c.lui ra, 0, c.addi16sp 0
ILLEGAL_16 = (0x0000, 0x6081, 0x6101)
#: where the grader puts the instruction that traps (the handler sits at the start of RAM)
TEST_PC = 0x8010_0000
HANDLER_BUDGET = 100_000
EDGE_VALUES = (0, 1, MASK64, INT64_MIN, INT64_MIN - 1, INT32_MIN, MASK32, INT32_MIN - 1,
               MASK64 ^ (INT32_MIN - 1))


def _operand(rng) -> int:
    """A mix the spec's corner cases hide in: edges, small numbers of either sign, any."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(EDGE_VALUES)
    if kind == 1:
        return rng.randrange(-1000, 1000) & MASK64
    if kind == 2:
        return rng.randrange(1 << 32)
    return rng.randrange(1 << 64)


def _edge_pairs(op: str) -> list[tuple[int, int]]:
    """The spec table's rows for this instruction: by zero, the signed overflow, the
    largest products."""
    if op.startswith(("div", "rem")):
        low = MASK32 if op.endswith("w") else MASK64
        smallest = INT32_MIN if op.endswith("w") else INT64_MIN
        return [(-12345 & MASK64, 0), (smallest | (MASK64 ^ low), MASK64), (MASK64, 7), (12345, 0)]
    return [(MASK64, MASK64), (INT64_MIN, INT64_MIN), (INT64_MIN, MASK64)]


def _regs(rng) -> dict:
    """Every register x1..x31 holds something: a handler that clobbers one is seen."""
    return {i: rng.randrange(1 << 64) for i in range(1, 32)}


def _case(op, rng, rd, rs1, rs2, a, b, hidden=False, label="") -> Case:
    regs = _regs(rng)
    regs[rs1], regs[rs2] = a & MASK64, b & MASK64
    if rs1 == rs2:
        regs[rs1] = a & MASK64
    word = m_word(op, rd, rs1, rs2)
    label = label or f"{op} x{rd}, x{rs1}, x{rs2}"
    return Case({"word": word, "length": 4, "regs": regs}, hidden, label)


def _emulate_cases(params, rng):
    """Visible: the student's example, rd = rs1, rd = x0, a compressed illegal instruction,
    the first edge case.  Hidden: the other edge cases and random operands/registers (sp and
    t0 among them: a handler must not trust the interrupted program's stack)."""
    op, (a, b) = params["op"], params["example"]
    edges = _edge_pairs(op)
    visible = [_case(op, rng, 10, 11, 12, a, b, label=f"{op} a0, a1, a2 with a1 = {a:#x}, a2 = {b:#x}"),
               _case(op, rng, 5, 5, 2, b, a, label=f"{op} t0, t0, sp (rd = rs1)"),
               _case(op, rng, 0, 11, 12, a, b, label=f"{op} zero, a1, a2 (rd = x0: the result is dropped)"),
               Case({"word": 0x0000, "length": 2, "regs": _regs(rng)}, False,
                    "a 16-bit illegal instruction (0x0000): not yours, skip its 2 bytes"),
               _case(op, rng, 10, 11, 12, *edges[0], label=f"{op} a0, a1, a2 with a1 = {edges[0][0]:#x}, a2 = {edges[0][1]:#x}")]
    hidden = [_case(op, rng, rng.randrange(1, 32), rng.randrange(32), rng.randrange(32), x, y, True)
              for x, y in edges[1:]]
    hidden += [_case(op, rng, rng.randrange(32), rng.randrange(32), rng.randrange(32),
                     _operand(rng), _operand(rng), True) for _ in range(8)]
    hidden.append(Case({"word": rng.choice(ILLEGAL_16[1:]), "length": 2, "regs": _regs(rng)}, True))
    for i, c in enumerate(hidden):
        c.label = f"hidden case {i + 1}"
    return visible + hidden


def expected_regs(op: str, inputs: dict) -> dict:
    """The registers after the trapping instruction, as a hart with M would leave them."""
    regs, word = dict(inputs["regs"]), inputs["word"]
    if inputs["length"] == 4:
        rd, rs1, rs2 = (word >> 7) & 31, (word >> 15) & 31, (word >> 20) & 31
        value = m_result(op, regs.get(rs1, 0) if rs1 else 0, regs.get(rs2, 0) if rs2 else 0)
        if rd:
            regs[rd] = value
    return regs


class TrapHandler:
    """Grade an M-mode trap handler on a hart without M: for each case, the handler (the
    student's program, its entry point in mtvec) is loaded on a fresh board, the case's
    registers are set, and the hart runs the one instruction at TEST_PC; it must come back
    to the instruction after it with every register as a hart with M would leave it."""

    def __init__(self, name: str, cases, max_size: int = 4096):
        self.name, self._cases, self.max_size = name, cases, max_size

    def cases(self, params, hidden_rng):
        return self._cases(params, hidden_rng)

    def requests(self, params, cases):
        return {"program": {"kind": "program", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("program")
        failed = unusable(art, f"program `{self.name}`", cases)
        if failed:
            return failed
        if art["size"] > self.max_size:
            return [Line(False, f"size: {art['size']} bytes (the limit is {self.max_size})",
                         weight=len(cases) or 1)]
        from vmlab.machine import Machine
        machine = Machine(ram_size=4 << 20, m_extension=False)
        return [self._run_case(machine, art, params["op"], c) for c in cases]

    def _run_case(self, m, art, op, case) -> Line:
        try:
            run_handler(m, base64.b64decode(art["elf"]), int(art["entry"]), case.inputs)
        except Exception as exc:        # an ELF that doesn't load is the student's answer, wrong
            return Line(False, f"{case.label}: the program could not be loaded ({exc})", hidden=case.hidden)
        return verdict(m, op, case)


def run_handler(m, elf: bytes, entry: int, inputs: dict):
    """Reset the board, load the handler, put the instruction at TEST_PC and run it."""
    m.reset()
    m.mem[:] = 0
    m.load_elf(elf)
    m.set_csr("mtvec", entry & ~3)
    word, length = inputs["word"], inputs["length"]
    m.write_mem(TEST_PC, word.to_bytes(4, "little")[:length])
    for i, v in inputs["regs"].items():
        m.set_reg(int(i), v)
    m.pc = TEST_PC
    for bp in (TEST_PC + 2, TEST_PC + 4):
        m.add_breakpoint(bp)
    try:
        return m.run(HANDLER_BUDGET)
    finally:
        for bp in (TEST_PC + 2, TEST_PC + 4):
            m.remove_breakpoint(bp)


def verdict(m, op: str, case) -> Line:
    """Where the hart came back to, and which registers differ (by name, not by value for
    hidden cases: the redaction keeps only the text before the first colon)."""
    where, length = case.label, case.inputs["length"]
    if m.pc != TEST_PC + length:
        what = ("never came back to the program" if m.pc not in (TEST_PC + 2, TEST_PC + 4)
                else f"came back {m.pc - TEST_PC} bytes after the instruction, not {length}")
        return Line(False, f"{where}: {what} (pc = {m.pc:#x}, mepc = {m.csr('mepc'):#x})", hidden=case.hidden)
    want = expected_regs(op, case.inputs)
    wrong = [i for i in range(1, 32) if m.reg(i) != want[i]]
    if wrong:
        from vmlab.notebook.session import ABI_NAMES
        names = ", ".join(f"{ABI_NAMES[i]} = {m.reg(i):#x}" for i in wrong[:3])
        return Line(False, f"{where}: wrong afterwards: {names}", hidden=case.hidden)
    return Line(True, f"{where}: right, and every other register intact", hidden=case.hidden)


@lab01.exercise(points=10, checker=TrapHandler("handler", _emulate_cases), title="emulate an M instruction",
                prompt="Your hart has **no M extension**: `{op}` is an illegal instruction. "
                       "Write, in `%%asm handler --no-load`, the M-mode trap handler (the "
                       "program's entry point goes into `mtvec`) that **emulates `{op}`** so the "
                       "interrupted program cannot tell: decode `rd`, `rs1`, `rs2` from `mtval`, "
                       "compute what `{op}` gives (RV64I only: no `mul`, no `div`), write `rd` "
                       "(`x0` stays 0), leave every other register as it was, and return past the "
                       "instruction. Any other illegal instruction -- a 16-bit one, say -- is "
                       "skipped: no register changes, `mepc` moves past its 2 or 4 bytes. "
                       "`sp` may hold anything: keep your save area in your program. Try "
                       "`{op} a0, a1, a2` with a1 = `{example[0]:#x}`, a2 = `{example[1]:#x}`. "
                       "Hidden tests use other registers and the spec's edge cases.")
def emulate_m(rng):
    op = rng.choice(M_OPS)
    return {"op": op, "example": (rng.randrange(2, 1 << 20), rng.randrange(2, 1 << 12))}
