"""vmlab bench --hv's CPU-bound figure: bare and guest alternated, timed in CPU seconds."""
from __future__ import annotations

from vmlab.bench import hv as bench


def test_cpu_bound_alternates_and_keeps_the_fastest_of_each():
    c = bench.cpu_bound(300_000, repeats=3)
    assert c["same_checksum"] and c["runs"] == 3
    bare, guest = c["bare"], c["guest"]
    assert bare["checksum"] == guest["checksum"]
    # the guest runs the bare program (plus at most a few instructions around its exits)
    assert abs(guest["instructions"] - bare["instructions"]) < 100
    assert 0 < guest["exits"] < 100                 # CPU-bound: almost no exits
    for r in (bare, guest):                         # MIPS per CPU second, and per wall second
        assert r["mips"] == r["instructions"] / r["cpu_seconds"] / 1e6
        assert r["wall_mips"] == r["instructions"] / r["seconds"] / 1e6
    assert c["ratio"] == guest["mips"] / bare["mips"]
    assert c["spread"][0] <= c["median_pair"] <= c["spread"][1]
