"""Lab 00's exercises: classify scenarios with their deciding reason; mark a toy ISA's
instructions and decide whether it is classically virtualizable.  Plus the lab's table: no
emulator among the hypervisors, and KVM and bhyve classified alike."""
from __future__ import annotations

import ast

import nbformat

from grading_support import ROOT
from vmlab.grading.lab00 import KINDS, REASONS, SCENARIOS, kind_of, lab00, marks_of, scenario, toy_isa_of

LAB = ROOT / "labs" / "00-welcome.ipynb"


def hypervisor_table() -> list[tuple]:
    """The HYPERVISORS list of the lab's table cell, read as data (not run)."""
    for cell in nbformat.read(LAB, 4).cells:
        if cell.cell_type == "code" and "HYPERVISORS = [" in cell.source:
            tree = ast.parse(cell.source)
            for node in tree.body:
                if isinstance(node, ast.Assign) and node.targets[0].id == "HYPERVISORS":
                    return ast.literal_eval(node.value)
    raise AssertionError("lab 00 has no HYPERVISORS table")


def test_the_table_lists_no_emulator_or_vmm_as_a_hypervisor():
    rows = hypervisor_table()
    assert len(rows) >= 8 and all(r[1] in ("1", "2") for r in rows)
    text = " ".join(" ".join(r) for r in rows).lower()
    names = [r[0].lower() for r in rows]
    assert not any("tcg" in n or n.startswith("qemu") for n in names)      # an emulator
    assert "firecracker" not in names                                      # a VMM on KVM
    for r in rows:
        assert "emulation" not in r[2].lower() or "device" in r[2].lower(), r
    kind = {r[0]: r[1] for r in rows}
    assert kind["KVM"] == kind["bhyve"], "KVM and bhyve are built alike: classify them alike"
    assert "hosts even its management os" not in text


def test_every_scenario_has_a_known_kind_and_reason():
    for kind, reason, text in SCENARIOS:
        assert kind in KINDS and reason in REASONS and len(text) > 40
    deciding = {reason for _, reason, _ in SCENARIOS}
    assert set(REASONS) - deciding, "some reasons must be true-but-beside-the-point distractors"


def test_formats_the_lab_shows_are_accepted_and_substrings_are_not():
    assert kind_of("1") == kind_of(1) == kind_of("Type 1") == kind_of("type-1") == "type 1"
    assert kind_of(2) == "type 2" and kind_of("Emulator") == "emulator" and kind_of("VMM") == "vmm"
    assert kind_of("12") is None and kind_of("type 12") is None and kind_of(True) is None
    assert marks_of("sensitive, privileged") == {"sensitive", "privileged"}
    assert marks_of(["privileged", "sensitive"]) == {"sensitive", "privileged"}
    assert marks_of("insensitive") is None and marks_of("sensitive innocuous") is None


def _right_classify(p):
    return {i + 1: (("1" if k == "type 1" else "2" if k == "type 2" else k), r)
            for i, (k, r, _) in enumerate(scenario(p, j) for j in range(len(p["scenarios"])))}


def _grade(ex, student, **values):
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True, secret="s")
    arts = {k: ({"value": v} if v is not None else {"missing": k}) for k, v in values.items()}
    return ex.check(arts, p, cases)


def test_classify_right_wrong_and_two_students():
    ex = lab00.exercises["classify"]
    alice, bob = ex.params("alice"), ex.params("bob")
    assert alice != bob and ex.params("alice") == alice
    assert len({scenario(alice, i)[0] for i in range(6)}) >= 4
    full = _grade(ex, "alice", answers=_right_classify(alice))
    assert full.score == ex.points
    # right kinds, but a true-but-beside-the-point reason everywhere: half the marks
    kinds_only = {n: (k, "f") for n, (k, _) in _right_classify(alice).items()}
    half = _grade(ex, "alice", answers=kinds_only)
    assert half.score == ex.points / 2
    assert all("decides" in line.text for line in half.lines if not line.ok)
    # bob's right answers are not alice's
    assert _grade(ex, "alice", answers=_right_classify(bob)).score < ex.points


def test_classify_feedback_does_not_give_the_answer_away():
    ex = lab00.exercises["classify"]
    p = ex.params("carol")
    right = _right_classify(p)
    swapped = {n: ("container" if k != "container" else "emulator", r) for n, (k, r) in right.items()}
    out = _grade(ex, "carol", answers=swapped)
    assert out.score == ex.points / 2
    for line in out.lines:
        if not line.ok:
            truth = scenario(p, int(line.text.split()[1].rstrip(":")) - 1)[0]
            assert truth not in line.text
    untouched = _grade(ex, "carol", answers={n: [None, None] for n in range(1, 7)})
    assert untouched.score == 0 and "not answered yet" in untouched.lines[0].text


def _right_marks(p):
    return {i["name"]: ("sensitive" if i["sensitive"] else "innocuous")
            + (", privileged" if i["privileged"] else "") for i in toy_isa_of(p)}


def _virtualizable(p):
    return all(i["privileged"] for i in toy_isa_of(p) if i["sensitive"])


def test_toy_isa_right_and_subtly_wrong():
    ex = lab00.exercises["toy_isa"]
    students = [f"s{i}" for i in range(40)]
    verdicts = {_virtualizable(ex.params(s)) for s in students}
    assert verdicts == {True, False}, "both answers occur among students"
    for s in students:          # six different behaviours, each shown once
        isa = toy_isa_of(ex.params(s))
        assert len({i["s_mode"].split("`: ")[1] for i in isa}) == len(isa) == 6
    for s in students[:6]:
        p = ex.params(s)
        out = _grade(ex, s, answers=_right_marks(p), virtualizable=_virtualizable(p))
        assert out.score == ex.points, out.feedback()
        wrong_verdict = _grade(ex, s, answers=_right_marks(p), virtualizable=not _virtualizable(p))
        assert 0 < wrong_verdict.score < ex.points


def test_toy_isa_the_sensitive_unprivileged_instruction_must_be_seen():
    """Marking the sensitive-but-unprivileged instruction 'privileged' (it changes state in
    supervisor mode, after all) is the classic mistake: it loses that line and the verdict."""
    ex = lab00.exercises["toy_isa"]
    s = next(f"s{i}" for i in range(100) if not _virtualizable(ex.params(f"s{i}")))
    p = ex.params(s)
    marks = _right_marks(p)
    culprit = next(i["name"] for i in toy_isa_of(p) if i["sensitive"] and not i["privileged"])
    marks[culprit] = "sensitive, privileged"
    out = _grade(ex, s, answers=marks, virtualizable=True)
    assert 0 < out.score < ex.points
    bad = [line.text for line in out.lines if not line.ok]
    assert any(t.startswith(culprit) for t in bad) and any("virtualizable" in t for t in bad)
    assert all("True" not in t.split("--")[-1] for t in bad)


def test_toy_isa_insensitive_is_not_a_word_and_missing_answers_score_nothing():
    ex = lab00.exercises["toy_isa"]
    p = ex.params("dan")
    out = _grade(ex, "dan", answers={i["name"]: "insensitive" for i in p["isa"]}, virtualizable="maybe")
    assert out.score == 0 and "sensitive or innocuous" in out.lines[0].text
    assert _grade(ex, "dan", answers=None, virtualizable=None).score == 0
    assert ex.params("dan") != ex.params("eve")


def test_lab00_is_an_assignment_the_grader_knows():
    from vmlab.grading.labs import ASSIGNMENTS
    assert ASSIGNMENTS["lab00"] is lab00 and lab00.points >= 14
