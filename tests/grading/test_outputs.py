"""Gradescope's results.json against its documented structure; the CSV gradebook; the summary."""
import csv
import json

import jsonschema

from vmlab.grading.exercise import Outcome, Line
from vmlab.grading.labs import lab02
from vmlab.grading.outputs import gradescope, summary, write_all
from vmlab.grading.runner import Result

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
#: the autograder's results.json as Gradescope documents it (top level and per test)
GRADESCOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"}, "execution_time": {"type": "number"},
        "output": {"type": "string"}, "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object", "required": ["score", "max_score"],
            "properties": {"score": {"type": "number"}, "max_score": {"type": "number"},
                           "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                           "number": {"type": "string"}, "output": {"type": "string"},
                           "tags": {"type": "array", "items": {"type": "string"}},
                           "visibility": VISIBILITY, "extra_data": {"type": "object"}},
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}


def _result(student, fractions):
    outcomes = []
    for ex, ok in zip(lab02.exercises.values(), fractions):
        lines = [Line(i < ok, f"case {i}") for i in range(4)]
        outcomes.append(Outcome(ex.name, ex.points, lines))
    return Result(student, f"{student}.ipynb", outcomes, notes=["a note"], seconds=1.5)


def test_results_json_validates_and_adds_up():
    r = _result("alice", [4, 2])
    doc = gradescope(r, lab02)
    jsonschema.validate(doc, GRADESCOPE_SCHEMA)
    assert doc["score"] == sum(t["score"] for t in doc["tests"]) == 8 + 2
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed"]


def test_gradebook_students_and_gradescope_files(tmp_path):
    results = [_result("alice", [4, 2]), _result("bob", [0, 4])]
    write_all(results, lab02, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv")))
    assert [(r["student"], float(r["total"])) for r in rows] == [("alice", 10.0), ("bob", 4.0)]
    assert json.loads((tmp_path / "students" / "bob.json").read_text())["score"] == 4
    jsonschema.validate(json.loads((tmp_path / "gradescope" / "alice" / "results.json").read_text()),
                        GRADESCOPE_SCHEMA)
    text = summary(results, lab02)
    assert "secret_mapping: not full marks in 1 of 2" in text
