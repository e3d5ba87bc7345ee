"""The Python API notebooks use, the ELF and binary outputs, and the CLI."""
from __future__ import annotations

import io
import subprocess

from elftools.elf.elffile import ELFFile

from vmlab.asm import assemble
from vmlab.cli import main as vmlab_main

SRC = """
    .globl _start
_start:
    la   a0, msg
    call f
1:  j 1b
f:  ret
    .section .rodata
msg: .asciz "hi"
    .data
counter: .dword 7
    .bss
buf: .zero 16
"""


def test_program_fields():
    p = assemble(SRC)
    assert p.entry == p.symbols["_start"] == 0x80000000
    text = p.sections[".text"]
    assert text.addr == 0x80000000 and p.image[:text.size] == text.data
    assert p.symbols["msg"] == p.sections[".rodata"].addr
    assert p.image[p.symbols["msg"] - p.base:][:3] == b"hi\0"
    # .bss is not in the flat image (as with objcopy -O binary) but has an address
    assert p.sections[".bss"].nobits and p.symbols["buf"] >= p.base + len(p.image)
    # every instruction maps back to its source line
    assert p.line_map[0x80000000] == 4 and p.line_map[p.symbols["f"]] == 7


def test_entry_defaults_to_base_and_base_moves_everything():
    p = assemble("nop\nhere: j here\n", base=0x1000)
    assert p.entry == 0x1000 and p.symbols["here"] == 0x1002


def test_elf_is_readable_by_pyelftools():
    p = assemble(SRC)
    elf = ELFFile(io.BytesIO(p.elf))
    assert elf["e_machine"] == "EM_RISCV" and elf["e_type"] == "ET_EXEC"
    assert elf["e_entry"] == p.entry
    text = elf.get_section_by_name(".text")
    assert text["sh_addr"] == p.sections[".text"].addr and text.data() == p.sections[".text"].data
    syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    assert syms["_start"] == p.entry and syms["counter"] == p.symbols["counter"]
    loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
    assert {seg["p_vaddr"] for seg in loads} == {s.addr for s in p.sections.values()}


def test_elf_is_readable_by_objdump(tmp_path, gnu_objdump):
    p = assemble(SRC)
    path = tmp_path / "p.elf"
    p.write_elf(path)
    out = subprocess.run([gnu_objdump, "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert "<_start>:" in out and "<f>:" in out and "auipc" in out


def test_rodata_directive_is_section_rodata():
    """GNU as has no ``.rodata`` directive; vmlab accepts it as ``.section .rodata``."""
    a = assemble(".rodata\nx: .word 1\n.text\n_start: la a0, x\n")
    b = assemble(".section .rodata\nx: .word 1\n.text\n_start: la a0, x\n")
    assert a.image == b.image and a.symbols == b.symbols


def test_march_without_c_never_compresses():
    assert len(assemble("addi a0, a0, 1\n", march="rv64ima").image) == 4
    assert len(assemble("addi a0, a0, 1\n").image) == 2


def test_cli_writes_elf_and_binary(tmp_path):
    src = tmp_path / "p.s"
    src.write_text(SRC)
    elf, binary = tmp_path / "p.elf", tmp_path / "p.bin"
    assert vmlab_main(["asm", str(src), "-o", str(elf), "--binary", str(binary), "--base", "0x1000"]) == 0
    p = assemble(SRC, 0x1000)
    assert elf.read_bytes() == p.elf and binary.read_bytes() == p.image


def test_include_and_incbin_read_files_next_to_the_source(tmp_path):
    (tmp_path / "defs.s").write_text(".equ ANSWER, 42\n")
    (tmp_path / "blob.bin").write_bytes(bytes(range(8)))
    src = tmp_path / "main.s"
    src.write_text('.include "defs.s"\n_start: li a0, ANSWER\n.incbin "blob.bin", 2, 3\n')
    p = assemble(src.read_text(), filename=str(src))
    assert p.symbols["ANSWER"] == 42
    assert p.image == assemble("li a0, 42\n.byte 2, 3, 4\n").image


def test_sections_without_a_flag_are_not_loaded():
    """As with GNU as + ld: ``.section foo`` (no flags) and ``.comment`` take no memory."""
    p = assemble('.section foo\n.word 1\n.section .comment\n.string "v1"\n.text\n_start: nop\n')
    assert p.image == assemble("_start: nop\n").image
    assert p.sections["foo"].flags == "" and p.sections["foo"].data == b"\1\0\0\0"
    elf = ELFFile(io.BytesIO(p.elf))
    assert [seg["p_vaddr"] for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"] == [p.entry]


def test_windows_line_endings_assemble_the_same():
    src = SRC + '.section .rodata\n.ascii "a;b"  # comment\n'
    assert assemble(src.replace("\n", "\r\n")).image == assemble(src).image
