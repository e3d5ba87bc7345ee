"""Per-student seeds: the same student always gets the same instance, a neighbour another.

A seed is the SHA-256 of (course, assignment, exercise, student id), so it is stable across
machines, Python versions and runs -- unlike Python's ``hash()``, which is salted per process.
Hidden test inputs are drawn from a second seed that also mixes in the instructor's *secret*:
without it, a student who reads this (public) code could regenerate the hidden inputs.
"""
from __future__ import annotations

import hashlib
import os
import random

#: where the grading process finds the instructor's secret (never passed to a submission)
SECRET_ENV = "VMLAB_GRADING_SECRET"


def derive_seed(*parts: str) -> int:
    """A 64-bit seed from any number of strings, joined unambiguously (length-prefixed)."""
    h = hashlib.sha256()
    for part in parts:
        data = str(part).encode("utf-8")
        h.update(len(data).to_bytes(4, "little") + data)
    return int.from_bytes(h.digest()[:8], "little")


def student_seed(course: str, assignment: str, exercise: str, student: str) -> int:
    """The seed a student's visible parameters come from."""
    return derive_seed(course, assignment, exercise, normalize_student(student))


def hidden_seed(course: str, assignment: str, exercise: str, student: str, secret: str) -> int:
    """The seed hidden test inputs come from: the student's, plus the instructor's secret."""
    return derive_seed(course, assignment, exercise, normalize_student(student), "hidden", secret)


def normalize_student(student: str) -> str:
    """Ids are compared case-blind and without surrounding spaces (``Alice `` is ``alice``)."""
    return str(student).strip().lower()


def rng(seed: int) -> random.Random:
    """A private generator: never the global one, so nothing else can shift the sequence."""
    return random.Random(seed)


def secret_from_env() -> str:
    return os.environ.get(SECRET_ENV, "")
