"""The assembler's ELF output is a real executable that GNU gdb understands.

gdb is a second, independent ELF reader (besides objdump and pyelftools): it must find the
entry point and every global symbol at the address the assembler reports, and decode the
first instructions to what vmlab's own disassembler prints.
"""
from __future__ import annotations

import re
import subprocess

from oracles import need_tool
from vmlab import guests
from vmlab.asm import assemble
from vmlab.disasm import disassemble


def gdb(elf_path, *commands: str) -> str:
    exe = need_tool("gdb-multiarch", "gdb-multiarch")
    args = [exe, "-batch", "-nx"]
    for c in commands:
        args += ["-ex", c]
    return subprocess.run(args + [str(elf_path)], capture_output=True, text=True, timeout=60,
                          check=True).stdout


def test_gdb_finds_symbols_entry_and_instructions(tmp_path):
    program = assemble(guests.source("hello"), filename="hello.s")
    elf = tmp_path / "hello.elf"
    elf.write_bytes(program.elf)
    names = ["_start", "puts", "trap_handler", "greeting", "stack_top"]
    out = gdb(elf, "info files", *[f"info address {n}" for n in names], "x/6i _start")
    entry = re.search(r"Entry point: (0x[0-9a-f]+)", out)
    assert entry and int(entry.group(1), 16) == program.entry
    for n in names:
        m = re.search(rf'Symbol "{n}" is at (0x[0-9a-f]+)', out)
        assert m, f"gdb did not find {n}:\n{out}"
        assert int(m.group(1), 16) == program.symbols[n]
    text = program.sections[".text"]
    ours = disassemble(text.data, text.addr, symbols=program.symbols)[:6]
    theirs = re.findall(r"^\s*(?:=> )?0x([0-9a-f]+) <[^>]*>:\s+(\S+)\s*(\S*)", out, re.M)
    assert len(theirs) == 6
    for rec, (addr, mnem, ops) in zip(ours, theirs):
        assert rec.address == int(addr, 16)
        assert (rec.mnemonic, rec.operands.split(" ")[0]) == (mnem, ops)
