"""Lab 08: reflection and SBI graded by booting teachos with the student's code (and by
lockstep programs and probe guests), the red pill by running it bare and as a guest."""
from __future__ import annotations

import pytest

from vmlab.grading import lab08 as l8
from vmlab.grading.artifacts import collect_one
from vmlab.grading.labs import ASSIGNMENTS

SIE, SPIE, SPP = 1 << 1, 1 << 5, 1 << 8


def grade(exercise: str, namespace: dict, student: str = "ada"):
    ex = l8.lab08.exercises[exercise]
    params = ex.params(student)
    cases = ex.cases(student, params, hidden=True, secret="s3cret")
    arts = {key: collect_one(spec, namespace) for key, spec in ex.requests(params, cases).items()}
    return ex.check(arts, params, cases)


def test_lab08_is_in_the_course_with_three_exercises():
    assert ASSIGNMENTS["lab08"] is l8.lab08
    assert list(l8.lab08.exercises) == ["reflection", "sbi_firmware", "red_pill"]


# ---- reflection --------------------------------------------------------------------------------
def no_spp(hart, cause, tval):
    """Forgets SPP: a trap from the kernel looks like one from user mode."""
    l8.reference_reflect(hart, cause, tval)
    hart["mstatus"] = hart["mstatus"] & ~SPP


def keeps_mode_bits(hart, cause, tval):
    """Jumps to stvec as it is, mode bits and all."""
    l8.reference_reflect(hart, cause, tval)
    if hart.priv == 1:
        hart.pc = hart["stvec"]


def test_a_correct_reflection_gets_full_marks():
    out = grade("reflection", {"reflect": l8.reference_reflect})
    assert out.score == out.points, out.feedback()
    assert "teachos: the same console" in out.lines[0].text


@pytest.mark.parametrize("wrong", [no_spp, keeps_mode_bits])
def test_a_subtly_wrong_reflection_loses_points(wrong):
    out = grade("reflection", {"reflect": wrong})
    assert out.score < out.points, out.feedback()


def test_a_reflection_that_does_nothing_scores_nothing():
    out = grade("reflection", {"reflect": lambda hart, cause, tval: None})
    assert out.score == 0
    assert "console differs from the reference at line" in out.lines[0].text


def test_a_missing_reflection_says_so():
    out = grade("reflection", {})
    assert out.score == 0 and "`reflect` is not defined" in out.lines[0].text


# ---- SBI ---------------------------------------------------------------------------------------
def firmware(student: str = "ada", **changes):
    params = dict(l8.lab08.exercises["sbi_firmware"].params(student), **changes)
    return l8.reference_sbi(params)


def test_a_correct_firmware_gets_full_marks_and_teachos_prints_through_it():
    out = grade("sbi_firmware", {"sbi_call": firmware()})
    assert out.score == out.points, out.feedback()


def test_a_firmware_that_claims_every_extension_loses_points():
    right = firmware()

    def boastful(hart, eid, fid, args):
        if (eid, fid) == (l8.EXT_BASE, 3):
            return 0, 1
        return right(hart, eid, fid, args)
    out = grade("sbi_firmware", {"sbi_call": boastful})
    assert 0 < out.score < out.points, out.feedback()
    probe = out.lines[1].text
    assert "eid 0x10, fid 3" in probe and "expected" not in probe     # where, not what


def test_another_students_ids_are_wrong_for_this_student():
    out = grade("sbi_firmware", {"sbi_call": firmware("bob")})
    assert out.score < out.points
    assert "eid 0x10, fid 1" in " ".join(out.feedback()) or "eid 0x10, fid 2" in " ".join(out.feedback())


def test_a_firmware_without_a_timer_fails_teachos():
    right = firmware()

    def no_timer(hart, eid, fid, args):
        if eid == l8.EXT_TIME:
            return 0, 0
        return right(hart, eid, fid, args)
    out = grade("sbi_firmware", {"sbi_call": no_timer})
    assert not out.lines[0].ok and "teachos" in out.lines[0].text


def test_an_sbi_call_that_returns_garbage_is_named():
    out = grade("sbi_firmware", {"sbi_call": lambda hart, eid, fid, args: "ok"})
    assert out.score == 0 and "<lambda> returned 'ok'" in out.lines[0].text


# ---- the red pill ------------------------------------------------------------------------------
def pill(bare: int, virtual: int, threshold: int = 32) -> str:
    return f"""
_start: rdtime  t0
        li      t2, 64
1:      csrr    t1, sscratch
        addi    t2, t2, -1
        bnez    t2, 1b
        rdtime  t1
        sub     t0, t1, t0
        li      a0, {bare}
        li      t2, {threshold}
        bltu    t0, t2, 2f
        li      a0, {virtual}
2:      ecall
"""


def test_a_timing_red_pill_gets_full_marks():
    p = l8.lab08.exercises["red_pill"].params("ada")
    out = grade("red_pill", {"red_pill": pill(p["bare"], p["virtual"])})
    assert out.score == out.points, out.feedback()
    assert len(out.lines) == 6


def test_a_red_pill_with_a_threshold_past_the_exit_cost_loses_the_guest_runs():
    p = l8.lab08.exercises["red_pill"].params("ada")
    out = grade("red_pill", {"red_pill": pill(p["bare"], p["virtual"], threshold=5000)})
    assert out.score == out.points / 2
    assert "thinks it runs bare" in out.lines[3].text


def test_a_red_pill_that_counts_on_zeroed_registers_fails_somewhere():
    """Loop on t2 without setting it: any leftover value makes the loop a lottery."""
    p = l8.lab08.exercises["red_pill"].params("ada")
    sloppy = pill(p["bare"], p["virtual"]).replace("li      t2, 64\n", "")
    out = grade("red_pill", {"red_pill": sloppy})
    assert out.score < out.points


def test_students_get_different_red_pill_answers():
    ex = l8.lab08.exercises["red_pill"]
    a, b = ex.params("ada"), ex.params("bob")
    assert a != b and a["bare"] != a["virtual"]
