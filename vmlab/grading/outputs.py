"""Results in the formats courses use: Gradescope's results.json, a CSV gradebook, JSON per student."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from vmlab.grading.exercise import Assignment
from vmlab.grading.runner import Result


def gradescope(result: Result, assignment: Assignment) -> dict:
    """One submission as Gradescope's autograder ``results.json`` (one test per exercise)."""
    tests = []
    for number, outcome in enumerate(result.outcomes, start=1):
        ex = assignment.exercises.get(outcome.exercise)
        tests.append({"name": ex.title if ex else outcome.exercise, "number": str(number),
                      "score": outcome.score, "max_score": float(outcome.points),
                      "status": "passed" if outcome.passed else "failed",
                      "output": "\n".join(outcome.feedback()), "tags": [assignment.name],
                      "visibility": ex.visibility if ex else "visible"})
    notes = result.notes + ([f"grading error: {result.error}"] if result.error else [])
    return {"score": result.score, "execution_time": round(result.seconds, 2),
            "output": "\n".join(notes) or "graded", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def per_student(result: Result) -> dict:
    return {"student": result.student, "submission": result.submission, "score": result.score,
            "max_score": result.max_score, "notes": result.notes, "error": result.error,
            "seconds": round(result.seconds, 2), "jail": result.jail,
            "exercises": [{"name": o.exercise, "score": o.score, "max_score": o.points,
                           "feedback": o.feedback()} for o in result.outcomes]}


def write_all(results: list[Result], assignment: Assignment, out: Path) -> None:
    """``gradebook.csv``, ``students/<id>.json`` and ``gradescope/<id>/results.json``."""
    out.mkdir(parents=True, exist_ok=True)
    names = list(assignment.exercises)
    with open(out / "gradebook.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *names, "total", "max", "notes"])
        for r in results:
            scores = {o.exercise: o.score for o in r.outcomes}
            w.writerow([r.student, *(scores.get(n, 0) for n in names), r.score, r.max_score,
                        "; ".join(r.notes + ([r.error] if r.error else []))])
    for r in results:
        _write_json(out / "students" / f"{r.student}.json", per_student(r))
        _write_json(out / "gradescope" / r.student / "results.json", gradescope(r, assignment))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def summary(results: list[Result], assignment: Assignment) -> str:
    """Score distribution (in tenths of the maximum) and failures by exercise."""
    lines = [f"{len(results)} submissions graded for {assignment.name}"]
    top = assignment.points or 1
    buckets = Counter(min(9, int(10 * r.score / top)) for r in results)
    for b in range(10):
        lines.append(f"  {10 * b:3d}-{10 * b + 9 if b < 9 else 100:3d}%  {'#' * buckets[b]} {buckets[b] or ''}")
    for name in assignment.exercises:
        failed = sum(1 for r in results for o in r.outcomes if o.exercise == name and not o.passed)
        lines.append(f"  {name}: not full marks in {failed} of {len(results)}")
    errors = [r for r in results if r.error]
    if errors:
        lines.append(f"  infrastructure errors: {len(errors)} ({errors[0].student}: {errors[0].error})")
    return "\n".join(lines)
