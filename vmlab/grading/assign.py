"""``vmlab assign NOTEBOOK... --out DIR``: the student and instructor versions of a lab.

- ``DIR/instructor/``: the notebook as written, outputs cleared;
- ``DIR/student/``: code between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` replaced by a
  placeholder, hidden tests (between nbgrader's markers) and cells tagged ``solution`` or
  ``hidden`` removed, outputs cleared.  Each student's parameters are not baked in: the
  notebook renders them from the student's id when it runs (see ``vmlab.grading.student``).
"""
from __future__ import annotations

import re
from pathlib import Path

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?", re.M | re.S)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)
PLACEHOLDER = "# your code here\n"
DROP_TAGS = {"solution", "hidden"}


def student_source(source: str) -> str:
    source = SOLUTION.sub(lambda m: m.group(1) + PLACEHOLDER, source)
    return HIDDEN.sub("", source)


def clear(cell) -> None:
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None


def student_version(nb):
    import copy
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not DROP_TAGS & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        clear(cell)
        if cell.cell_type == "code":
            cell.source = student_source(cell.source)
    return nb


def instructor_version(nb):
    import copy
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        clear(cell)
    return nb


def register(p) -> None:
    p.add_argument("notebooks", nargs="+", help="lab notebooks (instructor versions)")
    p.add_argument("--out", default="release", help="output folder (default: release)")


def main(args) -> int:
    import nbformat
    from vmlab.cli import UserError
    out = Path(args.out)
    for name in args.notebooks:
        try:
            nb = nbformat.read(name, as_version=4)
        except (OSError, ValueError) as exc:
            raise UserError(f"{name}: not a readable notebook ({exc})") from None
        for kind, make in (("student", student_version), ("instructor", instructor_version)):
            (out / kind).mkdir(parents=True, exist_ok=True)
            nbformat.write(make(nb), out / kind / Path(name).name)
        print(f"{name}: {out / 'student' / Path(name).name}, {out / 'instructor' / Path(name).name}")
    return 0
