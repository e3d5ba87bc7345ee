"""Lab 09's exercises against the instructor's solutions: right ones get full marks, subtly
wrong ones lose points with feedback that names no expected value, students differ."""
import pytest

import lab09_solutions as S
from vmlab.grading.artifacts import collect_one
from vmlab.grading.lab09 import lab09


def grade(name, student, namespace, hidden=True):
    ex = lab09.exercises[name]
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=hidden, secret="s")
    arts = {k: collect_one(spec, namespace) for k, spec in ex.requests(p, cases).items()}
    return ex.check(arts, p, cases)


def test_shadow_perms_exhaustive_right_and_subtly_wrong():
    right = grade("shadow_perms", "ana", {"shadow_perms": S.shadow_perms})
    assert right.score == lab09.exercises["shadow_perms"].points and len(right.lines) == 8
    for wrong in (S.perms_forgets_clean, S.perms_ignores_mxr):
        out = grade("shadow_perms", "ana", {"shadow_perms": wrong})
        assert out.score < right.score
        bad = [line.text for line in out.lines if not line.ok]
        assert bad and all("wrong, e.g. guest flags" in t for t in bad)
    assert 0 < grade("shadow_perms", "ana", {"shadow_perms": S.perms_ignores_mxr}).score
    assert grade("shadow_perms", "ana", {"shadow_perms": lambda *a: 0}).score < right.score / 2


def test_shadow_perms_feedback_does_not_give_the_answer():
    out = grade("shadow_perms", "ana", {"shadow_perms": S.perms_ignores_mxr})
    line = next(line for line in out.lines if not line.ok)
    assert "expected" not in line.text and "MXR=1" in line.text


def test_students_get_different_instances():
    for name in lab09.exercises:
        ex = lab09.exercises[name]
        assert ex.params("ana") != ex.params("ben"), name


def _fill_grade(fill, student="ana"):
    return grade("fill_handler", student, {"fill": fill})


@pytest.mark.slow
def test_fill_handler_boots_teachos_and_the_seeded_guests():
    out = _fill_grade(S.fill)
    assert out.passed, out.feedback()
    assert "teachos" in out.lines[0].text and "all right" in out.lines[0].text and "faults through" in out.lines[0].text


@pytest.mark.slow
def test_subtly_wrong_fill_handlers_lose_points():
    for wrong, words in ((S.make_fill(set_dirty=False), "fault here again"),
                         (S.make_fill(perms=S.perms_forgets_clean), "permissions"),
                         (S.make_fill(superpage_offset=False), "gpa page")):
        out = _fill_grade(wrong)
        assert out.score < lab09.exercises["fill_handler"].points, words
        assert any(words in line.text for line in out.lines if not line.ok), out.feedback()


def test_a_fill_that_raises_is_one_line_naming_it():
    def fill(req):
        raise KeyError("oops")
    out = grade("fill_handler", "ana", {"fill": fill}, hidden=False)
    assert out.score == 0
    assert all("fill raised KeyError" in line.text and "\n" not in line.text for line in out.lines)


def test_fill_may_not_name_a_frame_it_was_not_given():
    """The hook's isolation: a shadow PTE pointing at any host frame hpa_of did not return
    (here: the hypervisor's own page) is refused before it is mapped."""
    from vmlab import sv39

    def fill(req):
        req.write_shadow(sv39.make_pte(0x8000_0000, 0xDF))
    out = grade("fill_handler", "ana", {"fill": fill}, hidden=False)
    assert out.score == 0 and "hpa_of did not give" in out.lines[1].text


def _coherence_answer(student, choose_right=True, numbers_right=True):
    from vmlab.grading import lab09 as L
    p = lab09.exercises["coherence"].params(student)
    answer = {}
    for label, w in p["workloads"].items():
        truth = L.workload_exits(w)
        best = min(L.STRATEGY_KEYS, key=lambda s: truth[L.STRATEGY_KEYS[s]])
        worst = next(s for s in L.STRATEGY_KEYS if s != best)
        answer[label] = dict(truth, choice=best if choose_right else worst)
        if not numbers_right:
            answer[label]["exits_sfence"] += 1      # an off-by-one
    return answer


def test_coherence_choice_and_numbers():
    ex = lab09.exercises["coherence"]
    right = grade("coherence", "ana", {"coherence": _coherence_answer("ana")})
    assert right.score == ex.points
    wrong_choice = grade("coherence", "ana", {"coherence": _coherence_answer("ana", False)})
    assert wrong_choice.score == ex.points / 2
    off_by_one = grade("coherence", "ana", {"coherence": _coherence_answer("ana", True, False)})
    assert off_by_one.score == ex.points / 2
    assert "not what the run gives" in " ".join(off_by_one.feedback())


def test_the_two_workloads_want_different_strategies():
    """The exercise is a decision: for every student one workload wants each strategy."""
    from vmlab.grading import lab09 as L
    for student in ("ana", "ben", "cy"):
        p = lab09.exercises["coherence"].params(student)
        picks = set()
        for w in p["workloads"].values():
            t = L.workload_exits(w)
            assert t["exits_sfence"] != t["exits_write_protect"]
            picks.add(min(L.STRATEGY_KEYS, key=lambda s: t[L.STRATEGY_KEYS[s]]))
        assert picks == {"sfence", "write-protect"}


@pytest.mark.parametrize("misdeed, words", [
    ("write_unread", "only a PTE this fill read may be written"),
    ("clear_bits", "only A and D may be set"),
    ("both", "exactly one of write_shadow and guest_fault"),
    ("bad_cause", "not a page- or access-fault cause"),
])
def test_the_request_refuses_what_hardware_could_not_do(misdeed, words):
    """A fill handler can only do what the guest's MMU could: set A/D in the PTEs it read,
    and answer once; anything else stops the run with one line naming the function."""
    from vmlab.grading import lab09 as L

    def fill(req):
        if misdeed == "bad_cause":
            return req.guest_fault(99)
        root = req.satp & ((1 << 44) - 1)
        pte = req.read_guest64(root << 12)
        if misdeed == "write_unread":
            req.write_guest64((root << 12) + 8, 0)
        elif misdeed == "clear_bits":
            req.write_guest64(root << 12, pte & ~1)
        req.guest_fault(13)
        req.write_shadow(0)
    got = L.boot_with_fill(fill, L.touch_guest(__import__("random").Random(5)))
    assert got["error"].startswith("fill") and words in got["error"], got


@pytest.mark.slow
def test_vmlab_grade_on_lab09_notebooks(tmp_path):
    """End to end in the sandbox: the instructor's answers pasted into the notebook get full
    marks, the untouched notebook none."""
    import csv
    import os
    import subprocess
    import sys

    import nbformat
    from grading_support import ROOT
    solutions = (ROOT / "tests" / "grading" / "lab09_solutions.py").read_text()
    answers = {"def shadow_perms(": solutions, "def fill(req):": "fill = make_fill()",
               "coherence = {": ("from vmlab.grading import lab09 as L\ncoherence = {}\n"
                                 "for label, w in P3['workloads'].items():\n"
                                 "    t = L.workload_exits(w)\n"
                                 "    coherence[label] = dict(t, choice=min(L.STRATEGY_KEYS, "
                                 "key=lambda s: t[L.STRATEGY_KEYS[s]]))\n")}
    nb = nbformat.read(ROOT / "labs" / "09-shadow-paging.ipynb", 4)
    for cell in nb.cells:
        for start, text in answers.items():
            if cell.source.startswith(start):
                cell.source = text
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(nb, subs / "zoe.ipynb")
    nbformat.write(nbformat.read(ROOT / "labs" / "09-shadow-paging.ipynb", 4), subs / "yan.ipynb")
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", "lab09",
                        "-j", "1", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert float(rows["zoe"]["total"]) == lab09.points
    assert float(rows["yan"]["total"]) == 0
