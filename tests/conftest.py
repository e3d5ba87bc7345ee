"""Shared test fixtures (the oracle helpers themselves live in ``oracles.py``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from oracles import (  # noqa: F401  (re-exported for older imports)
    IN_CI, OPENSBI_FW_JUMP, UBOOT_MMODE, UBOOT_SMODE, missing, need_file, need_module, need_tool,
)


@pytest.fixture(scope="session")
def gnu_as() -> str:
    return need_tool("riscv64-unknown-elf-as", "binutils-riscv64-unknown-elf")


@pytest.fixture(scope="session")
def gnu_ld() -> str:
    return need_tool("riscv64-unknown-elf-ld", "binutils-riscv64-unknown-elf")


@pytest.fixture(scope="session")
def gnu_objdump() -> str:
    return need_tool("riscv64-unknown-elf-objdump", "binutils-riscv64-unknown-elf")


@pytest.fixture(scope="session")
def opensbi_fw_jump() -> Path:
    return need_file(OPENSBI_FW_JUMP, "opensbi")


@pytest.fixture(scope="session")
def uboot_smode() -> Path:
    return need_file(UBOOT_SMODE, "u-boot-qemu")


@pytest.fixture(scope="session")
def uboot_mmode() -> Path:
    return need_file(UBOOT_MMODE, "u-boot-qemu")
