"""Exercises as nbgrader autograded test cells.

A test cell (``nbgrader: {grade: true, grade_id, points}``) holds::

    from vmlab.grading.nbgrader import test
    test("lab01", "factorial", globals())                  # the visible cases
    ### BEGIN HIDDEN TESTS
    test("lab01", "factorial", globals(), hidden=True)     # every case, hidden ones too
    ### END HIDDEN TESTS

``test`` raises ``AssertionError`` (with the feedback lines) unless every case passes, which
is how nbgrader decides a test cell's points.  It runs in the student's kernel -- nbgrader's
own model; for a contained run with per-student seeds use ``vmlab grade``.  The student id
comes from ``VMLAB_STUDENT`` (nbgrader autograde: set it per student, or use :func:`test`'s
``student`` argument).
"""
from __future__ import annotations

from vmlab.grading import student as _student
from vmlab.grading.artifacts import collect_one
from vmlab.grading.seed import secret_from_env

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def test(assignment: str, name: str, namespace: dict, *, hidden: bool = False, student: str = ""):
    """Check one exercise on the namespace; raise AssertionError listing what is not right."""
    ex = _student.exercise(assignment, name)
    who = _student.student_id(student)
    params = ex.params(who)
    cases = ex.cases(who, params, hidden=hidden, secret=secret_from_env() if hidden else "")
    arts = {k: collect_one(spec, namespace) for k, spec in ex.requests(params, cases).items()}
    outcome = ex.check(arts, params, cases)
    if not outcome.passed:
        raise AssertionError("\n".join(outcome.feedback()))
    print("\n".join(outcome.feedback()))


def test_cell_source(assignment: str, name: str) -> str:
    """The source of an autograded test cell for one exercise (visible, then hidden tests)."""
    call = f'test({assignment!r}, {name!r}, globals()'
    return (f"from vmlab.grading.nbgrader import test\n{call})\n"
            f"{HIDDEN_BEGIN}\n{call}, hidden=True)\n{HIDDEN_END}\n")


def test_cell(assignment: str, name: str, points: float):
    """An nbformat code cell with nbgrader's metadata, ready to add to a source notebook."""
    import nbformat
    cell = nbformat.v4.new_code_cell(test_cell_source(assignment, name))
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": f"{assignment}-{name}", "points": points,
                                 "schema_version": 3}
    return cell
