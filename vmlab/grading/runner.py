"""Grade submissions: parameters and cases here, the submission in the jail, checks here.

The order of one grading is the security argument:

1. the grading process derives the student's parameters and test cases (hidden ones from
   the instructor's secret) and decides what to collect -- only inputs leave this process;
2. the submission runs in the jail (:mod:`vmlab.grading.sandbox`) and hands back artifacts;
3. the checkers grade those artifacts here, recomputing every expected value.

Nothing the submission prints or patches is read as a score, and nothing it can read holds
an expected value.  One submission's failure is a note in its own result, never the batch's.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

from vmlab.grading import sandbox
from vmlab.grading.exercise import Assignment, Outcome
from vmlab.grading.registry import load_assignment

#: what a submission may be
SUFFIXES = (".ipynb", ".py", ".s", ".S")


@dataclass
class Result:
    """One submission's grade: an outcome per exercise, notes, and any infrastructure error."""

    student: str
    submission: str
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    jail: str = ""

    @property
    def score(self) -> float:
        return round(sum(o.score for o in self.outcomes), 4)

    @property
    def max_score(self) -> float:
        return sum(o.points for o in self.outcomes)


def student_of(path: Path, root: Path | None = None) -> str:
    """``ROOT/<id>/anything`` -> id; otherwise the file's name without its suffix."""
    path = Path(path)
    if root is not None and path.parent != Path(root) and Path(root) in path.parents:
        return path.relative_to(root).parts[0]
    return path.stem


def find_submissions(paths: Iterable[str]) -> list[tuple[Path, str]]:
    """Every submission file under the given files/folders, with its student's id."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += [(f, student_of(f, p)) for f in sorted(p.rglob("*")) if f.suffix in SUFFIXES
                      and f.is_file() and ".ipynb_checkpoints" not in f.parts]
        elif p.is_file():
            found.append((p, student_of(p)))
    return found


def grade(submission: Path, assignment: Assignment, student: str, *, secret: str = "",
          limits: sandbox.Limits | None = None, hide: list[str] = ()) -> Result:
    """Grade one submission for one student (see the module docstring)."""
    limits = limits or sandbox.Limits()
    result = Result(student, str(submission))
    plans = {}
    for ex in assignment.exercises.values():
        params = ex.params(student)
        cases = ex.cases(student, params, hidden=True, secret=secret)
        plans[ex.name] = (ex, params, cases)
    requests = {f"{name}:{k}": spec for name, (ex, params, cases) in plans.items()
                for k, spec in ex.requests(params, cases).items()}
    run = sandbox.run(Path(submission), requests, student, assignment.course, limits, hide)
    result.notes, result.seconds, result.jail, result.error = run.notes, run.seconds, run.jail, run.error
    for name, (ex, params, cases) in plans.items():
        arts = {k.split(":", 1)[1]: v for k, v in run.artifacts.items()
                if isinstance(k, str) and k.startswith(name + ":") and isinstance(v, dict)}
        try:
            result.outcomes.append(ex.check(arts, params, cases))
        except Exception as exc:  # a checker bug: the grader's fault, reported as such
            result.outcomes.append(Outcome(name, ex.points, note=f"checker failed: {exc}"))
            result.error = result.error or f"checker {name} failed: {type(exc).__name__}: {exc}"
    return result


def _grade_job(path: str, student: str, assignment_spec: str, course: str | None,
               secret: str, limits: sandbox.Limits, hide: list[str]) -> Result:
    """One batch job, importable by a pool or a Dask worker (arguments are plain data)."""
    assignment = load_assignment(assignment_spec, course)
    try:
        return grade(Path(path), assignment, student, secret=secret, limits=limits, hide=hide)
    except Exception as exc:  # keep the batch going; say what broke
        return Result(student, path, error=f"{type(exc).__name__}: {exc}")


def grade_local(jobs: list[tuple], assignment_spec: str, course: str | None, secret: str,
                limits: sandbox.Limits, hide: list[str], workers: int,
                on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Grade on this machine with a pool of ``workers`` processes; results in input order."""
    results: dict[int, Result] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_grade_job, str(p), student, assignment_spec, course,
                               secret, limits, hide): i for i, (p, student) in enumerate(jobs)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as exc:  # a pool worker died: that job's result says so
                p, student = jobs[i]
                results[i] = Result(student, str(p), error=f"grading process died: {exc}")
            on_result(results[i])
    return [results[i] for i in range(len(jobs))]


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t
