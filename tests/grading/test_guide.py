"""The instructor guide's first example is a working assignment (loaded as FILE.py:NAME)."""
import re

from grading_support import ROOT
from vmlab.grading.artifacts import program
from vmlab.grading.registry import load_assignment


def test_the_guides_exercise_loads_and_grades(tmp_path):
    text = (ROOT / "docs" / "grading.md").read_text()
    code = re.search(r"```python\n(# course\.py\n.*?)```", text, re.S).group(1)
    (tmp_path / "course.py").write_text(code)
    hw1 = load_assignment(f"{tmp_path / 'course.py'}:hw1")
    ex = hw1.exercises["times_k"]
    k = ex.params("alice")["k"]
    # a0 * k from shifts and adds/subs: k = 2^a (+/-) 2^b or 2^a (+/-) 1
    recipe = {3: "slli t0,a0,1\n add a0,a0,t0", 5: "slli t0,a0,2\n add a0,a0,t0",
              6: "slli t0,a0,1\n slli a0,a0,2\n add a0,a0,t0", 7: "slli t0,a0,3\n sub a0,t0,a0",
              9: "slli t0,a0,3\n add a0,a0,t0", 10: "slli t0,a0,1\n slli a0,a0,3\n add a0,a0,t0"}[k]
    p = ex.params("alice")
    cases = ex.cases("alice", p, hidden=True, secret="s")
    right = ex.check({"program": program(f"_start: {recipe}\n ecall\n")}, p, cases)
    wrong = ex.check({"program": program("_start: ecall\n")}, p, cases)
    assert right.score == 3 and wrong.score < 3
    assert "{k}" not in ex.prompt("alice") and str(k) in ex.prompt("alice")
