"""Real third-party oracles the tests need, and what to do when one is missing.

Oracles (GNU binutils, gdb, QEMU, Debian's firmware packages, unicorn, ...) are real tools.
On a user's machine a missing oracle skips the test with the package to install; in CI
(``CI=true``) it fails, because a green run that skipped its oracles proves nothing.

A plain module (not conftest.py) so that test files can import it by name: several
conftest.py files may exist, and ``import conftest`` would find whichever came first.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

OPENSBI_FW_JUMP = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
UBOOT_SMODE = Path("/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf")
UBOOT_MMODE = Path("/usr/lib/u-boot/qemu-riscv64/uboot.elf")


def missing(what: str, package: str):
    """Fail in CI, skip elsewhere, naming the Debian/PyPI package that provides ``what``."""
    msg = f"{what} not found: install the '{package}' package (listed in binder/apt.txt, .ci/apt.txt or pyproject.toml)"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(name, package)
    return path


def need_file(path: Path, package: str) -> Path:
    if not path.exists():
        missing(str(path), package)
    return path


def need_module(name: str, package: str | None = None):
    try:
        return __import__(name)
    except ImportError:
        missing(f"Python module {name}", package or name)


#: M-mode code that prints {count} 64-bit words from ``out_0`` on, one hex line each, on the
#: virt board's UART, then powers off through sifive_test: how a bare test program reports
#: its results the same way on QEMU and on vmlab
PRINT_WORDS_AND_EXIT = """
    la s0, out_0
    li s1, {count}
    li s2, 0x10000000           # the UART's transmit register
1:  ld a0, 0(s0)
    li t1, 60
2:  srl t2, a0, t1              # one hex digit per nibble, most significant first
    andi t2, t2, 15
    li t3, 10
    blt t2, t3, 3f
    addi t2, t2, 39             # 'a' - '0' - 10
3:  addi t2, t2, 48
    sb t2, 0(s2)
    addi t1, t1, -4
    bgez t1, 2b
    li t2, 10
    sb t2, 0(s2)
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 1b
    li t0, 0x100000             # sifive_test: power off
    li t1, 0x5555
    sw t1, 0(t0)
4:  j 4b
"""


def qemu_words(elf, cpu: str = "rv64", timeout: int = 300) -> list[int]:
    """Run a bare ELF on QEMU's virt board (``-cpu cpu``, no firmware) to its power-off; the
    hex words it printed.  The console goes to a file, not a pipe: QEMU's serial drops bytes
    when a pipe is full (a busy host reading it late), and a file never is."""
    import subprocess
    import tempfile
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    with tempfile.TemporaryDirectory() as tmp:
        console = Path(tmp) / "console.txt"
        subprocess.run([qemu, "-M", "virt", "-cpu", cpu, "-m", "64M", "-bios", "none",
                        "-display", "none", "-serial", f"file:{console}", "-monitor", "none",
                        "-kernel", str(elf)], capture_output=True, timeout=timeout, check=True)
        return [int(w, 16) for w in console.read_text().split()]
