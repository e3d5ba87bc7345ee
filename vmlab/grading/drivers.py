"""Drivers: how a student's function or class is exercised on one scenario.

A driver is named by its import path in an artifact request (so the request stays plain
JSON), runs in the student's process with the student's object, and returns JSON.  The
grader runs the *same* driver on the instructor's solution to get the expected value, so one
scenario format serves both sides.  Later labs add drivers that build a VM around a student's
exit handler or scheduler policy; these two cover plain functions and classes.
"""
from __future__ import annotations

import importlib

from vmlab.grading.artifacts import jsonable


def call(fn, *args):
    """A plain function: its result on the arguments."""
    return jsonable(fn(*args))


def methods(cls, init: list, calls: list):
    """A class: build ``cls(*init)``, then call ``[method, args]`` in turn; every result.

    This is how a policy object (a scheduler, a memory coordinator) is driven through a
    scenario: the sequence of events is the scenario, the list of decisions the answer."""
    obj = cls(*init)
    return [jsonable(getattr(obj, name)(*args)) for name, args in calls]


def resolve(path: str):
    """``"module:function"`` -> the function (only vmlab's own drivers may be named)."""
    module, _, name = path.partition(":")
    if not module.startswith("vmlab."):
        raise ValueError(f"driver {path!r} is not one of vmlab's")
    return getattr(importlib.import_module(module), name)
