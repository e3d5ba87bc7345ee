"""Grade on a Dask cluster: each submission is one task running the same job as the local pool.

The submission file is read here and sent with the task (a cluster's workers need not share
our disk); the worker writes it into a temporary file and grades it with the same
:func:`vmlab.grading.runner.grade`.  Any cluster that ``distributed.Client`` can reach works:
a ``LocalCluster``, dask-kubernetes, dask-jobqueue on an HPC queue.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from vmlab.grading import sandbox
from vmlab.grading.registry import load_assignment
from vmlab.grading.runner import Result, grade


def _remote_job(name: str, data: bytes, student: str, assignment_spec: str, course: str | None,
                secret: str, limits: sandbox.Limits) -> Result:
    with tempfile.TemporaryDirectory(prefix="vmlab-dask-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            result = grade(path, load_assignment(assignment_spec, course), student, secret=secret,
                           limits=limits, hide=[tmp])
        except Exception as exc:
            result = Result(student, name, error=f"{type(exc).__name__}: {exc}")
    result.submission = name
    return result


def grade_dask(jobs: list[tuple], assignment_spec: str, course: str | None, secret: str,
               limits: sandbox.Limits, scheduler, on_result: Callable[[Result], None] = lambda r: None
               ) -> list[Result]:
    """``scheduler``: an address (``tcp://host:8786``) or a ``distributed.Client``/cluster."""
    from distributed import Client, as_completed
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {client.submit(_remote_job, Path(p).name, Path(p).read_bytes(), student,
                                 assignment_spec, course, secret, limits, pure=False): i
                   for i, (p, student) in enumerate(jobs)}
        results: dict[int, Result] = {}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as exc:  # a lost worker: that submission's result says so
                p, student = jobs[i]
                results[i] = Result(student, str(p), error=f"dask task failed: {exc}")
            results[i].submission = str(jobs[i][0])
            on_result(results[i])
        return [results[i] for i in range(len(jobs))]
    finally:
        if client is not scheduler:
            client.close()
