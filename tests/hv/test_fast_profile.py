"""vmlab.bench.exit_profile: perf's samples of an exit benchmark, named by function."""
from __future__ import annotations

import shutil

import pytest

from vmlab.bench import exit_profile


def test_unknown_kind_is_one_line_and_status_1(capsys):
    assert exit_profile.main(["--kind", "no such exit"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown exit kind 'no such exit'" in err


def test_names_of_numba_functions_are_shortened():
    answer = ("vmlab::hv::fast_run::fast_run[abi:v16][abi:c8tJTIeF](Array<long long, 2, C, "
              "mutable, aligned>, long long) + 1234 in section .text of <in-memory@0x5592>")
    assert exit_profile._short(answer) == "hv.fast_run.fast_run"
    assert exit_profile._short("NRT_decref + 9 in section .ltext of <in-memory@0x1>") == "NRT_decref"
    assert exit_profile._short("No symbol matches 0xffffffff813aecd3.") == "kernel"
    assert exit_profile._short("No symbol matches 0x7ff84ef17069.") == "other"


@pytest.mark.skipif(shutil.which("perf") is None or shutil.which("gdb") is None,
                    reason="needs perf and gdb (Debian: linux-perf, gdb)")
def test_csr_exits_spend_their_time_in_the_compiled_path():
    try:
        rows = exit_profile.profile("csr", True, seconds=1.0)
    except exit_profile.ProfileError as exc:       # e.g. no permission to attach here
        pytest.skip(str(exc))
    shares = dict((name, share) for share, name in rows)
    assert abs(sum(shares.values()) - 100) < 1e-6
    # the fast path's loop and the machine's hot loop are named, and are where the time goes
    assert shares.get("hv.fast_run.fast_run", 0) > 3
    assert shares.get("machine.hart.exec_hart", 0) > 3
    assert shares.get("other", 0) < 20


@pytest.mark.skipif(shutil.which("perf") is None or shutil.which("gdb") is None,
                    reason="needs perf and gdb (Debian: linux-perf, gdb)")
def test_fill_samples_are_of_the_runs_not_of_building_vms():
    """The page-fault kinds run in fresh VMs again and again; only the runs are sampled
    (perf's control fifo), so the fill path shows and the set-up does not dominate."""
    try:
        rows = exit_profile.profile("fill backed", True, seconds=2.0)
    except exit_profile.ProfileError as exc:
        pytest.skip(str(exc))
    shares = dict((name, share) for share, name in rows)
    assert shares.get("hv.fast_run.fast_run", 0) > 3
    assert shares.get("other", 0) < 20
    assert shares.get("gc_collect_main", 0) < 5     # (the set-up's garbage: 8 % when sampled)
