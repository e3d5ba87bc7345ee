"""Otter's own grader.check runs a vmlab exercise from the test files we write; ours too."""

import pytest

from vmlab.grading import otter as vo
from vmlab.grading.labs import lab02

otter = pytest.importorskip("otter", reason="pip install otter-grader (the test extra)")


def _namespace(student, right):
    order = lab02.exercises["split_address"].params(student)["order"]
    fields = lambda va: {"vpn2": va >> 30 & 511, "vpn1": va >> 21 & 511, "vpn0": va >> 12 & 511, "offset": va & 4095}
    return {"split_va": lambda va: [fields(va)[k] for k in (order if right else sorted(order))]}


def test_otters_grader_check_runs_the_exercise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VMLAB_STUDENT", "ivy")
    vo.write_tests("lab02", tmp_path / "tests")
    grader = otter.Notebook(tests_dir=str(tmp_path / "tests"))
    good = grader.check("split_address", _namespace("ivy", True))
    bad = grader.check("split_address", _namespace("ivy", False))
    assert good.grade == 1 and bad.grade == 0


def test_our_otter_style_check_gives_feedback(monkeypatch):
    monkeypatch.setenv("VMLAB_STUDENT", "ivy")
    fb = vo.Notebook("lab02").check("split_address", _namespace("ivy", False))
    assert not fb.passed and "expected" in repr(fb)
    assert vo.Notebook("lab02").check("split_address", _namespace("ivy", True)).passed
