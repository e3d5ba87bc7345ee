"""vmlab grade / vmlab assign from the command line: errors are one line, versions are right."""
import subprocess
import sys

import nbformat

from grading_support import ROOT


def _vmlab(*args, cwd=None):
    import os
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "vmlab", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_unknown_assignment_is_one_line_and_status_1(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    p = _vmlab("grade", str(tmp_path), "--assignment", "lab99", "--out", str(tmp_path / "o"))
    assert p.returncode == 1 and "lab99" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_no_submissions_is_an_error(tmp_path):
    p = _vmlab("grade", str(tmp_path), "--assignment", "lab01")
    assert p.returncode == 1 and "no submissions" in p.stderr


def test_assign_strips_solutions_and_hidden_tests(tmp_path):
    from vmlab.grading.nbgrader import test_cell
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n"),
        test_cell("lab02", "split_address", 4)])
    src = tmp_path / "lab.ipynb"
    nbformat.write(nb, src)
    p = _vmlab("assign", str(src), "--out", str(tmp_path / "rel"))
    assert p.returncode == 0, p.stderr
    student = nbformat.read(tmp_path / "rel" / "student" / "lab.ipynb", 4)
    assert "return 42" not in student.cells[0].source and "# your code here" in student.cells[0].source
    assert "hidden=True" not in student.cells[1].source and "test('lab02'" in student.cells[1].source
    teacher = nbformat.read(tmp_path / "rel" / "instructor" / "lab.ipynb", 4)
    assert "return 42" in teacher.cells[0].source and "hidden=True" in teacher.cells[1].source


def test_student_ids_come_from_the_layout(tmp_path):
    from vmlab.grading.runner import find_submissions
    for rel in ("alice/work/lab.ipynb", "bob.ipynb", "carol.s", "dave/.ipynb_checkpoints/x.ipynb", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    found = sorted(student for _, student in find_submissions([str(tmp_path)]))
    assert found == ["alice", "bob", "carol"]


def test_student_flag_needs_a_single_submission(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    p = _vmlab("grade", str(tmp_path), "--assignment", "lab01", "--student", "zoe")
    assert p.returncode == 1 and "one student" in p.stderr
