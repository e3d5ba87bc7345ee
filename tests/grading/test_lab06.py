"""Lab 06's exercises against the instructor's solutions: right ones get full marks, subtly
wrong ones lose points with feedback that names no expected value, students differ.  The
expected values come from the machine itself: its MMU's count of walk references, a guest
run in VS-mode on the reference G-stage fill, the nanobenchmarks measured under each
technique."""
import random

import pytest

import lab06_solutions as S
from vmlab.grading import lab06_run as R
from vmlab.grading.artifacts import collect_one
from vmlab.grading.lab06 import lab06, prices


def grade(name, student, namespace, hidden=True):
    ex = lab06.exercises[name]
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=hidden, secret="s")
    arts = {k: collect_one(spec, namespace) for k, spec in ex.requests(p, cases).items()}
    return ex.check(arts, p, cases)


def test_students_get_different_instances():
    for name, ex in lab06.exercises.items():
        assert ex.params("ana") != ex.params("ben"), name
        assert ex.params("ana") == ex.params("ana"), name


@pytest.mark.parametrize("v, gt, gd", [(0, 0, 0), (0, 2, 0), (2, 2, 2), (1, 1, 1), (0, 1, 2),
                                       (2, 0, 1)])
def test_the_mmu_counts_what_the_two_stage_walk_costs(v, gt, gd):
    """(VS levels) x (G levels over the tables + 1) + G levels over the data, per walk: 15 for
    4 KiB everywhere; a repeated page hits the TLB; a page 64 pages on evicts the first."""
    per_walk = (3 - v) * (3 - gt + 1) + (3 - gd)
    one = R.count_walk_refs(v, gt, gd, [R.DATA_GVA + 8])
    assert one == {"walks": 1, "refs": per_walk}
    clash = R.DATA_GVA + 64 * 4096
    run = R.count_walk_refs(v, gt, gd, [R.DATA_GVA, R.DATA_GVA + 16, clash, R.DATA_GVA])
    assert run == {"walks": 3, "refs": 3 * per_walk}


def test_count_walk_refs_refuses_bad_input_in_one_line():
    with pytest.raises(ValueError, match="vs_leaf_level must be 0, 1 or 2"):
        R.count_walk_refs(3, 0, 0, [R.DATA_GVA])
    with pytest.raises(ValueError, match="data window"):
        R.count_walk_refs(0, 0, 0, [0x1234])


def test_two_stage_refs_right_and_subtly_wrong():
    ex = lab06.exercises["two_stage_refs"]
    right = grade("two_stage_refs", "ana", {"two_stage_refs": S.two_stage_refs})
    assert right.score == ex.points and len(right.lines) == 6, right.feedback()
    for wrong in (S.refs_no_final_g, S.refs_one_g_level, S.refs_no_tlb):
        out = grade("two_stage_refs", "ana", {"two_stage_refs": wrong})
        assert out.score < ex.points, wrong.__name__
        texts = [line.text for line in out.lines if not line.ok]
        assert texts and all("the MMU made" in t or "not correct" in t for t in texts)
    assert grade("two_stage_refs", "ana", {"two_stage_refs": lambda *a: 15}).score < ex.points / 2


def test_two_stage_refs_feedback_does_not_give_the_count():
    p = lab06.exercises["two_stage_refs"].params("ana")
    truth = R.count_walk_refs(*S_args(p["scenario"]))["refs"]
    out = grade("two_stage_refs", "ana", {"two_stage_refs": S.refs_no_final_g}, hidden=False)
    line = out.lines[0]
    assert not line.ok and str(truth) not in line.text and "the MMU made more" in line.text


def S_args(s):
    return s["vs_leaf_level"], s["g_leaf_tables"], s["g_leaf_data"], s["loads"]


def test_gstage_fill_right_gets_full_marks():
    out = grade("gstage_fill", "ana", {"gfill": S.gfill})
    assert out.passed and out.score == lab06.exercises["gstage_fill"].points, out.feedback()
    assert out.lines[0].text.startswith("teachos under the hw backend: ")
    assert all("guest-page faults filled" in line.text for line in out.lines[:2])


def test_teachos_boots_on_a_fill_given_to_the_hw_backend():
    """The student's fill installed as the hw backend's G-stage fill: teachos prints what it
    prints on the backend's own fill, with as many fills, and nothing maps behind its back."""
    own = R.teachos_run("hw")
    theirs = R.teachos_run("hw", S.gfill)
    assert theirs.console_output == own.console_output
    assert "teachos: powering off" in theirs.console_output
    assert theirs.owner.fills == own.hw.gstage.fills == theirs.hw.gstage.fills > 0
    assert (theirs.result.reason, theirs.result.exit_code) == ("halt", 0)
    without_u = R.fill_run(S.make_fill(flags=R.G_LEAF & ~S.PTE_U), "teachos")
    assert "again at the same guest page" in without_u["error"]


@pytest.mark.parametrize("wrong, words", [
    (S.make_fill(shift=0), "did not map a page of guest RAM"),          # htval is GPA >> 2
    (S.make_fill(root_bits=9), "again at the same guest page"),         # Sv39x4's root: 11 bits
    (S.make_fill(flags=R.G_LEAF & ~S.PTE_U), "again at the same guest page"),  # checked as U
    (S.make_fill(flags=R.G_LEAF & ~R.PTE_W), "again at the same guest page"),
])
def test_subtly_wrong_fills_lose_points(wrong, words):
    out = grade("gstage_fill", "ana", {"gfill": wrong})
    assert out.score < lab06.exercises["gstage_fill"].points
    assert any(words in line.text for line in out.lines if not line.ok), out.feedback()


def test_the_high_region_shares_the_low_root_index_below_bit_9():
    """Every layout puts guest RAM above 512 GiB whose 9-bit root index equals the low
    region's: a fill that indexes the root with 9 bits must fail for every student."""
    for seed in range(20):
        low, high = R.gstage_layout(random.Random(seed))["ram"]
        assert high["gpa"] >> 39 and (high["gpa"] >> 30) & 0x1FF == (low["gpa"] >> 30) & 0x1FF
        assert high["gpa"] >> 41 == 0


def test_a_fill_may_not_name_a_frame_it_was_not_given():
    def gfill(req):
        S.gfill(req)
        req.write_pte(req.root, 0, R.leaf(0x8000_0000, R.G_LEAF))
        return True
    out = grade("gstage_fill", "ana", {"gfill": gfill}, hidden=False)
    assert out.score == 0 and "hpa_of did not give" in out.lines[0].text


def test_a_fill_that_raises_is_one_line():
    def gfill(req):
        raise KeyError("oops")
    out = grade("gstage_fill", "ana", {"gfill": gfill}, hidden=False)
    assert out.score == 0 and "your fill raised KeyError" in out.lines[0].text
    assert "\n" not in out.lines[0].text


def test_a_fill_that_maps_the_device_is_caught():
    """Returning True for the device's GPA (nothing mapped) faults again: one line."""
    def gfill(req):
        return True if req.hpa_of(req.htval << 2) is None else S.gfill(req)
    got = R.fill_run(gfill, lab06.exercises["gstage_fill"].params("ana")["layout"])
    assert "again at the same guest page" in got["error"]


def _which_wins_answer(student, choose_right=True, price_off=0.0):
    p = lab06.exercises["which_wins"].params(student)
    answer = {}
    for label, row in prices(p).items():
        best = min(row, key=row.get)
        other = next(t for t in row if t != best)
        answer[label] = {t: v * (1 + price_off) for t, v in row.items()}
        answer[label]["choice"] = best if choose_right else other
    return answer


@pytest.mark.slow
def test_which_wins_choice_and_prices():
    ex = lab06.exercises["which_wins"]
    right = grade("which_wins", "ana", {"which_wins": _which_wins_answer("ana")})
    assert right.score == ex.points, right.feedback()
    assert grade("which_wins", "ana", {"which_wins": _which_wins_answer("ana", False)}).score \
        == ex.points / 2
    off = grade("which_wins", "ana", {"which_wins": _which_wins_answer("ana", True, 0.05)})
    assert off.score == ex.points / 2 and "not what the measured costs give" in " ".join(off.feedback())


@pytest.mark.slow
def test_the_measured_costs_teach_adams_and_agesen():
    """hw wins the system call (no exit) and the PTE update, loses the TLB miss (15 references
    a walk against 3); write-protect pays more than sfence for a PTE update; and each
    student's three workloads have the winners their names promise."""
    table = R.per_op_costs()
    hw, sf, wp = table["hw"], table["sfence"], table["write-protect"]
    assert hw["syscall"]["exits"] == 0 < sf["syscall"]["exits"]
    assert hw["ptemod"]["cycles"] < sf["ptemod"]["cycles"] < wp["ptemod"]["cycles"]
    assert hw["tlb"]["refs"] == 15 * hw["tlb"]["walks"] and sf["tlb"]["refs"] == 3 * sf["tlb"]["walks"]
    for student in ("ana", "ben", "cy", "dee"):
        row = prices(lab06.exercises["which_wins"].params(student))
        assert [min(row[k], key=row[k].get) for k in "ABC"] == ["hw", "hw", "sfence"], student


@pytest.mark.slow
def test_vmlab_grade_on_lab06_notebooks(tmp_path):
    """End to end in the sandbox: the instructor's answers pasted into the notebook get full
    marks, the untouched notebook none."""
    from grading_support import ROOT, grade_answered_and_untouched
    solutions = (ROOT / "tests" / "grading" / "lab06_solutions.py").read_text()
    answers = {"def two_stage_refs(": solutions, "def gfill(req):": "gfill = make_fill()",
               "which_wins = {": ("from vmlab.grading.lab06 import prices\n"
                                  "which_wins = {k: dict(v, choice=min(v, key=v.get))\n"
                                  "              for k, v in prices(P3).items()}\n")}
    answered, untouched = grade_answered_and_untouched(
        tmp_path, ROOT / "labs" / "06-hardware-assist.ipynb", "lab06", answers)
    assert answered == lab06.points and untouched == 0
