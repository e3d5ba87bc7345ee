"""nbgrader's own generate_assignment and autograde steps run a vmlab exercise's test cell,
hidden tests included (they are restored from the source notebook at autograde time)."""
import os
import subprocess
import sys

import nbformat
import pytest

from grading_support import ROOT
from vmlab.grading.nbgrader import test_cell as nbgrader_test_cell

pytest.importorskip("nbgrader", reason="pip install nbgrader (the test extra)")

SOLUTION = '''from vmlab.grading import student
P = student.params("lab02", "split_address")
### BEGIN SOLUTION
def split_va(va):
    f = {"vpn2": va >> 30 & 511, "vpn1": va >> 21 & 511, "vpn0": va >> 12 & 511, "offset": va & 4095}
    return [f[k] for k in P["order"]]
### END SOLUTION
'''


def _source_notebook():
    sol = nbformat.v4.new_code_cell(SOLUTION)
    sol.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                "grade_id": "split-solution", "schema_version": 3}
    return nbformat.v4.new_notebook(cells=[sol, nbgrader_test_cell("lab02", "split_address", 4)],
                                    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})


def _nbgrader(course, *args):
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = dict(os.environ, PYTHONPATH=str(ROOT), VMLAB_STUDENT="", HOME=str(course), PATH=path)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_nbgrader_autograde_scores_an_exercise_cell(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.course_id = 'vmlab'\n" % str(course))
    nbformat.write(_source_notebook(), course / "source" / "ps1" / "lab.ipynb")
    p = _nbgrader(course, "generate_assignment", "ps1", "--force")
    assert p.returncode == 0, p.stdout + p.stderr
    released = nbformat.read(course / "release" / "ps1" / "lab.ipynb", 4)
    assert "hidden=True" not in released.cells[1].source and "return [f[k]" not in released.cells[0].source
    # "anonymous" is the id both students' kernels see here (VMLAB_STUDENT empty)
    for student, body in (("alice", SOLUTION), ("bob", SOLUTION.replace('P["order"]', 'sorted(P["order"])'))):
        nb = _source_notebook()
        nb.cells[0].source = body
        nb.cells[1].source = released.cells[1].source      # the student's copy: no hidden tests
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / "ps1" / "lab.ipynb")
    p = _nbgrader(course, "autograde", "ps1", "--create", "--force")
    assert p.returncode == 0, p.stdout + p.stderr
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("ps1", s).score for s in ("alice", "bob")}
    assert scores == {"alice": 4, "bob": 0}
    graded = nbformat.read(course / "autograded" / "alice" / "ps1" / "lab.ipynb", 4)
    assert "hidden=True" in graded.cells[1].source          # nbgrader put the hidden tests back
