"""Lab 01's main exercise: an M-mode handler that emulates an M instruction on a hart without M.

The oracles: QEMU with its M extension (``-cpu rv64``) computes the spec's results for the
grader's reference ``m_result``; QEMU *without* M (``-cpu rv64,m=false``) traps on the same
words with ``mtval`` holding their bits, so the lab's reference handler (the solution cell of
the notebook) runs there too and must give the same registers; vmlab's board without M
(``Machine(m_extension=False)``) must trap exactly where QEMU does and, with the handler,
leave the same registers.  Then the exercise: the reference handler gets full marks for every
instruction, handlers that are subtly wrong lose points, two students get different ones.
"""
from __future__ import annotations

import random
import re
import subprocess

import nbformat
import pytest

from grading_support import ROOT
from oracles import PRINT_WORDS_AND_EXIT, need_tool, qemu_words
from vmlab.asm import assemble
from vmlab.grading.artifacts import program
from vmlab.grading.lab01 import (
    ILLEGAL_16, INT64_MIN, M_OPS, MASK64, TEST_PC, _edge_pairs, expected_regs,
    lab01, m_result, m_word, run_handler,
)

LAB = ROOT / "labs" / "01-the-machine.ipynb"


def reference_handler() -> str:
    """The solution cell of lab 01 (``%%asm handler``), which `vmlab assign` strips."""
    for cell in nbformat.read(LAB, 4).cells:
        if cell.cell_type == "code" and cell.source.startswith("%%asm handler"):
            return cell.source.split("\n", 1)[1]
    raise AssertionError("lab 01 has no %%asm handler cell")


def random_cases(rng, n_per_op=6):
    """(word, length, regs) for every M instruction: its edge cases, random operands, and
    the 16-bit illegal instructions the handler must skip."""
    cases = []
    for op in M_OPS:
        pairs = _edge_pairs(op) + [(rng.randrange(1 << 64), rng.randrange(1 << 64)) for _ in range(n_per_op)]
        pairs += [(rng.randrange(-99, 99) & MASK64, rng.randrange(-9, 9) & MASK64) for _ in range(2)]
        for a, b in pairs:
            rd, rs1, rs2 = rng.randrange(32), rng.randrange(1, 32), rng.randrange(1, 32)
            regs = {i: rng.randrange(1 << 64) for i in range(1, 32)}
            regs[rs1], regs[rs2] = a, b
            cases.append((op, m_word(op, rd, rs1, rs2), 4, regs))
    for h in ILLEGAL_16:
        cases.append((None, h, 2, {i: rng.randrange(1 << 64) for i in range(1, 32)}))
    return cases


# ---- the spec's results, from QEMU ------------------------------------------------------------
def harness(handler: str, cases) -> str:
    """GNU-as source: for each case, load x1..x31, the instruction, store x1..x31; at the end
    print every stored word on the UART; the handler after it (mtvec).  The code starts at
    0x8000_0000, where QEMU's -bios none starts the hart."""
    text = ["    .option norelax", "    .globl main", "main:", "    la t0, _start", "    csrw mtvec, t0"]
    data = ["    .data", "    .balign 8"]
    for i, (_, word, length, regs) in enumerate(cases):
        text += [f"    la t6, in_{i}"] + [f"    ld x{r}, {8 * r}(t6)" for r in range(1, 32)]
        text.append(f"    .word {word:#010x}" if length == 4 else f"    .half {word:#06x}")
        text += ["    csrw mscratch, t6", f"    la t6, out_{i}"]
        text += [f"    sd x{r}, {8 * r}(t6)" for r in range(1, 31)]
        text += ["    csrr x1, mscratch", "    sd x1, 248(t6)"]
        data += [f"in_{i}:"] + [f"    .dword {regs.get(r, 0):#x}" for r in range(32)]
    data += [f"out_{i}:\n    .zero 256" for i in range(len(cases))]
    text += [PRINT_WORDS_AND_EXIT.format(count=32 * len(cases)), "    .balign 4", handler]
    return "\n".join(text + data) + "\n"




def build(tmp_path, source: str):
    gas = need_tool("riscv64-unknown-elf-as", "binutils-riscv64-unknown-elf")
    ld = need_tool("riscv64-unknown-elf-ld", "binutils-riscv64-unknown-elf")
    (tmp_path / "h.s").write_text(source)
    subprocess.run([gas, "-march=rv64imac_zicsr", "-o", tmp_path / "h.o", tmp_path / "h.s"], check=True)
    subprocess.run([ld, "-N", "-Ttext=0x80000000", "-e", "main", "-o", tmp_path / "h.elf", tmp_path / "h.o"],
                   check=True)
    return tmp_path / "h.elf"


def run_qemu(elf, cases, m: bool):
    words = qemu_words(elf, f"rv64,m={'true' if m else 'false'}", timeout=120)
    assert len(words) == 32 * len(cases), words[-8:]
    return [words[32 * i:32 * i + 32] for i in range(len(cases))]


def expected(case) -> list[int]:
    op, word, length, regs = case
    want = expected_regs(op or "mul", {"word": word, "length": length, "regs": regs})
    return [0] + [want[r] for r in range(1, 32)]


@pytest.fixture(scope="module")
def qemu_runs(tmp_path_factory):
    cases = random_cases(random.Random(18))
    elf = build(tmp_path_factory.mktemp("m"), harness(reference_handler(), cases))
    return cases, elf, run_qemu(elf, cases, m=True), run_qemu(elf, cases, m=False)


def test_the_graders_reference_is_what_qemu_computes_with_m(qemu_runs):
    cases, _, with_m, _ = qemu_runs
    m_cases = [(c, q) for c, q in zip(cases, with_m) if c[2] == 4]
    bad = [c[0] for c, q in m_cases if q[1:] != expected(c)[1:]]
    assert len(m_cases) > 100 and not bad, bad[:5]


def test_the_reference_handler_on_qemu_without_m_leaves_what_m_would(qemu_runs):
    cases, _, _, without_m = qemu_runs
    bad = [(c[0], hex(c[1])) for c, q in zip(cases, without_m) if q[1:] != expected(c)[1:]]
    assert not bad, bad[:5]


def test_vmlab_without_m_traps_like_qemu_and_runs_the_handler_alike(qemu_runs, tmp_path):
    """The same GNU-built ELF on vmlab's board without M: the same registers as QEMU."""
    from vmlab.machine import Machine
    cases, elf, _, without_m = qemu_runs
    m = Machine(ram_size=64 << 20, m_extension=False)
    m.pc = m.load_elf(elf.read_bytes())
    assert m.run(50_000_000).reason == "halt"
    words = [int(w, 16) for w in m.console_output.split()]
    assert [words[32 * i:32 * i + 32] for i in range(len(cases))] == without_m
    assert not m.csr("misa") >> 12 & 1 and Machine(ram_size=1 << 20).csr("misa") >> 12 & 1


def test_without_m_the_trap_reports_the_instruction_in_mtval():
    from vmlab.machine import Machine
    prog = assemble("_start: mul a2, a0, a1\n        divuw a3, a0, a1\n", 0x8000_0000)
    for mext, cause in ((True, None), (False, 2)):
        m = Machine(ram_size=1 << 20, m_extension=mext)
        m.load_elf(prog.elf)
        m.set_csr("mtvec", 0x8000_0100)
        m.add_breakpoint(0x8000_0100)
        m.set_reg("a0", 7)
        m.set_reg("a1", 6)
        m.pc = prog.entry
        m.run(10)
        if cause is None:
            assert m.reg("a2") == 42 and m.reg("a3") == 1
        else:
            assert m.csr("mcause") == cause and m.csr("mepc") == 0x8000_0000
            assert m.csr("mtval") == m_word("mul", 12, 10, 11) and m.reg("a2") == 0


# ---- the exercise --------------------------------------------------------------------------------
ex = lab01.exercises["emulate_m"]


def grade(student: str, source: str, secret: str = "s"):
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True, secret=secret)
    return ex.check({"program": program(source)}, p, cases)


def test_the_reference_handler_gets_full_marks_whatever_the_instruction():
    seen = set()
    for student in (f"student{i}" for i in range(60)):
        seen.add(ex.params(student)["op"])
        if len(seen) > 6:
            break
    students = {ex.params(f"student{i}")["op"]: f"student{i}" for i in range(60)}
    for op, student in sorted(students.items())[:5]:
        out = grade(student, reference_handler())
        assert out.passed and out.score == ex.points, (op, out.feedback())


def test_two_students_get_different_instructions_or_examples():
    a, b = ex.params("alice"), ex.params("bob")
    assert a != b and ex.params("alice") == a
    assert len({ex.params(f"s{i}")["op"] for i in range(40)}) >= 8


def _student_with(pred):
    return next(f"s{i}" for i in range(200) if pred(ex.params(f"s{i}")["op"]))


def test_always_plus_four_loses_the_16_bit_case():
    """The +4 of a handler written for 4-byte instructions only: wrong with RVC."""
    student = _student_with(lambda op: op.startswith("mul"))
    wrong = reference_handler().replace("        li      s1, 2\n", "        li      s1, 4\n")
    assert wrong != reference_handler()
    out = grade(student, wrong)
    assert 0 < out.score < ex.points
    bad = [line.text for line in out.lines if not line.ok]
    assert any("16-bit" in t and "came back 4 bytes" in t for t in bad), bad


def test_division_by_zero_forgotten_loses_points_without_giving_the_answer():
    student = _student_with(lambda op: op in ("div", "rem", "divw", "remw"))
    wrong = reference_handler().replace("        bnez    a1, 1f", "        j       1f")
    out = grade(student, wrong)
    assert 0 < out.score < ex.points
    text = "\n".join(out.feedback())
    assert "not correct" in text or "wrong afterwards" in text
    for line in out.lines:
        if line.hidden:
            assert ":" not in line.text.split(": ", 1)[1]      # hidden: no value shown


def test_a_handler_that_forgets_to_restore_one_register_fails():
    student = _student_with(lambda op: True)
    clobber = reference_handler().replace("        ld      x7, 56(t0)\n", "")
    assert clobber != reference_handler()
    out = grade(student, clobber)
    assert not out.passed and any("t2 = " in line.text for line in out.lines if not line.hidden)


def test_the_untouched_stub_and_a_plain_mret_score_nothing():
    student = "alice"
    stub = "_start:\n        # your code here\n        mret\n"
    out = grade(student, stub)
    assert out.score == 0
    assert grade(student, "_start:\n        j _start\n").score == 0


def test_feedback_on_a_visible_case_names_the_register_not_the_expected_value():
    student = _student_with(lambda op: True)
    p = ex.params(student)
    wrong = reference_handler().replace("        sd      a0, 0(t1)\n", "        sd      zero, 0(t1)\n")
    out = ex.check({"program": program(wrong)}, p, ex.cases(student, p, hidden=False))
    bad = [line.text for line in out.lines if not line.ok]
    assert bad and all("expected" not in t for t in bad) and "a0 = 0x0" in bad[0]


def test_the_edge_rows_of_the_spec_table():
    assert m_result("div", 5, 0) == MASK64 and m_result("rem", 5, 0) == 5
    assert m_result("div", INT64_MIN, MASK64) == INT64_MIN and m_result("rem", INT64_MIN, MASK64) == 0
    assert m_result("divw", 0x8000_0000, MASK64) == 0xFFFF_FFFF_8000_0000
    assert m_result("remuw", 0x1_8000_0000, 0) == 0xFFFF_FFFF_8000_0000
    assert m_result("mulhsu", MASK64, 2) == MASK64 and m_result("mulhu", MASK64, 2) == 1


def test_hidden_cases_need_the_secret():
    p = ex.params("alice")
    one = [c.inputs for c in ex.cases("alice", p, hidden=True, secret="one") if c.hidden]
    two = [c.inputs for c in ex.cases("alice", p, hidden=True, secret="two") if c.hidden]
    assert one and one != two


def test_run_handler_places_the_instruction_where_the_grader_says():
    from vmlab.machine import Machine
    m = Machine(ram_size=4 << 20, m_extension=False)
    elf = assemble(reference_handler(), 0x8000_0000).elf
    regs = {i: i * 3 for i in range(1, 32)}
    run_handler(m, elf, 0x8000_0000, {"word": m_word("divu", 10, 11, 12), "length": 4, "regs": regs})
    assert m.pc == TEST_PC + 4 and m.reg("a0") == 33 // 36
    assert re.fullmatch(r"0x[0-9a-f]+", hex(m.csr("mepc")))
