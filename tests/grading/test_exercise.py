"""Seeds and instances: stable per student, different between students, hidden detail redacted."""
import json
import os
import subprocess
import sys

from grading_support import ROOT, factorial_program
from vmlab.grading.checkers import AsmProgram
from vmlab.grading.exercise import Assignment, Case
from vmlab.grading.labs import ASSIGNMENTS, lab01
from vmlab.grading.seed import derive_seed, student_seed


def test_same_student_same_instance_and_neighbours_differ():
    for a in ASSIGNMENTS.values():
        for ex in a.exercises.values():
            assert ex.params("alice") == ex.params("alice") == ex.params(" Alice ")
            instances = {json.dumps(ex.params(f"student{i}"), sort_keys=True) for i in range(20)}
            assert len(instances) >= 15, ex.name


def test_seed_mixes_every_part_and_is_unambiguous():
    base = student_seed("c", "a", "e", "s")
    assert len({base, student_seed("c2", "a", "e", "s"), student_seed("c", "a2", "e", "s"),
                student_seed("c", "a", "e2", "s"), student_seed("c", "a", "e", "s2")}) == 5
    assert derive_seed("ab", "c") != derive_seed("a", "bc")


def test_seed_does_not_depend_on_pythons_hash_salt():
    code = "from vmlab.grading.labs import lab02; print(lab02.exercises['secret_mapping'].params('bob'))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=h)).stdout
            for h in ("1", "2")}
    assert len(outs) == 1


def test_a_new_exercise_in_a_few_lines():
    hw = Assignment("hw1", course="c")

    @hw.exercise(points=2, prompt="Put {x} in a0",
                 checker=AsmProgram("answer", lambda p, rng: [Case({"regs": {}})], lambda p, i: {"a0": p["x"]}))
    def put(rng):
        return {"x": rng.randrange(100)}
    assert hw.exercises["put"].prompt("s") == f"Put {put.params('s')['x']} in a0"
    assert hw.points == 2


def test_hidden_cases_need_the_secret_and_hide_their_detail(lab01):
    ex = lab01.exercises["factorial"]
    p = ex.params("alice")
    visible = ex.cases("alice", p, hidden=False)
    assert all(not c.hidden for c in visible) and visible[0].inputs["regs"]["a0"] == 0
    h1 = ex.cases("alice", p, hidden=True, secret="one")
    h2 = ex.cases("alice", p, hidden=True, secret="two")
    assert [c.inputs for c in h1 if c.hidden] != [c.inputs for c in h2 if c.hidden]
    from vmlab.grading.artifacts import program
    wrong = program(factorial_program(97))     # a wrong modulus: wrong answers
    outcome = ex.check({"program": wrong}, p, h1)
    hidden_lines = [line for line in outcome.lines if line.hidden]
    assert hidden_lines and all("expected" not in line.text for line in hidden_lines)
    assert any("expected" in line.text for line in outcome.lines if not line.hidden)
