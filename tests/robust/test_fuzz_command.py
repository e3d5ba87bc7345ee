"""``vmlab fuzz``: the long mode's report, its reproducer files and --replay."""
from __future__ import annotations

import json

from vmlab import cli
from vmlab.fuzz.campaign import Tally, record, report
from vmlab.fuzz.runner import Outcome


def test_a_short_campaign_reports_what_it_ran(tmp_path, capsys):
    rc = cli.main(["fuzz", "--bare", "--words", "6000", "--budget", "1000",
                   "--guest-words", "40", "--seed", "5", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "instructions run: 6,000" in out and "findings: none" in out
    assert "bare M 2,000" in out and "bare U+sv39 1,000" in out     # every mode had a turn


def test_findings_are_saved_once_per_kind_and_replayed(tmp_path, capsys):
    tally = Tally()
    for seed in (11, 12, 13, 14):
        o = Outcome("bare", seed, "S", True, 500, finding=f"ValueError: bad ring at {seed:#x}")
        record(tally, o, 40, tmp_path)
    (count, files, first), = tally.findings.values()
    assert count == 4 and len(files) == 3
    saved = json.loads(open(files[0]).read())
    assert saved == {"target": "bare", "seed": 11, "mode": "S", "paging": True, "words": 40,
                     "budget": 500, "finding": "ValueError: bad ring at 0xb"}
    assert "finding x4: ValueError" in report(tally)
    rc = cli.main(["fuzz", "--replay", files[0]])    # the bare machine holds for this seed
    assert rc == 0 and "no finding" in capsys.readouterr().out


def test_bad_reproducer_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    for text in ("", "{", '{"target": "bare"}', '{"target": "x", "seed": 1, "mode": "S", '
                 '"paging": false, "words": 9, "budget": 9}'):
        bad.write_text(text)
        assert cli.main(["fuzz", "--replay", str(bad)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("vmlab fuzz: ") and "bad.json" in err[0]
    assert cli.main(["fuzz", "--replay", str(tmp_path / "none.json")]) == 1


def test_the_paths_campaign_runs_each_guest_both_ways(tmp_path, capsys):
    rc = cli.main(["fuzz", "--paths", "--words", "2500", "--budget", "500",
                   "--guest-words", "60", "--seed", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "vmlab fuzz: paths" in out and "findings: none" in out and "paths S+sv39 500" in out
    repro = tmp_path / "paths.json"                 # a paths reproducer replays both ways
    repro.write_text(json.dumps({"target": "paths", "seed": 7, "mode": "U", "paging": True,
                                 "words": 60, "budget": 500}))
    assert cli.main(["fuzz", "--replay", str(repro)]) == 0
    assert "no finding" in capsys.readouterr().out
