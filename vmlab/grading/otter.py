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
