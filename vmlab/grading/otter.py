"""Otter-style checks in a notebook: ``grader = Notebook("lab01"); grader.check("factorial")``.

Otter's students call ``grader.check("q1")`` after each question; here a question is an
exercise of a vmlab assignment, checked on the notebook's globals with the visible cases
(the hidden ones run when ``vmlab grade`` grades the submission).
"""
from __future__ import annotations

import inspect

from vmlab.grading import student as _student


class Notebook:
    """The ``grader`` object of an Otter-style notebook, for one assignment."""

    def __init__(self, assignment: str, student_id: str = ""):
        self.assignment, self.student_id = assignment, student_id

    def check(self, question: str, namespace: dict | None = None):
        """Feedback on one question; ``namespace`` defaults to the caller's globals."""
        if namespace is None:
            namespace = inspect.currentframe().f_back.f_globals
        return _student.check(self.assignment, question, namespace, self.student_id)

    def check_all(self, namespace: dict | None = None) -> list:
        if namespace is None:
            namespace = inspect.currentframe().f_back.f_globals
        ex = _student.load_assignment(self.assignment).exercises
        return [self.check(name, namespace) for name in ex]


# ---- Otter's own test files ---------------------------------------------------------------------
def passes(assignment: str, name: str, namespace: dict, hidden: bool = False) -> bool:
    """True when every case passes (the feedback is printed); what an Otter doctest checks."""
    import contextlib
    import io
    from vmlab.grading import nbgrader
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # a doctest compares what is printed
            nbgrader.test(assignment, name, namespace, hidden=hidden)
        return True
    except AssertionError as exc:
        print(exc)
        return False


def test_file(assignment: str, name: str, points: float) -> str:
    """An OK-format test file for one exercise: a visible case and a hidden one (Otter runs
    the hidden one only when it grades)."""
    def case(hidden: bool) -> dict:
        code = (f">>> from vmlab.grading.otter import passes\n"
                f">>> passes({assignment!r}, {name!r}, globals(), hidden={hidden})\nTrue")
        return {"code": code, "hidden": hidden, "locked": False}
    test = {"name": name, "points": points,
            "suites": [{"cases": [case(False), case(True)], "scored": True, "setup": "",
                        "teardown": "", "type": "doctest"}]}
    return f"OK_FORMAT = True\n\ntest = {test!r}\n"


def write_tests(assignment: str, tests_dir) -> list:
    """One ``tests/<exercise>.py`` per exercise of the assignment, for ``otter.Notebook``."""
    from pathlib import Path
    out = Path(tests_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = _student.load_assignment(assignment)
    paths = []
    for ex in a.exercises.values():
        path = out / f"{ex.name}.py"
        path.write_text(test_file(assignment, ex.name, ex.points))
        paths.append(path)
    return paths
