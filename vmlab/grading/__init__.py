"""vmlab.grading: randomized exercises, a contained runner, and results LMSs read.

- :mod:`~vmlab.grading.exercise` -- ``Assignment.exercise`` (the decorator), cases, outcomes
- :mod:`~vmlab.grading.seed` -- per-student seeds (SHA-256, not ``hash()``)
- :mod:`~vmlab.grading.checkers` -- assembly programs, page tables, trace numbers, Python calls
  (:mod:`~vmlab.grading.drivers`: how a student's function or class is driven)
- :mod:`~vmlab.grading.labs` -- the exercises of labs 01-03; :mod:`~vmlab.grading.registry`
  finds an assignment by name or as ``FILE.py:NAME``
- :mod:`~vmlab.grading.student` -- the notebook side: show my instance, check my work now
- :mod:`~vmlab.grading.runner`, :mod:`~vmlab.grading.sandbox`, :mod:`~vmlab.grading.jail`,
  :mod:`~vmlab.grading.worker` -- grading a submission in a separate, limited process
- :mod:`~vmlab.grading.outputs` -- Gradescope ``results.json``, CSV, per-student JSON
- :mod:`~vmlab.grading.nbgrader`, :mod:`~vmlab.grading.otter` -- the two notebook formats
- :mod:`~vmlab.grading.cli`, :mod:`~vmlab.grading.assign`, :mod:`~vmlab.grading.dask_fanout`
"""
from vmlab.grading.exercise import Assignment, Case, Exercise, Line, Outcome

__all__ = ["Assignment", "Case", "Exercise", "Line", "Outcome"]
