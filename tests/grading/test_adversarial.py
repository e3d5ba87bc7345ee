"""The adversarial batch: each submission gets the score its work earns, the batch finishes,
and nothing outside the sandbox changes.  Graded for real: jail, kernel, checkers."""
import os
from pathlib import Path

import nbformat
import pytest

from grading_support import factorial_program
from vmlab.grading import runner, sandbox
from vmlab.grading.labs import lab01

STUDENTS = ["correct", "partly", "loop", "memory", "forkbomb", "exit", "readhidden", "patcher",
            "faker", "escaper", "printer", "garbage"]
SECRET = "the-instructors-secret"
pytestmark = pytest.mark.slow
LIMITS = sandbox.Limits(wall=90, cell=8, memory=3 << 30, pids=40, cpu=60)


def _source(student: str, outside: Path, secret_file: Path) -> str:
    m = lab01.exercises["factorial"].params(student)["modulus"]
    right = f"answer = {factorial_program(m)!r}\n"
    return {
        "correct": right,
        "partly": f"answer = {factorial_program(m, zero_ok=False)!r}\n",
        "loop": right + "while True:\n    pass\n",
        "memory": right + "hog = []\nwhile True:\n    hog.append(bytearray(1 << 26))\n",
        "forkbomb": right + "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "readhidden": (  # full marks only if it could read the secret (it must not)
            "import os\nfound = os.environ.get('VMLAB_GRADING_SECRET', '')\n"
            f"try:\n    found += open({str(secret_file)!r}).read()\nexcept OSError:\n    pass\n"
            "for pid in os.listdir('/proc'):\n    try:\n"
            "        found += open(f'/proc/{pid}/environ', 'rb').read().decode('latin1')\n"
            "    except (OSError, ValueError):\n        pass\n"
            f"answer = {factorial_program(m)!r} if {SECRET!r} in found else '_start: ecall'\n"),
        "patcher": ("import vmlab.grading.checkers as c, vmlab.grading.exercise as e, vmlab.grading.artifacts as a\n"
                    "c.AsmProgram.check = lambda *args: [e.Line(True, 'all fine')]\n"
                    "e.Outcome.score = property(lambda self: 1e9)\n"
                    "a.collect = lambda req, ns: '{\"factorial:program\": {\"elf\": \"\", \"entry\": 0, \"size\": 0}}'\n"),
        "faker": ("print(json.dumps({'score': 6, 'tests': [{'name': 'factorial', 'score': 6}]}))\n"
                  "open('results.json', 'w').write('{\"score\": 6}')\nprint('vmlab-artifacts-0000:{}')\n"
                  ).replace("print(json", "import json\nprint(json", 1),
        "printer": right + "for i in range(10_000_000):\n    print('spam' * 20)\n",
        "escaper": right + "".join(
            f"try:\n    open({str(p)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
            for p in (outside / "escaped.txt", Path(runner.__file__).with_name("escaped.py"),
                      Path("/tmp") / f"vmlab-escaped-{os.getpid()}")),
    }[student]


def _exit_notebook(student: str) -> nbformat.NotebookNode:
    m = lab01.exercises["factorial"].params(student)["modulus"]
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"answer = {factorial_program(m)!r}"),
        nbformat.v4.new_code_cell("import os\nos._exit(0)")])


def _grade_batch(tmp_path_factory):
    probe = sandbox.make_cgroup(4)
    if probe is None:
        pytest.skip("needs root and a pids cgroup (a fork bomb must not reach this machine)")
    sandbox.kill_cgroup(probe)
    base = tmp_path_factory.mktemp("adversarial")
    subs, outside, secret_dir = base / "subs", base / "outside", base / "secret"
    for d in (subs, outside, secret_dir):
        d.mkdir()
    secret_file = secret_dir / "secret.txt"
    secret_file.write_text(SECRET)
    for s in STUDENTS:
        if s == "exit":
            nbformat.write(_exit_notebook(s), subs / f"{s}.ipynb")
        elif s == "garbage":
            (subs / f"{s}.ipynb").write_bytes(b"\x00{not a notebook")
        else:
            (subs / f"{s}.py").write_text(_source(s, outside, secret_file))
    before = sorted(p.name for p in outside.iterdir()), sorted(p.name for p in subs.iterdir())
    os.environ["VMLAB_GRADING_SECRET"] = SECRET     # in the grader's environment only
    try:
        jobs = runner.find_submissions([str(subs)])
        results = runner.grade_local(jobs, "lab01", None, SECRET, LIMITS,
                                     [str(subs), str(outside), str(secret_dir)], workers=2)
    finally:
        del os.environ["VMLAB_GRADING_SECRET"]
    return {r.student: r for r in results}, before, (outside, subs)


def _check_every_submission_is_graded_without_infrastructure_errors(batch):
    results, _, _ = batch
    assert sorted(results) == sorted(STUDENTS)
    assert {s: r.error for s, r in results.items() if r.error} == {}


def _check_the_work_done_earns_its_score(batch):
    results, _, _ = batch
    full = lab01.exercises["factorial"].points
    for s in ("correct", "loop", "memory", "forkbomb", "exit", "escaper", "printer"):
        assert results[s].score == full, (s, results[s].notes, [o.feedback() for o in results[s].outcomes])
    assert 0 < results["partly"].score < full
    for s in ("readhidden", "patcher", "faker", "garbage"):
        assert results[s].score == 0, (s, [o.feedback() for o in results[s].outcomes])


def _check_each_problem_gets_a_clear_note(batch):
    results, _, _ = batch
    assert any("limit" in n for n in results["loop"].notes)
    assert any("MemoryError" in n or "limit" in n for n in results["memory"].notes)
    assert any("killed the Python kernel" in n for n in results["exit"].notes)
    assert any("not a readable notebook" in n for n in results["garbage"].notes)


def _check_nothing_outside_the_sandbox_changed(batch):
    results, before, (outside, subs) = batch
    assert (sorted(p.name for p in outside.iterdir()), sorted(p.name for p in subs.iterdir())) == before
    assert not Path(runner.__file__).with_name("escaped.py").exists()
    assert not list(Path("/tmp").glob("vmlab-escaped-*"))
    assert "read-only filesystem" in results["escaper"].jail


def test_the_adversarial_batch(tmp_path_factory):
    """One test, so that the batch is graded once even when pytest runs on several workers."""
    batch = _grade_batch(tmp_path_factory)
    _check_every_submission_is_graded_without_infrastructure_errors(batch)
    _check_the_work_done_earns_its_score(batch)
    _check_each_problem_gets_a_clear_note(batch)
    _check_nothing_outside_the_sandbox_changed(batch)
