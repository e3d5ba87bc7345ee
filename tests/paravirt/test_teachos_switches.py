"""teachos with its paravirtual switches: the same console, and the exits move from the
emulated device to the hypercall (console) and from SBI to a CSR write (timer)."""
from __future__ import annotations

import pytest

from vmlab.bench import nanobench as nb


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    disk = tmp_path_factory.mktemp("teachos") / "disk.img"
    disk.write_bytes(nb.DISK_TEXT.ljust(8 * 512, b"\0"))
    return {name: nb.run_teachos(opts, disk) for name, opts in
            (("plain", {}), ("pv", {"pv_console": True}), ("sstc", {"sstc_timer": True}))}


def test_every_switch_prints_the_same_console(runs):
    out = runs["plain"]["console"]
    assert "teachos: powering off" in out and "the disk says: Hello from sector 0" in out
    assert runs["pv"]["console"] == out == runs["sstc"]["console"]


def test_sbi_console_trades_device_exits_for_one_call_per_byte(runs):
    plain, pv = runs["plain"]["handlers"], runs["pv"]["handlers"]
    n = len(runs["plain"]["console"].encode())
    assert plain["mmio"] >= 2 * n                       # LSR poll + THR store per byte
    assert pv["mmio"] < plain["mmio"] - 2 * n + 40      # only the disk's registers are left
    assert pv["sbi"] - plain["sbi"] == n                # one putchar per byte
    assert runs["pv"]["exits"] < runs["plain"]["exits"]


def test_sstc_timer_trades_sbi_calls_for_csr_writes(runs):
    plain, sstc = runs["plain"]["handlers"], runs["sstc"]["handlers"]
    moved = plain["sbi"] - sstc["sbi"]
    assert moved > 3                                     # every tick's set_timer
    assert sstc["csr"] - plain["csr"] == moved           # became one stimecmp write
    assert runs["sstc"]["exits"] == runs["plain"]["exits"]
