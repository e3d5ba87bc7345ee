"""Disassembling whole sections the way ``objdump -d`` lays them out.

objdump walks each code section from symbol to symbol.  Each stretch starts with a label
(``0000000080200000 <_start>:``); inside it, runs of zero bytes are shown as ``...``, bytes
under a data symbol (``OBJECT``) are dumped as hex and ASCII, and everything else is decoded
instruction by instruction.  Each instruction line shows its address, its bytes, the mnemonic,
the operands, the symbol a branch goes to (``<memcpy+0x1c>``) and, after ``#``, an address
the instruction computes from a preceding ``lui``/``auipc`` (so ``auipc a0,0x19`` followed by
``addi a0,a0,-34`` is annotated with the address it forms).

:class:`Listing` produces structured records (:class:`Instruction`, :class:`Label`, ...);
:func:`format_listing` turns them into objdump's text.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from vmlab.disasm.decode import TARGET, decode_word
from vmlab.disasm.elf import Image, Section, Symbol, parse_arch

#: objdump's thresholds: a run of at least this many zero bytes is shown as "..."
SKIP_ZEROES = 8
#: ... and so is a shorter tail than this at the end of a stretch (alignment padding)
SKIP_ZEROES_AT_END = 3
#: register numbers objdump treats specially in "# address" comments
_ZERO, _GP, _TP = 0, 3, 4
_MASK64 = (1 << 64) - 1


@dataclass(slots=True)
class Instruction:
    """One decoded instruction (or undecodable word), ready for a widget or a listing."""

    address: int
    size: int
    bytes: bytes
    mnemonic: str
    #: operand text as objdump prints it, including ``<symbol+off>`` after a target
    operands: str
    #: the branch/jump target address, or None
    target: int | None = None
    #: the symbol the target is in, as objdump writes it (``memcpy+0x1c``), or None
    symbol: str | None = None
    #: the address in objdump's ``# ...`` comment (computed from lui/auipc), or None
    comment: str | None = None

    @property
    def text(self) -> str:
        """``mnemonic operands`` plus the comment, as in objdump's last column."""
        out = f"{self.mnemonic}\t{self.operands}" if self.operands else self.mnemonic
        return out + (f" # {self.comment}" if self.comment else "")


@dataclass(frozen=True)
class Label:
    """A symbol (or the start of a section) where objdump prints ``addr <name>:``."""

    address: int
    name: str


@dataclass(frozen=True)
class Skip:
    """A run of zero bytes objdump leaves out (``...``)."""

    address: int
    size: int


@dataclass(frozen=True)
class DataLine:
    """Up to 16 bytes under a data symbol, dumped rather than disassembled."""

    address: int
    bytes: bytes


@dataclass
class SectionListing:
    name: str
    address: int
    size: int
    items: list = field(default_factory=list)

    @property
    def instructions(self) -> list[Instruction]:
        return [i for i in self.items if isinstance(i, Instruction)]


class Symbols:
    """Symbols sorted the way objdump sorts them, to name addresses and start stretches."""

    def __init__(self, symbols: list[Symbol], reloc_symbols: dict[int, Symbol] | None = None):
        self.sorted = sorted(symbols, key=_symbol_order)
        self.reloc_symbols = reloc_symbols or {}
        self.values = [s.value for s in self.sorted]
        gp = [s.value for s in symbols if s.name == "__global_pointer$"]
        self.gp = gp[0] if gp else None

    def __bool__(self) -> bool:
        return bool(self.sorted)

    def _first_at_or_below(self, address: int) -> int:
        """Index of the first symbol with the largest value <= address (0 if none)."""
        i = bisect.bisect_right(self.values, address) - 1
        if i < 0:
            return 0
        return bisect.bisect_left(self.values, self.values[i])

    def for_address(self, address: int, section: int | None) -> Symbol | None:
        """The symbol objdump names ``address`` after (in an operand or a comment).

        The symbol of a dynamic relocation at exactly that address, else the closest symbol
        at or below the address (preferring one in ``section`` among several at the same
        value); below every symbol, the lowest one.
        """
        if not self.sorted:
            return None
        if address in self.reloc_symbols:
            return self.reloc_symbols[address]
        i = self._first_at_or_below(address)
        j = i
        while j < len(self.sorted) and self.values[j] == self.values[i]:
            if self.sorted[j].section == section:
                return self.sorted[j]
            j += 1
        return self.sorted[i]

    def for_label(self, address: int, section: int) -> Symbol | None:
        """The symbol that names the stretch starting at ``address`` of ``section``: the
        closest one of that section at or below it, else the first one above it."""
        i = bisect.bisect_right(self.values, address)
        below = [s for s in self.sorted[:i] if s.section == section]
        if below:
            top = below[-1].value
            return next(s for s in below if s.value == top)
        return next((s for s in self.sorted[i:] if s.section == section), None)

    def next_in_section(self, after: int, section: int) -> Symbol | None:
        """The first symbol of ``section`` whose value is greater than ``after``."""
        i = bisect.bisect_right(self.values, after)
        return next((s for s in self.sorted[i:] if s.section == section), None)


def _symbol_order(s: Symbol):
    """objdump's order: by value; among equals functions first, then data objects, globals,
    larger sizes, names not starting with '.', and finally by name."""
    return (s.value, s.type != "FUNC", s.type != "OBJECT", s.bind == "LOCAL",
            s.bind != "GLOBAL", -s.size, s.name.startswith("."), s.name)


def name_address(symbols: Symbols, address: int, section: int | None) -> str | None:
    """``sym``, ``sym+0x10`` or ``sym-0x4`` for ``address``; None without symbols."""
    sym = symbols.for_address(address, section)
    if sym is None:
        return None
    return _offset_name(sym.name, address - sym.value)


def _offset_name(name: str, delta: int) -> str:
    if delta > 0:
        return f"{name}+{delta:#x}"
    if delta < 0:
        return f"{name}-{-delta:#x}"
    return name


def instruction_length(parcel: int) -> int:
    """Length in bytes of the instruction whose first 16 bits are ``parcel``.

    The low bits say it: ``xx`` != 11 is 16-bit, ``bbb11`` (bbb != 111) is 32-bit,
    ``011111`` 48-bit, ``0111111`` 64-bit, ``1111111`` 80 bits and longer.
    """
    if parcel & 0x3 != 0x3:
        return 2
    if parcel & 0x1F != 0x1F:
        return 4
    if parcel & 0x3F == 0x1F:
        return 6
    if parcel & 0x7F == 0x3F:
        return 8
    nnn = (parcel >> 12) & 7
    return 10 + 2 * nnn if nnn != 7 else 2


class Disassembler:
    """Disassembles an :class:`Image` into section listings (see :meth:`sections`)."""

    def __init__(self, image: Image, aliases: bool = True):
        self.image = image
        self.aliases = aliases
        self.symbols = Symbols(image.symbols, image.reloc_symbols)
        #: per section: sorted (address, "x"/"d", extensions or None) from mapping symbols
        self._marks: dict[int, list[tuple[int, str, frozenset | None]]] = {}
        isas: dict[int, frozenset | None] = {}
        for address, section, kind, isa in image.mapping:
            # a bare $x keeps the ISA of the $x<isa> before it
            isas[section] = parse_arch(isa) if isa else isas.get(section)
            self._marks.setdefault(section, []).append((address, kind, isas[section]))
        #: value of each register as far as objdump follows lui/auipc (None: unknown)
        self.hi: list[int | None] = [None] * 32

    def sections(self) -> list[SectionListing]:
        return [self.section(s) for s in self.image.sections if s.executable and s.data]

    def section(self, sec: Section) -> SectionListing:
        out = SectionListing(sec.name, sec.address, len(sec.data))
        offset, end = 0, len(sec.data)
        sym = self.symbols.for_label(sec.address, sec.index)
        while offset < end:
            address = sec.address + offset
            out.items.append(self._label(sym, address, sec))
            if sym is not None and sym.value > address:
                nxt = sym
            else:
                nxt = self.symbols.next_in_section(sym.value, sec.index) if sym else None
            stop = end if nxt is None else nxt.value - sec.address
            if not offset < stop <= end:
                stop = end
            as_data = (self.image.format != "binary" and sym is not None
                       and sym.section == sec.index and sym.value <= address
                       and sym.type == "OBJECT")
            out.items.extend(self._stretch(sec, offset, stop, as_data))
            offset, sym = stop, nxt
        return out

    def _label(self, sym: Symbol | None, address: int, sec: Section) -> Label:
        if sym is None:
            return Label(address, _offset_name(sec.name, address - sec.address))
        return Label(address, _offset_name(sym.name, address - sym.value))

    def _stretch(self, sec: Section, offset: int, stop: int, as_data: bool):
        data = sec.data
        while offset < stop:
            zeros = _zero_run(data, offset, stop)
            if zeros >= SKIP_ZEROES or (offset + zeros == stop and 0 < zeros < SKIP_ZEROES_AT_END):
                if offset + zeros != stop:
                    zeros &= ~3
                yield Skip(sec.address + offset, zeros)
                offset += zeros
                continue
            if as_data:
                chunk = data[offset:min(offset + 16, stop)]
                yield DataLine(sec.address + offset, chunk)
                offset += len(chunk)
                continue
            insn = self.instruction(data, offset, stop, sec)
            yield insn
            offset += insn.size

    def _mapping(self, address: int, sec: Section) -> tuple[int, frozenset[str]]:
        """What the mapping symbols say about ``address``: (bytes of data ahead, or 0 in code;
        the extensions the code there uses).  Data runs to the next mapping symbol or the
        section's end."""
        extensions = self.image.extensions
        marks = self._marks.get(sec.index)
        if not marks:
            return 0, extensions
        i = bisect.bisect_right(marks, address, key=lambda m: m[0]) - 1
        if i < 0:
            return 0, extensions
        if marks[i][1] == "x":
            return 0, marks[i][2] or extensions
        end = marks[i + 1][0] if i + 1 < len(marks) else sec.address + len(sec.data)
        return min(end, sec.address + len(sec.data)) - address, extensions

    def instruction(self, data: bytes, offset: int, stop: int, sec: Section) -> Instruction:
        """The instruction (or data item) at ``offset`` of ``sec``'s bytes ``data``, not
        reading past ``stop``.  Call in address order: lui/auipc bookkeeping carries over."""
        address = sec.address + offset
        room, extensions = self._mapping(address, sec)
        if room:
            return _data_directive(address, data[offset:offset + min(room, 4)])
        length = instruction_length(int.from_bytes(data[offset:offset + 2], "little"))
        if offset + length > stop:
            # The stretch ends inside the instruction: objdump reports the read it could not do.
            return Instruction(address, stop - offset, data[offset:stop],
                               f"Address {address:#x} is out of bounds.", "")
        raw = data[offset:offset + length]
        word = int.from_bytes(raw, "little")
        if length not in (2, 4):
            return _long_instruction(address, raw, length)
        d = decode_word(word, length, self.aliases, self.image.priv_spec, extensions)
        operands, target, symbol = d.operands, None, None
        if d.offset is not None:
            target = (address + d.offset) & _MASK64
            symbol = self._name(target, sec)
            where = f"{target:x} <{symbol}>" if symbol is not None else f"{target:#x}"
            operands = operands.replace(TARGET, where)
        comment = self._comment(d, address, sec)
        return Instruction(address, length, raw, d.mnemonic, operands, target, symbol, comment)

    def _name(self, address: int, sec: Section) -> str | None:
        """``sym+off`` for ``address`` as objdump names it from inside ``sec``."""
        if self.image.relocatable and sec.address <= address < sec.address + len(sec.data):
            sym = self.symbols.for_label(address, sec.index)
            if sym is None:  # no symbol in the section: objdump names the section itself
                return _offset_name(sec.name, address - sec.address)
            return _offset_name(sym.name, address - sym.value)
        return name_address(self.symbols, address, sec.index)

    def _address_text(self, address: int, sec: Section) -> str:
        name = self._name(address, sec)
        return f"{address:x} <{name}>" if name is not None else f"{address:#x}"

    def _comment(self, d, address: int, sec: Section) -> str | None:
        """Follow lui/auipc into the instruction that completes an address (objdump's
        ``# address`` comment); the pair is consumed once used."""
        if d.track is None:
            return None
        kind, reg, value, flag, times = d.track
        if kind == "hi":
            if reg != _ZERO:  # x0 stays zero whatever is written to it
                upper = _sext(value << 12, 32)
                self.hi[reg] = ((address if flag else 0) + upper) & _MASK64
            return None
        target = None
        for _ in range(times):
            target = self._resolve(reg, value, target)
        if target is None:
            return None
        target = _sext(target, 32) if flag else target
        return self._address_text(target & _MASK64, sec)

    def _resolve(self, reg: int, offset: int, previous: int | None) -> int | None:
        """The address ``offset(reg)`` as objdump works it out: from a pending lui/auipc in
        ``reg`` (used up), from the global pointer, or as an absolute offset from x0/tp."""
        if self.hi[reg] is not None:
            target, self.hi[reg] = self.hi[reg] + offset, None
            return target
        if reg == _GP and self.symbols.gp is not None:
            return self.symbols.gp + offset
        if reg in (_ZERO, _TP):
            return offset
        return previous


def _sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _zero_run(data: bytes, offset: int, stop: int) -> int:
    """How many zero bytes start at ``offset`` (up to ``stop``)."""
    end = offset
    while end < stop and data[end] == 0:
        end += 1
    return end - offset


def _data_directive(address: int, raw: bytes) -> Instruction:
    """Bytes after a ``$d`` mapping symbol: a word at a time (less before the next mapping
    symbol; a 3-byte rest is shown as 2 + 1)."""
    raw = raw[:2] if len(raw) == 3 else raw
    name = {1: ".byte", 2: ".short", 4: ".word"}[len(raw)]
    return Instruction(address, len(raw), raw, name,
                       f"0x{int.from_bytes(raw, 'little'):0{2 * len(raw)}x}")


def _long_instruction(address: int, raw: bytes, length: int) -> Instruction:
    """48-bit and longer encodings: no standard instruction uses them; objdump shows their
    bytes (``.8byte`` for 64-bit ones, a ``.byte`` list otherwise)."""
    if length == 8 and len(raw) == 8:
        return Instruction(address, 8, raw, ".8byte", f"{int.from_bytes(raw, 'little'):#x}")
    return Instruction(address, length, raw, ".byte", ", ".join(f"{b:#04x}" for b in raw))


# --- objdump's text ---------------------------------------------------------------------------

def _address_width(sec: SectionListing) -> int:
    """objdump drops leading zeros of addresses in groups of four, keeping at least one."""
    text = f"{sec.address + sec.size:016x}"
    zeros = len(text) - len(text.lstrip("0"))
    if zeros == 16 and sec.address != 0:
        zeros = 0
    skip = (zeros - 1) & ~3 if zeros else 0
    return 16 - skip


def _address_field(address: int, width: int) -> str:
    return f"{address:0{width}x}"[-width:].lstrip("0").rjust(width) if address else \
        "0".rjust(width)


def _byte_chunks(raw: bytes, chunk: int) -> list[str]:
    """Bytes in little-endian groups of ``chunk`` (``"822a"``, ``"00050433"``)."""
    return [raw[i:i + chunk][::-1].hex() for i in range(0, len(raw), chunk)]


def _instruction_lines(insn: Instruction, width: int) -> list[str]:
    """The instruction's line(s): bytes in 2- or 4-byte groups, at most 8 bytes a line."""
    if insn.mnemonic.startswith("Address "):  # a truncated instruction: bytes one by one
        hexes = "".join(f"{b:02x} " for b in insn.bytes).ljust(18)
        return [f"{_address_field(insn.address, width)}:\t{hexes}\t{insn.mnemonic}", ""]
    chunk = 4 if insn.size % 4 == 0 else 2 if insn.size > 1 else 1
    chunks = _byte_chunks(insn.bytes, chunk)
    per_line = max(8 // chunk, 1)
    first = chunks[:per_line]
    # (a lone data byte gets the column width of a word: objdump's layout, measured)
    hexes = "".join(c + " " for c in first).ljust(18 if chunk == 1 else 8 * 2 + per_line)
    lines = [f"{_address_field(insn.address, width)}:\t{hexes}\t{insn.text}"]
    for i in range(per_line, len(chunks), per_line):
        more = "".join(c + " " for c in chunks[i:i + per_line])
        lines.append(f"{_address_field(insn.address + i * chunk, width)}:\t{more}")
    return lines


def _data_line(line: DataLine, width: int) -> str:
    hexes = "".join(c + " " for c in _byte_chunks(line.bytes, 2)).ljust(40)
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in line.bytes)
    return f"{_address_field(line.address, width)}:\t{hexes}    {text}"


def format_listing(image: Image, sections: list[SectionListing]) -> str:
    """The whole ``objdump -d`` output for ``sections`` of ``image``."""
    out = ["", f"{image.path}:     file format {image.format}", ""]
    for sec in sections:
        width = _address_width(sec)
        out += ["", f"Disassembly of section {sec.name}:"]
        for item in sec.items:
            if isinstance(item, Label):
                out += ["", f"{item.address:016x} <{item.name}>:"]
            elif isinstance(item, Instruction):
                out += _instruction_lines(item, width)
            elif isinstance(item, Skip):
                out.append("\t...")
            else:
                out.append(_data_line(item, width))
    return "\n".join(out) + "\n"
