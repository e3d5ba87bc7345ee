"""The notebook side: who am I, what is my instance, and how am I doing so far.

A lab notebook starts with ``STUDENT_ID = ""`` for the student to fill in; the environment
variable ``VMLAB_STUDENT`` (set by a course hub, and always by the grader) wins over it, so
the grader grades the instance of the id it knows -- a notebook that fills in someone else's
id is graded against its own student's parameters.  :func:`check` grades the *visible* cases
right here, with the same checker the grader uses; hidden cases run only at grading time.
"""
from __future__ import annotations

import os

from vmlab.grading.artifacts import collect_one
from vmlab.grading.registry import load_assignment

STUDENT_ENV, COURSE_ENV = "VMLAB_STUDENT", "VMLAB_COURSE"
ANONYMOUS = "anonymous"


def student_id(filled_in: str = "") -> str:
    """The id the grader will use: ``VMLAB_STUDENT`` if set, else what the student filled in."""
    return os.environ.get(STUDENT_ENV, "").strip() or str(filled_in or "").strip() or ANONYMOUS


def exercise(assignment: str, name: str):
    course = os.environ.get(COURSE_ENV) or None
    return load_assignment(assignment, course).exercises[name]


def params(assignment: str, name: str, filled_in: str = "") -> dict:
    """This student's parameters for an exercise (the same every time)."""
    return exercise(assignment, name).params(student_id(filled_in))


class Prompt:
    """The exercise text with the student's parameters, shown as markdown in a notebook."""

    def __init__(self, text: str, student: str):
        self.text, self.student = text, student

    def _repr_markdown_(self) -> str:
        warn = ("\n\n*(No student id yet: fill in `STUDENT_ID` above, or your instance will "
                "not be yours.)*" if self.student == ANONYMOUS else f"\n\n*(instance of `{self.student}`)*")
        return self.text + warn

    def __repr__(self) -> str:
        return self.text


def show(assignment: str, name: str, filled_in: str = "") -> Prompt:
    student = student_id(filled_in)
    return Prompt(exercise(assignment, name).prompt(student), student)


def check(assignment: str, name: str, namespace: dict, filled_in: str = ""):
    """Grade the visible cases now, on what ``namespace`` (the notebook's globals) holds."""
    from vmlab.notebook.selfcheck import Feedback
    ex = exercise(assignment, name)
    student = student_id(filled_in)
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=False)
    arts = {k: collect_one(spec, namespace) for k, spec in ex.requests(p, cases).items()}
    outcome = ex.check(arts, p, cases)
    fb = Feedback(f"{ex.title} (visible tests; hidden ones run when graded)")
    for line in outcome.lines:
        fb.add(line.ok, line.text)
    return fb
