"""Lab 04's graded exercise: a pinning manager that balances the pCPUs, and stably.

The student writes ``rebalance(conn)`` (a function, or an object with ``__call__``), which the
driver :func:`vmlab.hv.sched.balance.run_manager` calls every interval of a scenario with a
libvirt-style connection.  Each student gets a scenario of their own; hidden scenarios
(other pCPU counts and loads) are drawn from the instructor's seed.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls
from vmlab.grading.exercise import Assignment, Case
from vmlab.hv.sched import balance

lab04 = Assignment("lab04", title="Lab 04 -- scheduling")
MAX_RELATIVE_STDEV = 0.05


def _scenarios(params, rng):
    mine = params["scenario"]
    return ([Case({"args": [mine]}, label=f"your scenario ({mine['pcpus']} pCPUs, "
                                          f"{len(mine['vms'])} VMs)")]
            + [Case({"args": [balance.make_scenario(rng)]}, True, f"hidden scenario {i + 1}")
               for i in range(2)])


def _limits(params, scenario):
    """What a good manager achieves: balanced within 5%, at most 4 pin changes per VM."""
    return {"max_relative_stdev": MAX_RELATIVE_STDEV,
            "max_pin_changes": 4 * len(scenario["vms"])}


def _within(got, want) -> bool:
    return (isinstance(got, dict) and got.get("relative_stdev", 1) <= want["max_relative_stdev"]
            and got.get("pin_changes", 1 << 30) <= want["max_pin_changes"])


@lab04.exercise(points=6, checker=PythonCalls("rebalance", _scenarios, _limits, _within,
                                              driver="vmlab.hv.sched.balance:run_manager"),
                prompt=lambda p: (
                    f"Write `rebalance(conn)` (a function, or a class: then each scenario "
                    f"gets a new instance, called like a function): it is called every 0.5 ms of simulated time "
                    f"with a libvirt-style connection to a host of **{p['scenario']['pcpus']} "
                    f"pCPUs** running **{len(p['scenario']['vms'])} VMs** that want "
                    f"{', '.join(p['scenario']['vms'])} of a pCPU, all pinned to pCPU 0 at "
                    f"the start. Pin vCPUs (`dom.pinVcpu`) so that over the second half of "
                    f"the run the pCPUs' utilisation has a standard deviation of at most 5% "
                    f"of its mean, with at most {4 * len(p['scenario']['vms'])} pin changes. "
                    f"Hidden scenarios have other pCPU counts and loads."))
def load_balance(rng):
    return {"scenario": balance.make_scenario(rng)}
