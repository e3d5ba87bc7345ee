"""Damaged input never gives a traceback: truncated and corrupted ELF files end in one
:class:`DisasmError` line (exit status 1 on the command line), addresses outside 64 bits are
refused, and a reader that stops early (``| head``) ends the listing quietly."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from vmlab.asm import assemble
from vmlab.disasm import DisasmError, disassemble_file

REPO = Path(__file__).parents[2]
SOURCE = (REPO / "tests" / "asm" / "corpus" / "48_trap_handler.s").read_text()


@pytest.fixture(scope="module")
def elf_bytes() -> bytes:
    return assemble(SOURCE).elf


def _read(tmp_path: Path, data: bytes):
    path = tmp_path / "x.elf"
    path.write_bytes(data)
    try:
        return disassemble_file(path).text()
    except DisasmError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return None


def test_every_truncation_is_an_error_or_a_listing(elf_bytes, tmp_path):
    outcomes = [_read(tmp_path, elf_bytes[:n]) for n in range(4, len(elf_bytes), 7)]
    assert outcomes.count(None) > len(outcomes) // 2     # most prefixes really are broken


def test_corrupted_bytes_never_raise_anything_else(elf_bytes, tmp_path):
    rnd = random.Random(5)
    errors = 0
    for _ in range(400):
        data = bytearray(elf_bytes)
        for _ in range(rnd.randint(1, 6)):
            # mostly the headers (ELF, program, section), where damage changes the structure
            at = rnd.choice([rnd.randrange(64), rnd.randrange(len(data) - 320, len(data)),
                             rnd.randrange(len(data))])
            data[at] = rnd.randrange(256)
        errors += _read(tmp_path, bytes(data)) is None
    assert errors > 0


def _cli(*argv: str, stdin=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "vmlab", *argv], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_truncated_elf_is_one_line(elf_bytes, tmp_path):
    path = tmp_path / "cut.elf"
    path.write_bytes(elf_bytes[:100])
    r = _cli("disasm", str(path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "not a valid ELF file" in r.stderr


@pytest.mark.parametrize("base", ["-4096", "-1", "0x10000000000000000"])
def test_cli_refuses_addresses_outside_64_bits(base, tmp_path):
    path = tmp_path / "raw.bin"
    path.write_bytes(bytes(16))
    r = _cli("disasm", str(path), "--base", base)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "0..0xffffffffffffffff" in r.stderr


def test_base_near_the_top_wraps_like_addresses_do(tmp_path):
    path = tmp_path / "raw.bin"
    path.write_bytes(bytes.fromhex("1300000013000000") * 8)
    listing = disassemble_file(path, base=(1 << 64) - 16)
    assert [i.mnemonic for i in listing.instructions] == ["nop"] * 16


def test_cli_output_into_a_closed_pipe_is_quiet(elf_bytes, tmp_path):
    path = tmp_path / "big.elf"
    path.write_bytes(assemble("nop\n" * 20000).elf)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "vmlab", "disasm", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()          # what `| head -1` does after its line
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0 and err == ""
