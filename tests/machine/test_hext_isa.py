"""The hypervisor extension in the table, the assembler and the disassembler, against GNU.

Every H row (HLV, HLVX, HSV, HFENCE) with random operands: vmlab's assembler must give GNU
as's bytes (``-march=rv64gch``), and a GNU-built ELF of them must list exactly as
``objdump -d`` lists it, with and without aliases.  The H CSRs are named as objdump names them.
"""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from vmlab.asm import assemble
from vmlab.disasm import disassemble_file
from vmlab.isa import CSR_BY_NAME, INSTRUCTIONS
from vmlab.isa.causes import EXCEPTIONS

sys.path.insert(0, str(Path(__file__).parents[1] / "asm"))
sys.path.insert(0, str(Path(__file__).parents[1] / "disasm"))
from asm_gen import random_values, row_text  # noqa: E402
from asm_oracle import gnu_sections  # noqa: E402
from objdump_oracle import objdump  # noqa: E402

MARCH = "rv64gch"
H_ROWS = [r for r in INSTRUCTIONS if r.ext == "H"]
H_CSRS = ("hstatus hedeleg hideleg hie hip hvip hgeie hgeip hcounteren htimedelta htval htinst "
          "hgatp henvcfg vsstatus vsie vstvec vsscratch vsepc vscause vstval vsip vsatp "
          "mtval2 mtinst").split()


def _source(seed: int) -> str:
    rnd = random.Random(seed)
    lines = [row_text(row, random_values(row, rnd)) for _ in range(4) for row in H_ROWS]
    # the operand-less and one-operand forms of the fences, and every H CSR by name
    lines += ["hfence.vvma", "hfence.gvma", "hfence.vvma a3", "hfence.gvma t1"]
    lines += [f"csrrw a0,{name},a1" for name in H_CSRS]
    return "".join(f"{line}\n" for line in lines)


def test_every_h_instruction_is_in_the_table():
    names = {r.mnemonic for r in H_ROWS}
    assert names == {"hlv.b", "hlv.bu", "hlv.h", "hlv.hu", "hlvx.hu", "hlv.w", "hlv.wu",
                     "hlvx.wu", "hlv.d", "hsv.b", "hsv.h", "hsv.w", "hsv.d", "hfence.vvma",
                     "hfence.gvma"}


def test_h_csrs_and_causes_are_in_the_table():
    for name in H_CSRS:
        assert name in CSR_BY_NAME, name
    assert CSR_BY_NAME["hstatus"].field("SPV").lsb == 7
    assert CSR_BY_NAME["mstatus"].field("MPV").lsb == 39
    assert CSR_BY_NAME["hgatp"].field("VMID").mask == ((1 << 14) - 1) << 44
    assert [EXCEPTIONS[c].name for c in (20, 21, 22, 23)] == [
        "fetch_guest_page_fault", "load_guest_page_fault", "virtual_instruction",
        "store_guest_page_fault"]


def test_h_rows_need_h_in_march():
    with pytest.raises(Exception, match="H extension"):
        assemble("hlv.d a0,(a1)\n", march="rv64gc")


@pytest.mark.parametrize("seed", range(2))
def test_assembler_matches_gnu_as(seed, gnu_as, gnu_ld):
    src = _source(seed)
    text = assemble(src, march=MARCH).sections[".text"]
    theirs = gnu_sections(src, {".text": text.addr}, gnu_as, gnu_ld, MARCH)[".text"]
    assert text.data.hex() == theirs.hex()


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
def test_disassembler_matches_objdump(aliases, tmp_path, gnu_as, gnu_ld, gnu_objdump):
    (tmp_path / "h.s").write_text(_source(7))
    obj, elf = tmp_path / "h.o", tmp_path / "h.elf"
    subprocess.run([gnu_as, f"-march={MARCH}", "-mno-relax", "-o", obj, tmp_path / "h.s"],
                   check=True)
    subprocess.run([gnu_ld, "-Ttext=0x80000000", "-e", "0x80000000", "-o", elf, obj], check=True)
    theirs = objdump(gnu_objdump, elf, "-d", *([] if aliases else ["-M", "no-aliases"]))
    assert disassemble_file(elf, aliases=aliases).text() == theirs
    assert "hlvx.wu" in theirs and "hfence.gvma" in theirs and "vsatp" in theirs
