"""End to end: lab 01 notebooks graded by `vmlab grade` (nbclient in the sandbox): the
instructor's copy (solutions in) scores full marks for whichever student hands it in, the
student release (stubs) scores nothing, and a handler that always adds 4 loses the
16-bit case -- hidden cases included, with the grader's secret."""
import csv
import os
import subprocess
import sys

import nbformat
import pytest

from grading_support import ROOT

LAB = ROOT / "labs" / "01-the-machine.ipynb"


def _with_handler(nb, change):
    for cell in nb.cells:
        if cell.source.startswith("%%asm handler"):
            cell.source = change(cell.source)
    return nb


@pytest.mark.slow
def test_vmlab_grade_on_lab01_notebooks(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(nbformat.read(LAB, 4), subs / "ida.ipynb")
    plus4 = _with_handler(nbformat.read(LAB, 4), lambda s: s.replace("        li      s1, 2\n", "        li      s1, 4\n"))
    nbformat.write(plus4, subs / "jon.ipynb")
    release = tmp_path / "release"
    subprocess.run([sys.executable, "-m", "vmlab", "assign", str(LAB), "--out", str(release)], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True)
    (subs / "kim.ipynb").write_bytes((release / "student" / LAB.name).read_bytes())
    env = dict(os.environ, PYTHONPATH=str(ROOT), VMLAB_GRADING_SECRET="lab01-test")
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", "lab01",
                        "-j", "2", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                       env=env, timeout=1200)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert float(rows["ida"]["emulate_m"]) == 10 and float(rows["ida"]["factorial"]) == 6
    assert 0 < float(rows["jon"]["emulate_m"]) < 10
    assert float(rows["kim"]["total"]) == 0
