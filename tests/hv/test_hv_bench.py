"""The hypervisor benchmark runs its guests to the end (no timing asserts: numbers vary)."""
from __future__ import annotations

import pytest

from vmlab.bench import hv as bench


@pytest.mark.parametrize("fast", [True, False])
def test_exit_microbenchmarks_exit_as_intended(fast):
    rates = bench.exit_rates(50, fast)
    assert set(rates) == {"csr", "sbi time", "sbi base", "sbi putchar", "sbi dbcn", "sbi ipi",
                          "sbi rfence", "sfence", "page fault", "fill backed", "mmio",
                          "mmio clint"}
    # one exit of the intended kind per iteration, and hardly any from the set-up around it
    for name, r in rates.items():
        assert 50 <= r["exits"] <= 60, (name, r)
        assert r["per_second"] == r["exits"] / r["cpu_seconds"] > 0
        assert r["per_wall_second"] == r["exits"] / r["seconds"] > 0


def test_cpu_bound_guest_computes_the_bare_checksum():
    from vmlab.bench import machine as machine_bench
    work = machine_bench.build(1)
    guest = bench.run_guest(work)
    assert guest["checksum"] == machine_bench.run_vmlab(work).checksum
    assert guest["exits"] < 100                    # CPU-bound: almost no exits
