"""Floating point in the disassembler: the F/D corpus files of the assembler's tests, built by
GNU as + ld (so the words are GNU's, not ours), must list exactly as ``objdump -d`` lists them,
with and without aliases, every rounding mode included."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from objdump_oracle import objdump
from vmlab.disasm import disassemble_file

sys.path.insert(0, str(Path(__file__).parents[1] / "asm"))
from asm_oracle import gnu_march, march_of  # noqa: E402

CORPUS = Path(__file__).parents[1] / "asm" / "corpus"
FD_FILES = sorted(p for p in CORPUS.glob("*_fd_*.s"))


def test_there_are_fd_files():
    assert len(FD_FILES) >= 6


def _gnu_elf(path: Path, tmp_path: Path, gnu_as: str, gnu_ld: str) -> Path:
    obj, elf = tmp_path / "t.o", tmp_path / "t.elf"
    subprocess.run([gnu_as, f"-march={gnu_march(march_of(path.read_text()))}", "-mno-relax",
                    "-o", str(obj), str(path)], check=True)
    subprocess.run([gnu_ld, "-Ttext=0x80000000", "-e", "0x80000000", "-o", str(elf), str(obj)],
                   check=True)
    return elf


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
@pytest.mark.parametrize("path", FD_FILES, ids=lambda p: p.name)
def test_fd_listing_is_objdumps(path, aliases, tmp_path, gnu_as, gnu_ld, gnu_objdump):
    elf = _gnu_elf(path, tmp_path, gnu_as, gnu_ld)
    theirs = objdump(gnu_objdump, elf, "-d", *([] if aliases else ["-M", "no-aliases"]))
    assert disassemble_file(elf, aliases=aliases).text() == theirs
    assert "\tf" in theirs      # floating-point instructions really are in the listing
