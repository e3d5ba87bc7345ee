"""Every lab's graded exercises by name (:data:`ASSIGNMENTS`); each lab keeps its exercises in
a module of its own (``vmlab.grading.labNN``).

Each lab notebook shows the student's own instance (``lab01.exercises["factorial"].prompt(id)``)
and checks their work on the spot (:func:`vmlab.grading.selfcheck.check`, visible cases only);
``vmlab grade`` runs the same checkers, hidden cases included, on collected artifacts.
"""
from __future__ import annotations

from vmlab.grading.lab00 import lab00
from vmlab.grading.lab01 import lab01
from vmlab.grading.lab02 import lab02
from vmlab.grading.lab03 import exit_guest_source, lab03, run_exit_guest  # noqa: F401  (used by name)
from vmlab.grading.lab04 import lab04
from vmlab.grading.lab05 import lab05
from vmlab.grading.lab06 import lab06
from vmlab.grading.lab07 import lab07
from vmlab.grading.lab08 import lab08
from vmlab.grading.lab09 import lab09
from vmlab.grading.lab10 import lab10
from vmlab.grading.lab11 import lab11

#: every lab's assignment by name, in the unit's order
ASSIGNMENTS = {a.name: a for a in (lab00, lab01, lab02, lab03, lab04, lab05, lab06, lab07, lab08,
                                   lab09, lab10, lab11)}
