"""``vmlab grade SUBMISSIONS --assignment A [-j N] [--out DIR] [--scheduler ADDRESS]``.

Exit status: 0 when every submission was graded (whatever the students scored), 1 for bad
arguments, 2 when the grading itself failed for some submission (a checker bug, a worker
that could not start): those are listed at the end.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from vmlab.grading import sandbox
from vmlab.grading.registry import AssignmentNotFound, load_assignment
from vmlab.grading.seed import SECRET_ENV, secret_from_env


def register(p) -> None:
    p.add_argument("submissions", nargs="+", help="notebooks, .py or .s files, or folders of them "
                   "(ROOT/<student>/file or ROOT/<student>.ipynb)")
    p.add_argument("--assignment", "-a", required=True, help="lab01, lab02, lab03 or FILE.py:NAME")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once (local)")
    p.add_argument("--out", default="grades", help="output folder (default: grades)")
    p.add_argument("--scheduler", help="a Dask scheduler address: grade on that cluster")
    p.add_argument("--student", help="the student id of a single submission (e.g. on Gradescope, "
                   "from submission_metadata.json); by default ids come from the paths")
    p.add_argument("--course", help="course name mixed into every seed (default: the assignment's)")
    p.add_argument("--secret-file", help=f"the instructor's secret for hidden inputs (else ${SECRET_ENV})")
    p.add_argument("--timeout", type=float, default=300, help="wall seconds per submission")
    p.add_argument("--cell-timeout", type=int, default=60, help="seconds per notebook cell")
    p.add_argument("--memory", type=int, default=6144, help="MiB of address space per process")


def _secret(args) -> str:
    from vmlab.cli import UserError
    if not args.secret_file:
        return secret_from_env()
    try:
        return Path(args.secret_file).read_text().strip()
    except OSError as exc:
        raise UserError(f"--secret-file: {exc.strerror}: {args.secret_file}") from None


class Progress:
    """A one-line progress bar on stderr (tqdm is not needed for this)."""

    def __init__(self, total: int):
        self.total, self.done, self.points = total, 0, 0.0

    def __call__(self, result) -> None:
        self.done += 1
        width = 30
        fill = width * self.done // max(1, self.total)
        mark = "!" if result.error else ""
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                         f"{result.student}: {result.score:g}/{result.max_score:g}{mark}\033[K")
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")


def main(args) -> int:
    from vmlab.cli import UserError
    from vmlab.grading import outputs, runner
    try:
        assignment = load_assignment(args.assignment, args.course)
    except AssignmentNotFound as exc:
        raise UserError(str(exc)) from None
    jobs = runner.find_submissions(args.submissions)
    if not jobs:
        raise UserError(f"no submissions (.ipynb, .py, .s) found in {' '.join(args.submissions)}")
    if args.jobs < 1:
        raise UserError("-j must be at least 1")
    if args.student:
        if len(jobs) != 1:
            raise UserError(f"--student names one student, but {len(jobs)} submissions were found")
        jobs = [(jobs[0][0], args.student)]
    if not args.scheduler:
        print("preparing the compiled machine for the sandboxes ...", file=sys.stderr)
        cache = sandbox.snapshot_cache()
    try:
        results = _grade(args, jobs, Path(args.out).resolve())
    finally:
        if not args.scheduler:
            shutil.rmtree(cache, ignore_errors=True)
    outputs.write_all(results, assignment, Path(args.out).resolve())
    print(outputs.summary(results, assignment))
    print(f"results in {Path(args.out).resolve()} (gradebook.csv, students/, gradescope/)")
    return 2 if any(r.error for r in results) else 0


def _grade(args, jobs, out: Path) -> list:
    from vmlab.grading import runner
    limits = sandbox.Limits(wall=args.timeout, cell=args.cell_timeout, memory=args.memory << 20)
    secret, progress = _secret(args), Progress(len(jobs))
    hide = sorted({str(Path(p).resolve().parent) for p, _ in jobs} | {str(out)}
                  | ({str(Path(args.secret_file).resolve().parent)} if args.secret_file else set()))
    if args.scheduler:
        from vmlab.grading.dask_fanout import grade_dask
        return grade_dask(jobs, args.assignment, args.course, secret, limits, args.scheduler, progress)
    return runner.grade_local(jobs, args.assignment, args.course, secret, limits, hide, args.jobs, progress)
