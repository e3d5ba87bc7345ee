"""A class graded through a scenario of method calls, expected values from the solution class."""
import pytest

from vmlab.grading.artifacts import collect_one
from vmlab.grading.checkers import PythonCalls
from vmlab.grading.exercise import Assignment, Case


class RoundRobin:                                   # the instructor's solution
    def __init__(self, n):
        self.n, self.last = n, -1

    def pick(self, runnable):
        for step in range(1, self.n + 1):
            v = (self.last + step) % self.n
            if v in runnable:
                self.last = v
                return v
        return None


class AlwaysFirst(RoundRobin):                      # a student's wrong policy
    def pick(self, runnable):
        return min(runnable) if runnable else None


def _scenarios(params, rng):
    def scenario(r):
        n = params["vcpus"]
        return [[n], [["pick", [sorted(r.sample(range(n), r.randrange(1, n + 1)))]] for _ in range(12)]]
    return [Case({"args": scenario(rng)}, hidden=i > 0, label=f"scenario {i}") for i in range(3)]


hw = Assignment("sched", course="t")
ex = hw.exercise(points=3, checker=PythonCalls("Policy", _scenarios, solution=RoundRobin,
                                               driver="vmlab.grading.drivers:methods"))(
    lambda rng: {"vcpus": rng.randrange(3, 6)})


def _grade(cls, student="s1"):
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True, secret="k")
    arts = {k: collect_one(spec, {"Policy": cls}) for k, spec in ex.requests(p, cases).items()}
    return ex.check(arts, p, cases)


def test_the_solution_class_scores_full_and_a_wrong_policy_does_not():
    assert _grade(RoundRobin).score == 3
    assert _grade(AlwaysFirst).score < 3


def test_a_class_that_raises_is_an_answer_not_a_crash():
    class Broken(RoundRobin):
        def pick(self, runnable):
            raise RuntimeError("oops")
    outcome = _grade(Broken)
    assert outcome.score == 0 and "RuntimeError" in outcome.lines[0].text


def test_only_vmlabs_drivers_may_be_named():
    from vmlab.grading.drivers import resolve
    with pytest.raises(ValueError):
        resolve("os:system")
