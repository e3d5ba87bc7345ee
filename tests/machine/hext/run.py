"""Build an H-extension conformance program and run it on QEMU and on vmlab.

A program is a body for ``harness.s`` (its M-mode code, then optionally a line ``#DATA``
and data such as page tables).  GNU as builds one ELF; QEMU (``-cpu rv64,h=true``) and
vmlab's machine each run that same ELF, and each prints the words the program recorded.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from oracles import qemu_words
from vmlab.machine import Machine

HERE = Path(__file__).parent
PROGRAMS = sorted(p for p in HERE.glob("*.s") if p.name != "harness.s")
RAM = 64 << 20


def source(program: Path | str) -> str:
    """The harness with a program (a file, or its text) pasted in."""
    text = program.read_text() if isinstance(program, Path) else program
    body, _, data = text.partition("\n#DATA\n")
    return (HERE / "harness.s").read_text().replace("#BODY", body).replace("#DATA", data)


def build(program: Path | str, tmp: Path, gnu_as: str, gnu_ld: str, name: str = "",
          raw_tinst: bool = False) -> Path:
    """The program's ELF.  ``raw_tinst``: record transformed instructions in mtinst/htinst
    as they are (else as 0, as QEMU 7.2 writes them: see harness.s)."""
    stem = program.stem if isinstance(program, Path) else name or "program"
    src, obj, elf = tmp / f"{stem}.s", tmp / f"{stem}.o", tmp / f"{stem}.elf"
    src.write_text(source(program))
    defsym = ["--defsym", "RAW_TINST=1"] if raw_tinst else []
    subprocess.run([gnu_as, "-march=rv64gch", "-mno-relax", *defsym, "-o", obj, src], check=True)
    subprocess.run([gnu_ld, "-N", "-Ttext=0x80000000", "-e", "_start", "--no-warn-rwx-segments", "-o", elf, obj], check=True)
    return elf


def words(text: str) -> list[int]:
    return [int(line, 16) for line in text.split()]


def run_qemu(qemu: str, elf: Path) -> list[int]:
    """The words the program printed on QEMU's hart with H (``qemu``: found by the caller)."""
    return qemu_words(elf, "rv64,h=true", timeout=20)


def run_vmlab(elf: Path, budget: int = 2_000_000) -> list[int]:
    return words(run_machine(elf, budget).console_output)


def run_machine(elf: Path, budget: int = 2_000_000) -> Machine:
    """Run the program on a fresh vmlab machine to its power-off; the machine."""
    m = Machine(ram_size=RAM)
    entry = m.load_elf(elf.read_bytes())
    m.pc = entry
    r = m.run(instructions=budget)
    assert r.reason == "halt", f"vmlab stopped with {r.reason} at {r.pc:#x}"
    return m
