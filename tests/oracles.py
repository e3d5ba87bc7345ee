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
