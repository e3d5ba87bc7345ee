"""Lab 04's load-balancing project: scenarios, the driver, and the graded exercise."""
from __future__ import annotations

import random

import pytest
from balance_solution import Manager

from vmlab.grading import student
from vmlab.hv.sched import balance


def test_scenarios_are_per_student_and_balanceable():
    a = balance.make_scenario(random.Random(1))
    assert a == balance.make_scenario(random.Random(1))
    assert a != balance.make_scenario(random.Random(2))
    for seed in range(20):
        s = balance.make_scenario(random.Random(seed))
        assert len(s["vms"]) > s["pcpus"]
        assert sum(int(d[:-1]) for d in s["vms"]) <= 70 * s["pcpus"]


def test_doing_nothing_leaves_everything_on_pcpu_0():
    r = balance.run_manager(None, {"pcpus": 2, "vms": ["40%", "30%", "30%", "20%"],
                                   "intervals": 4, "interval_ns": 500_000})
    assert r["utilisation"][1] == 0 and r["utilisation"][0] > 0.99
    assert r["pin_changes"] == 0


def test_the_solution_balances_and_is_graded_so():
    fb = student.check("lab04", "load_balance", {"rebalance": Manager}, "student-a")
    assert "all correct" in str(fb), str(fb)
    hidden = balance.make_scenario(random.Random(7))
    r = balance.run_manager(Manager(), hidden)
    assert r["relative_stdev"] <= 0.05 and r["pin_changes"] <= 4 * len(hidden["vms"])


@pytest.mark.parametrize("manager, why", [
    (lambda conn: None, "relative_stdev': 1."),
    (lambda conn: [d.pinVcpu(0, (i % 2 == 0, i % 2 == 1)) or d.pinVcpu(0, (True, True))
                   for i, d in enumerate(conn.listAllDomains())], "pin_changes"),
])
def test_bad_managers_fail(manager, why):
    fb = str(student.check("lab04", "load_balance", {"rebalance": manager}, "student-b"))
    assert "not yet" in fb and why in fb, fb
