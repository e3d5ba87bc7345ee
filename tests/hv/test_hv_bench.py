"""The hypervisor benchmark runs its guests to the end (no timing asserts: numbers vary)."""
from __future__ import annotations

from vmlab.hv import bench


def test_exit_microbenchmarks_exit_as_intended():
    rates = bench.exit_rates(50)
    assert set(rates) == {"csr", "sbi", "page fault", "mmio"}
    assert all(r["exits"] >= 50 for r in rates.values())


def test_cpu_bound_guest_computes_the_bare_checksum():
    from vmlab.machine import bench as machine_bench
    work = machine_bench.build(1)
    guest = bench.run_guest(work)
    assert guest["checksum"] == machine_bench.run_vmlab(work).checksum
    assert guest["exits"] < 100                    # CPU-bound: almost no exits
