"""The robustness harness's short mode: bounded hypothesis runs that fit CI on 2 cores."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings

# Deterministic (same examples every run) and with no per-example deadline: the first
# example of a test may include compiling the machine.  Budgets bound each run instead.
settings.register_profile("robust", derandomize=True, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate],   # a seed needs no shrinking
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="session", autouse=True)
def compiled():
    """Compile the machine once, outside every watchdog."""
    from vmlab.fuzz.runner import fuzz_one
    fuzz_one("bare", 0, "S", True, 16, 100, watchdog=0)
