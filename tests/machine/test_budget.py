"""A budget bounds the work, whatever the guest does.

A guest that only traps retires no instruction: an empty image (zeros: an illegal
compressed instruction, and mtvec = 0 sends the trap to an address with no memory), random
bytes, a jump to 0, an ecall with no handler.  Each trap is a step of the budget, so
``-n 1000`` (and ``Machine.run(instructions=1000)``) must end after 1000 steps with the
budget reason -- not run forever.
"""
from __future__ import annotations

import random
import subprocess
import sys

import pytest

from vmlab.machine import Machine

RAM = 0x8000_0000
JALR_ZERO = (0x00000067).to_bytes(4, "little")      # jalr x0, 0(x0): jump to 0
ECALL = (0x00000073).to_bytes(4, "little")          # ecall, mtvec = 0 (no handler)

GUESTS = {
    "empty": b"",
    "random": random.Random(16).randbytes(4096),
    "jump to 0": JALR_ZERO,
    "ecall without handler": ECALL,
}


@pytest.mark.parametrize("name", GUESTS)
def test_machine_run_ends_after_its_budget(name):
    m = Machine(ram_size=1 << 20)
    m.write_mem(RAM, GUESTS[name] or b"\0\0\0\0")
    m.pc = RAM
    r = m.run(instructions=1000)
    assert r.reason in ("budget", "halt")       # random bytes may hit sifive_test by chance
    assert r.instructions <= 1000
    if r.reason == "budget":
        assert r.instructions == 1000
    if name != "random":                        # at most the jump itself completes
        assert m.counters["instructions"] <= 1
        assert sum(m.counters["exceptions"].values()) >= 999


@pytest.mark.parametrize("name", GUESTS)
def test_cli_n_stops_a_guest_that_only_traps(name, tmp_path):
    image = tmp_path / "guest.bin"
    image.write_bytes(GUESTS[name])
    p = subprocess.run([sys.executable, "-m", "vmlab", "run", "--bios", "none", "--kernel",
                        str(image), "--ram", "16M", "-n", "1000"],
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert "Traceback" not in p.stderr
    assert p.returncode in (0, 1), p.stderr
