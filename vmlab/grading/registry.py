"""Find an assignment by name (labs shipped with vmlab) or as ``FILE.py:NAME`` (an instructor's)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from vmlab.grading.exercise import Assignment


class AssignmentNotFound(LookupError):
    pass


def load_assignment(spec: str, course: str | None = None) -> Assignment:
    """``lab02``, or ``path/to/course.py:hw3`` (an :class:`Assignment` object in that file)."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        assignment = _from_file(*spec.split(":", 1))
    else:
        from vmlab.grading.labs import ASSIGNMENTS
        if spec not in ASSIGNMENTS:
            raise AssignmentNotFound(f"no assignment {spec!r} (known: {', '.join(ASSIGNMENTS)}; "
                                     "or give FILE.py:NAME)")
        assignment = ASSIGNMENTS[spec]
    return assignment.with_course(course) if course and course != assignment.course else assignment


def _from_file(path: str, name: str) -> Assignment:
    file = Path(path)
    if not file.is_file():
        raise AssignmentNotFound(f"{path}: no such file")
    module_spec = importlib.util.spec_from_file_location(f"vmlab_assignment_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    obj = getattr(module, name, None)
    if not isinstance(obj, Assignment):
        raise AssignmentNotFound(f"{path} has no Assignment named {name!r}")
    return obj
