"""From an assembler's final state to a :class:`Program` (image, symbols, ELF)."""
from __future__ import annotations

from vmlab.asm.elf import write_elf
from vmlab.asm.march import float_abi
from vmlab.asm.program import Program, SectionInfo


def _visible(name: str) -> bool:
    """Names a user wrote: not numeric local labels (``1:``) and not our hidden ones."""
    return not name.startswith(".L$vm") and "\x02" not in name


def build_program(asm, base: int, filename: str) -> Program:
    placed = [s for s in asm.placed if s.size or s.name == ".text"]
    sections = {s.name: SectionInfo(s.name, s.addr, s.size, s.flags, s.nobits, s.data, s.align)
                for s in placed}
    symbols, elf_symbols = {}, []
    for name, sym in asm.symbols.items():
        if not _visible(name):
            continue
        if sym.is_label:
            value, sec = asm.address(sym), sym.section.name
        elif sym.value is not None:
            value, sec = sym.value, None
        elif sym.tree is not None:
            try:
                value, sec = asm.resolve_final(name), None
            except Exception:   # e.g. ".set x, undefined_y" never used: GNU as keeps quiet too
                continue
        else:
            continue  # only named in .globl/.type, never defined
        symbols[name] = value
        if not name.startswith(".L"):
            size = asm.value(sym.size) if sym.size is not None else 0
            elf_symbols.append((name, value, sec, sym.binding, sym.type, size))
    loaded = [s for s in placed if not s.nobits and s.size and "a" in s.flags]
    image = bytearray()
    if loaded:
        end = max(s.addr + s.size for s in loaded)
        image = bytearray(end - base)
        for s in loaded:
            image[s.addr - base:s.addr - base + s.size] = s.data
    entry = symbols.get("_start", base)
    elf = write_elf([sections[s.name] for s in placed], elf_symbols, entry, asm.has_c,
                    float_abi(asm.extensions))
    order = sorted(sections.items(), key=lambda kv: ("a" not in kv[1].flags, kv[1].addr))
    return Program(base, bytes(image), dict(order),
                   symbols, entry, elf, asm.line_map, filename,
                   list(asm.warnings))
