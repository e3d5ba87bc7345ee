"""Exercises and assignments: a generator, a prompt, a checker, points and a visibility.

An exercise turns a student id into *parameters* (its generator gets a private random
generator seeded from the id), shows them in a prompt, and grades a submission's
*artifacts* -- values collected from the student's work, never scores -- with its checker::

    lab = Assignment("lab01", course="os101")

    @lab.exercise(points=4, checker=AsmProgram(name="answer", cases=fact_cases, expect=fact),
                  prompt="Compute `a0 = a0! mod {modulus}` and end with `ecall`.")
    def factorial(rng):
        return {"modulus": rng.choice(PRIMES)}

A checker's test cases may be *hidden*: their inputs come from a seed that mixes in the
instructor's secret, and their feedback says where a case failed but not the expected value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from vmlab.grading import seed as seeds

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_COURSE = "vmlab"


@dataclass
class Line:
    """One test case's verdict and the sentence a student reads about it."""

    ok: bool
    text: str
    weight: float = 1.0
    hidden: bool = False


@dataclass
class Case:
    """One test input for a checker; ``hidden`` cases are graded but not shown in detail."""

    inputs: dict
    hidden: bool = False
    label: str = ""


@dataclass
class Outcome:
    """What grading one exercise gave: the lines, the score, and a note on anything odd."""

    exercise: str
    points: float
    lines: list[Line] = field(default_factory=list)
    note: str = ""

    @property
    def score(self) -> float:
        total = sum(line.weight for line in self.lines)
        got = sum(line.weight for line in self.lines if line.ok)
        return round(self.points * got / total, 4) if total else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.lines) and all(line.ok for line in self.lines)

    def feedback(self) -> list[str]:
        marks = [("ok  " if line.ok else "no  ") + line.text for line in self.lines]
        return ([self.note] if self.note else []) + marks


class Exercise:
    """See the module docstring; made by :meth:`Assignment.exercise`."""

    def __init__(self, assignment: "Assignment", name: str, generate: Callable, checker,
                 points: float, prompt, visibility: str, title: str):
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
        self.assignment, self.name, self.generate = assignment, name, generate
        self.checker, self.points, self.prompt_template = checker, points, prompt
        self.visibility, self.title = visibility, title or name.replace("_", " ")

    def seed(self, student: str) -> int:
        a = self.assignment
        return seeds.student_seed(a.course, a.name, self.name, student)

    def params(self, student: str) -> dict:
        """This student's instance: the same every time for the same id."""
        return self.generate(seeds.rng(self.seed(student)))

    def prompt(self, student: str) -> str:
        """The markdown the student reads, with their parameters filled in."""
        p = self.params(student)
        t = self.prompt_template
        return t(p) if callable(t) else t.format(**p)

    def cases(self, student: str, params: dict, *, hidden: bool, secret: str = "") -> list[Case]:
        """Test cases for this student; hidden ones only when grading for real."""
        a = self.assignment
        hidden_rng = seeds.rng(seeds.hidden_seed(a.course, a.name, self.name, student, secret))
        all_cases = self.checker.cases(params, hidden_rng)
        return [c for c in all_cases if hidden or not c.hidden]

    def requests(self, params: dict, cases: list[Case]) -> dict:
        """What to collect from the submission for this exercise (artifact specs)."""
        return self.checker.requests(params, cases)

    def check(self, artifacts: dict, params: dict, cases: list[Case]) -> Outcome:
        """Grade collected artifacts; a checker that breaks is a grader bug, so it raises."""
        lines = self.checker.check(artifacts, params, cases)
        return Outcome(self.name, self.points, _redact(lines))


def _redact(lines: list[Line]) -> list[Line]:
    """Hidden cases keep their verdict but lose their detail (text up to the first ':')."""
    out = []
    for line in lines:
        if line.hidden:
            where = line.text.split(":", 1)[0]
            line = Line(line.ok, f"{where}: {'passed' if line.ok else 'not correct'}", line.weight, True)
        out.append(line)
    return out


class Assignment:
    """An ordered set of exercises under one course and assignment name."""

    def __init__(self, name: str, course: str = DEFAULT_COURSE, title: str = ""):
        self.name, self.course, self.title = name, course, title or name
        self.exercises: dict[str, Exercise] = {}

    def exercise(self, *, checker, points: float = 1, prompt="", visibility: str = "visible",
                 name: str | None = None, title: str = ""):
        """Decorator: the decorated function is the generator (``rng -> params``)."""
        def register(generate: Callable) -> Exercise:
            ex = Exercise(self, name or generate.__name__, generate, checker, points, prompt,
                          visibility, title)
            self.exercises[ex.name] = ex
            return ex
        return register

    @property
    def points(self) -> float:
        return sum(ex.points for ex in self.exercises.values())

    def with_course(self, course: str) -> "Assignment":
        """The same exercises under another course name (so other seeds)."""
        other = Assignment(self.name, course, self.title)
        for ex in self.exercises.values():
            other.exercises[ex.name] = Exercise(other, ex.name, ex.generate, ex.checker, ex.points,
                                                ex.prompt_template, ex.visibility, ex.title)
        return other
