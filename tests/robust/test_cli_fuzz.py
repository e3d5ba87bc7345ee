"""The command line under random argument vectors and malformed files.

Every subcommand gets random mixes of its own options (read from its parser, so new flags
are fuzzed too), bad numbers, huge sizes, unknown flags and malformed input files
(truncated and corrupted ELFs, empty files, random bytes, NUL bytes, directories).  The
promise: exit status 0, 1 or 2 (argparse usage), a short message, never a traceback.
Runs in-process through ``vmlab.cli.main`` (fast); a few cases as real subprocesses."""
from __future__ import annotations

import argparse
import importlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmlab import cli
from vmlab.fuzz.runner import Watchdog

HANG_S = 30

REPO = Path(__file__).resolve().parents[2]
NUMBERS = ["0", "-1", "-4096", "1e400", "nan", "inf", "infM", "0x", "08", "1_0", "99" * 40,
           "1T", "16G", "4G", "1M", "2M", "100000", "0xfffffffffffffffe", "", "é", "-n"]
#: what an argument can hold: anything but NUL (the OS passes argv as C strings)
ARG_TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=6)
UNKNOWN = ["--no-such-flag", "-Z", "--", "---", "-", "--ram=", "--insns==3"]
#: options that would leave the machine (networks, a cluster, processes) or run unbounded
NEVER = {"--scheduler", "--mirror", "--guest", "-j", "--jobs"}
#: appended last (argparse keeps the last value): every run is bounded
BOUND = {"run": ["-n", "3000"], "demo": ["--insns", "3000"]}


def malformed_files(root: Path) -> list[str]:
    """Truncated and corrupted ELFs, empty and random files, a directory, a missing path."""
    from vmlab.asm import assemble
    assemble("_start: li a0, 1\n j _start\n").write_elf(root / "good.elf")
    good = (root / "good.elf").read_bytes()
    rng = random.Random(16)
    blobs = {"empty.elf": b"", "trunc.elf": good[:40], "trunc2.elf": good[: len(good) // 2],
             "corrupt.elf": bytes(b ^ 0xFF if i % 7 == 3 else b for i, b in enumerate(good)),
             "random.bin": rng.randbytes(3000), "nul.s": b"nop\x00\nnop\n",
             "huge.s": b"li a0, " + b"9" * 5000 + b"\n", "rept.s": b".rept 1000000\n.rept 1000\nnop\n.endr\n.endr\n",
             "bad.ipynb": b"{\"cells\": [", "notjson.ipynb": rng.randbytes(200),
             "good.s": b"_start: li a0, 0\n j _start\n"}
    for name, data in blobs.items():
        (root / name).write_bytes(data)
    (root / "adir").mkdir(exist_ok=True)
    return [str(root / n) for n in blobs] + [str(root / "adir"), str(root / "missing.elf")]


def options(command: str, hv: bool) -> list[str]:
    name = cli.HV_COMMANDS[command][0] if hv else cli.COMMANDS[command][0]
    p = argparse.ArgumentParser()
    importlib.import_module(name).register(p)
    flags = [s for a in p._actions for s in a.option_strings
             if s not in NEVER and s not in ("-h", "--help")]
    choices = [c for a in p._actions if not a.option_strings and a.choices for c in a.choices]
    return flags + [c for c in choices if c != "fetch"]      # fetch would go to the network


def argv_for(draw, command: str, files: list[str], hv: bool) -> list[str]:
    opts = options(command, hv)
    token = st.one_of(st.sampled_from(opts), st.sampled_from(NUMBERS), st.sampled_from(files),
                      st.sampled_from(UNKNOWN), ARG_TEXT)
    argv = [command] + (["--hv"] if hv else []) + draw(st.lists(token, max_size=7))
    if command == "bench":
        argv.append("--no-such-flag")         # only argument parsing: never a benchmark
    return argv + BOUND.get(command, [])


def run_in_process(argv, capsys) -> tuple[int, str]:
    """Run ``vmlab ARGV``; a hang is stopped by the watchdog as Ctrl-C would (status 130)."""
    try:
        with Watchdog(HANG_S):
            rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        rc = 130
    out = capsys.readouterr()
    return rc, out.err


def check(argv, rc, err):
    assert rc != 130, f"{argv}: still running after {HANG_S} s with a bounded budget"
    assert rc in (0, 1, 2), (argv, rc, err[-2000:])
    assert "Traceback" not in err, (argv, err[-2000:])
    lines = err.strip().splitlines()
    if rc == 1 and lines:                     # a short message: a line or two, not a dump
        assert len(lines) <= 4 and all(len(x) < 400 for x in lines), (argv, err[-2000:])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return malformed_files(tmp_path_factory.mktemp("malformed"))


COMMANDS = [("asm", False), ("disasm", False), ("run", False),
            ("run", True), ("bench", False),
            ("guests", False), ("grade", False), ("assign", False), ("demo", False),
            ("fuzz", False)]


@pytest.mark.parametrize("command,hv", COMMANDS,
                         ids=["asm", "disasm", "run", "run-hv", "bench", "guests", "grade",
                              "assign", "demo", "fuzz"])
def test_random_argument_vectors(command, hv, files, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # -o, --out, --dump-dtb write here

    @settings(settings.get_profile("robust"), max_examples=12)
    @given(data=st.data())
    def one(data):
        argv = data.draw(st.composite(lambda draw: argv_for(draw, command, files, hv))())
        if command == "fuzz" and "--replay" not in argv:     # a short campaign at most
            argv += ["--words", "2000", "--budget", "1000", "--guest-words", "50", "--bare"]
        rc, err = run_in_process(argv, capsys)
        check(argv, rc, err)
    one()


@pytest.mark.parametrize("argv", [
    ["run", "{trunc.elf}", "-n", "1000"],
    ["run", "{random.bin}", "-n", "1000"],
    ["run", "--hv", "{random.bin}", "-n", "1000"],
    ["disasm", "{corrupt.elf}"],
    ["asm", "{huge.s}"],
    ["run", "-n", "1e400", "{good.s}"],
])
def test_as_real_processes(argv, files):
    """A few cases through the installed entry point, as a user types them."""
    by_name = {Path(f).name: f for f in files}
    argv = [by_name[a.strip("{}")] if a.startswith("{") else a for a in argv]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-m", "vmlab", *argv], capture_output=True, text=True,
                       timeout=60, env=env, errors="replace",
                       stdin=subprocess.DEVNULL)
    check(argv, p.returncode, p.stderr)
