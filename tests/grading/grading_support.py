"""What the grading tests share (a module of its own name: a test that imported ``conftest``
could get another directory's conftest.py, whichever pytest loaded first)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def factorial_program(modulus: int, zero_ok: bool = True) -> str:
    """A correct n! mod m program (or, with zero_ok=False, one that gets 0! wrong)."""
    guard = "beqz    a0, 2f" if zero_ok else "nop                     # forgot 0! = 1"
    return f"""
_start: li      t0, 1
        li      t2, {modulus}
        {guard}
1:      mul     t0, t0, a0
        remu    t0, t0, t2
        addi    a0, a0, -1
        bgtz    a0, 1b
2:      remu    a0, t0, t2
        ecall
"""


def answered(lab: Path, answers: dict):
    """The lab's notebook with each code cell that starts with a key of ``answers`` replaced
    by its value (a student's worked answer)."""
    import nbformat
    nb = nbformat.read(lab, 4)
    for cell in nb.cells:
        for start, answer in answers.items():
            if cell.cell_type == "code" and cell.source.startswith(start):
                cell.source = answer
    return nb


def grade_answered_and_untouched(tmp_path: Path, lab: Path, assignment: str, answers: dict):
    """``vmlab grade`` (in a process of its own, as an instructor runs it) on two submissions:
    the notebook answered with ``answers`` and the notebook as released.  Their totals."""
    import csv
    import os
    import subprocess
    import sys

    import nbformat
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(answered(lab, answers), subs / "answered.ipynb")
    nbformat.write(nbformat.read(lab, 4), subs / "untouched.ipynb")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", assignment,
                        "-j", "1", "--timeout", "900", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=1800)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    return float(rows["answered"]["total"]), float(rows["untouched"]["total"])
