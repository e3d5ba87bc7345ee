"""Writing an ELF64 executable: what objdump, gdb and QEMU's loader read.

The file is laid out as: ELF header, program headers (one PT_LOAD per allocated section:
"put these bytes at this address"), the section contents, then the symbol and string
tables, then the section headers that name everything.  No relocations: the program is
already linked at its final addresses.
"""
from __future__ import annotations

import struct

EM_RISCV = 243
ET_EXEC = 2
EF_RISCV_RVC = 0x1
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
PT_LOAD = 1
SHN_ABS = 0xFFF1
STB = {"local": 0, "global": 1, "weak": 2}
STT = {None: 0, "notype": 0, "object": 1, "function": 2}


class _Strings:
    """A string table: names joined by NUL bytes, each remembered by its offset."""

    def __init__(self):
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, name: str) -> int:
        if name not in self.index:
            self.index[name] = len(self.data)
            self.data += name.encode() + b"\0"
        return self.index[name]


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def write_elf(sections, symbols, entry: int, rvc: bool, float_abi: int = 0) -> bytes:
    """ELF bytes for placed ``sections`` (name, addr, size, flags, nobits, data, align) and
    ``symbols`` (name, value, section name or None for absolute, binding, type, size).

    ``float_abi`` is the e_flags float-ABI field (0x2 single, 0x4 double), as GNU as sets it
    for an -march with F or D."""
    shstr, strtab = _Strings(), _Strings()
    loads = [s for s in sections if "a" in s.flags]   # only allocated sections are loaded
    phnum = len(loads)
    out = bytearray(64 + 56 * phnum)
    placed = []
    for s in sections:
        align = max(s.align, 1)
        off = len(out)
        if not s.nobits:
            off = _align(off, align)
            out += bytes(off - len(out)) + s.data
        placed.append(off)
    # symbol table: locals first, as ELF requires
    index = {s.name: i + 1 for i, s in enumerate(sections)}
    ordered = sorted(symbols, key=lambda y: y[3] != "local")
    symtab = bytearray(24)
    first_global = 1 + sum(1 for y in ordered if y[3] == "local")
    for name, value, sec, binding, kind, size in ordered:
        shndx = index.get(sec, SHN_ABS) if sec is not None else SHN_ABS
        symtab += struct.pack("<IBBHQQ", strtab.add(name), STB[binding] << 4 | STT[kind], 0,
                              shndx, value & (2 ** 64 - 1), size or 0)
    headers = []
    for s, off in zip(sections, placed):
        flags = (SHF_ALLOC if "a" in s.flags else 0) | (SHF_WRITE if "w" in s.flags else 0) \
            | (SHF_EXECINSTR if "x" in s.flags else 0)
        headers.append((shstr.add(s.name), SHT_NOBITS if s.nobits else SHT_PROGBITS, flags,
                        s.addr, off, s.size, 0, 0, max(s.align, 1), 0))
    nsec = len(sections)
    out += bytes(_align(len(out), 8) - len(out))
    sym_off = len(out)
    out += symtab
    str_off = len(out)
    out += strtab.data
    headers.append((shstr.add(".symtab"), SHT_SYMTAB, 0, 0, sym_off, len(symtab), nsec + 2, first_global, 8, 24))
    headers.append((shstr.add(".strtab"), SHT_STRTAB, 0, 0, str_off, len(strtab.data), 0, 0, 1, 0))
    shstr_name = shstr.add(".shstrtab")
    shstr_off = len(out)
    out += shstr.data
    headers.append((shstr_name, SHT_STRTAB, 0, 0, shstr_off, len(shstr.data), 0, 0, 1, 0))
    out += bytes(_align(len(out), 8) - len(out))
    sh_off = len(out)
    out += bytes(64)  # the null section header
    for h in headers:
        out += struct.pack("<IIQQQQIIQQ", *h)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into("<16sHHIQQQIHHHHHH", out, 0, ident, ET_EXEC, EM_RISCV, 1, entry, 64, sh_off,
                     (EF_RISCV_RVC if rvc else 0) | float_abi, 64, 56, phnum, 64, len(headers) + 1, len(headers))
    for i, (s, off) in enumerate((s, off) for s, off in zip(sections, placed) if "a" in s.flags):
        pflags = 4 | (2 if "w" in s.flags else 0) | (1 if "x" in s.flags else 0)
        struct.pack_into("<IIQQQQQQ", out, 64 + 56 * i, PT_LOAD, pflags, off, s.addr, s.addr,
                         0 if s.nobits else s.size, s.size, max(s.align, 1))
    return bytes(out)
