"""What the disassembler needs from an ELF file: code sections, symbols, and the target ISA.

An executable's ``.riscv.attributes`` section records the ISA it was built for
(``Tag_RISCV_arch``, e.g. ``rv64i2p1_m2p0_a2p1_f2p2_d2p2_c2p0_zicsr2p0_zifencei2p0``) and
the privileged-spec version; objdump decodes only those extensions and names only the CSRs
of that spec version, so we read them too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from vmlab.errors import UserError

#: what objdump decodes whatever the ISA string says: the privileged instructions, and the
#: retired ones it still knows (see the table's "N", "Sdext" and "Priv-1.9" rows)
ALWAYS = frozenset({"Priv", "N", "Sdext", "Priv-1.9"})
#: what a bare-metal RISC-V toolchain assumes when nothing says otherwise ("rv64gc")
DEFAULT_EXTENSIONS = frozenset({"I", "M", "A", "F", "D", "C", "Zicsr", "Zifencei"}) | ALWAYS

#: multi-letter extension names as the table spells them
_MULTI = {"zicsr": "Zicsr", "zifencei": "Zifencei", "zihintpause": "Zihintpause"}


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    #: "FUNC", "OBJECT", "NOTYPE", ...
    type: str
    #: "GLOBAL", "LOCAL", "WEAK"
    bind: str
    #: index of the section the symbol is defined in, or None for absolute symbols
    section: int | None
    #: position in the symbol table (a stable last resort for ordering)
    index: int


@dataclass(frozen=True)
class Section:
    name: str
    index: int
    address: int
    data: bytes
    executable: bool


@dataclass
class Image:
    """The parts of a binary the disassembler reads."""

    path: str
    format: str  # "elf64-littleriscv" or "binary"
    sections: list[Section]
    symbols: list[Symbol] = field(default_factory=list)
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    priv_spec: str = "1.12"
    #: a relocatable object (``.o``): its sections all start at 0, so objdump names an address
    #: inside the section being disassembled after that section's symbols
    relocatable: bool = False
    #: symbols named by dynamic relocations, by the address relocated (see Symbols)
    reloc_symbols: dict[int, Symbol] = field(default_factory=dict)
    #: mapping symbols: (address, section index, "x" for code or "d" for data, ISA string or
    #: "" (``$xrv64imac...`` says which extensions the code after it uses)), sorted
    mapping: list[tuple[int, int, str, str]] = field(default_factory=list)


def parse_arch(arch: str) -> frozenset[str]:
    """The table's extension names for an ISA string such as ``rv64imac_zicsr2p0``."""
    m = re.match(r"rv(32|64|128)", arch.lower())
    if m is None:
        return DEFAULT_EXTENSIONS
    parts = arch.lower()[m.end():].split("_")
    out = set(ALWAYS)
    for letter, _version in re.findall(r"([a-z])(\d+(?:p\d+)?)?", parts[0]):
        out.update({"I", "M", "A", "F", "D", "Zicsr", "Zifencei"} if letter == "g"
                   else {letter.upper()})
    for part in parts[1:]:
        name = re.sub(r"\d+(p\d+)?$", "", part)
        if len(name) == 1:
            out.add(name.upper())
        else:
            out.add(_MULTI.get(name, name.capitalize()))
    return frozenset(out)


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def parse_attributes(data: bytes) -> dict[int, int | str]:
    """File-level tags of a ``.riscv.attributes`` section (tag number -> value).

    Layout: ``'A'``, then subsections (u32 length, vendor name, then ``Tag_File`` (1),
    u32 size, then tag/value pairs).  RISC-V tags with an odd number hold strings, even
    ones unsigned LEB128 numbers.
    """
    tags: dict[int, int | str] = {}
    if not data or data[0] != ord("A"):
        return tags
    pos = 1
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "little")
        end, pos = pos + length, pos + 4
        vendor_end = data.index(b"\0", pos)
        vendor, pos = data[pos:vendor_end], vendor_end + 1
        while vendor == b"riscv" and pos < end:
            tag, pos = _uleb(data, pos)
            size = int.from_bytes(data[pos:pos + 4], "little")
            sub_end, pos = pos - 1 + size, pos + 4
            if tag != 1:  # only file-level attributes matter here
                pos = sub_end
                continue
            while pos < sub_end:
                tag, pos = _uleb(data, pos)
                if tag % 2:
                    s_end = data.index(b"\0", pos)
                    tags[tag], pos = data[pos:s_end].decode(), s_end + 1
                else:
                    tags[tag], pos = _uleb(data, pos)
        pos = end
    return tags


#: the name GNU as gives the labels it invents for %pcrel_lo to find its %pcrel_hi; objdump
#: never names an address after them
FAKE_LABEL = ".L0 "


def _printable(name: str) -> str:
    """A symbol name as objdump prints it: control characters in caret notation (``^B``)."""
    return "".join(f"^{chr(ord(c) ^ 0x40)}" if ord(c) < 0x20 or c == "\x7f" else c for c in name)


def is_mapping_symbol(name: str) -> bool:
    """``$x``/``$d`` (and ``$x<isa>``) mark where code and data start inside a section."""
    return name in ("$x", "$d") or name.startswith("$xrv")


def _symbols(elf: ELFFile) -> list[Symbol]:
    """The static symbol table, or the dynamic one when the file has none (as objdump does).

    Mapping symbols are included; :func:`split_mapping` separates them.
    """
    table = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
    if table is None:
        return []
    out = []
    for i, sym in enumerate(table.iter_symbols()):
        shndx = sym["st_shndx"]
        kind = sym["st_info"]["type"]
        if not sym.name or sym.name == FAKE_LABEL or kind in ("STT_SECTION", "STT_FILE") \
                or shndx in ("SHN_UNDEF", "SHN_COMMON"):
            continue
        out.append(Symbol(_printable(sym.name), sym["st_value"], sym["st_size"], kind[4:],
                          sym["st_info"]["bind"][4:], shndx if isinstance(shndx, int) else None,
                          i))
    return out


def _reloc_symbols(elf: ELFFile) -> dict[int, Symbol]:
    """Address -> symbol of the dynamic relocations that name one (``R_RISCV_64 load_file``).

    objdump names an address a dynamic relocation patches after the relocation's symbol:
    a function-pointer slot is shown as ``<load_file+...>`` rather than after the variable
    that happens to lie below it.  Relocations against absolute symbols don't count.
    """
    dynsym = elf.get_section_by_name(".dynsym")
    if dynsym is None:
        return {}
    link = next(i for i, sec in enumerate(elf.iter_sections()) if sec is dynsym or
                sec.name == ".dynsym")
    out: dict[int, Symbol] = {}
    for sec in elf.iter_sections():
        if sec["sh_type"] not in ("SHT_RELA", "SHT_REL") or sec["sh_link"] != link:
            continue
        for rel in sec.iter_relocations():
            index = rel["r_info_sym"]
            if index == 0 or rel["r_offset"] in out:
                continue
            sym = dynsym.get_symbol(index)
            if sym["st_shndx"] == "SHN_ABS":
                continue
            shndx = sym["st_shndx"]
            out[rel["r_offset"]] = Symbol(_printable(sym.name), sym["st_value"], sym["st_size"],
                                          sym["st_info"]["type"][4:], sym["st_info"]["bind"][4:],
                                          shndx if isinstance(shndx, int) else None, index)
    return out


def split_mapping(symbols: list[Symbol]) -> tuple[list[Symbol], list[tuple[int, int, str, str]]]:
    """Ordinary symbols, and the mapping symbols as sorted (address, section, kind, ISA)."""
    mapping = sorted((s.value, s.section, s.name[1], s.name[2:]) for s in symbols
                     if is_mapping_symbol(s.name) and s.section is not None)
    return [s for s in symbols if not is_mapping_symbol(s.name)], mapping


def read_elf(path: str | Path) -> Image:
    with open(path, "rb") as fh:
        try:
            elf = ELFFile(fh)
        except ELFError as exc:
            raise UserError(f"{path}: not a valid ELF file ({exc})") from None
        if elf["e_machine"] != "EM_RISCV":
            raise UserError(f"{path}: not a RISC-V ELF file (machine {elf['e_machine']})")
        if elf.elfclass != 64:
            # RV32 encodes some words differently (c.jal, c.flw ...): refuse, don't misread
            raise UserError(f"{path}: a 32-bit RISC-V ELF file; vmlab's table is RV64")
        sections = []
        for i, sec in enumerate(elf.iter_sections()):
            flags = sec["sh_flags"]
            if sec["sh_type"] == "SHT_NOBITS" or not flags & SH_FLAGS.SHF_ALLOC:
                continue
            sections.append(Section(sec.name, i, sec["sh_addr"], sec.data(),
                                    bool(flags & SH_FLAGS.SHF_EXECINSTR)))
        symbols, mapping = split_mapping(_symbols(elf))
        image = Image(str(path), f"elf{elf.elfclass}-littleriscv", sections, symbols,
                      relocatable=elf["e_type"] == "ET_REL", reloc_symbols=_reloc_symbols(elf),
                      mapping=mapping)
        attrs = elf.get_section_by_name(".riscv.attributes")
        if attrs is not None:
            tags = parse_attributes(attrs.data())
            if 5 in tags:
                image.extensions = parse_arch(str(tags[5]))
            if 8 in tags:
                image.priv_spec = f"{tags[8]}.{tags.get(10, 0)}"
        return image


def read_binary(path: str | Path, base: int) -> Image:
    """A raw binary: one section of code loaded at ``base`` (``objdump -b binary``)."""
    data = Path(path).read_bytes()
    return Image(str(path), "binary", [Section(".data", 1, base, data, True)])


def read_image(path: str | Path, base: int | None = None) -> Image:
    """An ELF file (recognised by its magic number) or a raw binary loaded at ``base``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    with open(p, "rb") as fh:
        is_elf = fh.read(4) == b"\x7fELF"
    return read_elf(p) if is_elf else read_binary(p, base or 0)
