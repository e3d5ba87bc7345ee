"""Flattened device tree (DTB) writer and reader, and the tree of our ``virt`` board.

Why a device tree at all?  Firmware and kernels for RISC-V do not probe the bus: they read a
*description* of the board — how much RAM and where, how many harts, where the UART, timer and
interrupt controller live — from a device tree blob whose address arrives in register ``a1``.
Give OpenSBI and U-Boot the same tree QEMU's ``virt`` machine would, and they run unmodified.

The blob ("DTB", format version 17) is four pieces laid one after another::

    +-----------------------+  offset 0
    | header (10 x be32)    |  magic 0xd00dfeed, sizes and offsets of the blocks below
    +-----------------------+
    | memory reservation map|  (address, size) be64 pairs, ended by (0, 0)
    +-----------------------+
    | structure block       |  BEGIN_NODE name / PROP len nameoff value / END_NODE ... END
    +-----------------------+
    | strings block         |  property names, NUL-terminated, each stored once
    +-----------------------+

Everything is big-endian; every token and value is padded to 4 bytes.  A node refers to another
(the "interrupt parent", say) by a small integer, its *phandle*.

This module has a small generic builder (:class:`Node`, :class:`DeviceTree`), a reader
(:func:`parse_dtb`) used by tests and tools, and :func:`virt_dtb` for our board.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterator

FDT_MAGIC = 0xD00DFEED
FDT_VERSION = 17
FDT_LAST_COMP_VERSION = 16  # a v16 reader can read what we write
FDT_BEGIN_NODE = 0x1
FDT_END_NODE = 0x2
FDT_PROP = 0x3
FDT_NOP = 0x4
FDT_END = 0x9

HEADER_SIZE = 40  # ten 32-bit fields


class FdtError(ValueError):
    """A blob that is not a well-formed device tree."""


# --------------------------------------------------------------------------------------------
# Property values
# --------------------------------------------------------------------------------------------

def cells(*values: int) -> bytes:
    """Encode 32-bit cells, the unit of every numeric property (big-endian)."""
    return b"".join(struct.pack(">I", v & 0xFFFFFFFF) for v in values)


def u64_cells(*values: int) -> bytes:
    """Encode 64-bit numbers as cell pairs (high, low), as ``reg`` needs with 2 address cells."""
    return b"".join(struct.pack(">Q", v) for v in values)


def encode_value(value) -> bytes:
    """Turn a Python value into property bytes.

    The DTB does not record types, so the writer picks an encoding from the Python type:
    ``str`` → NUL-terminated string; list of ``str`` → string list (``compatible``);
    ``int`` → one cell; list of ``int`` → cells; ``bytes`` → as is; ``True``/``None`` → empty
    (a boolean property such as ``interrupt-controller`` is present-and-empty).
    """
    if value is True or value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode() + b"\0"
    if isinstance(value, int):
        return cells(value)
    values = list(value)
    if all(isinstance(v, str) for v in values):
        return b"".join(v.encode() + b"\0" for v in values)
    if all(isinstance(v, int) for v in values):
        return cells(*values)
    raise TypeError(f"cannot encode property value {value!r}")


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


# --------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------

@dataclass
class Node:
    """One node: a name (``cpu@0``), properties (name → raw bytes, in order) and children."""

    name: str
    props: dict[str, bytes] = field(default_factory=dict)
    children: list["Node"] = field(default_factory=list)

    # -- building --
    def set(self, name: str, value=True) -> "Node":
        """Set property ``name`` (see :func:`encode_value` for the encodings); returns self."""
        self.props[name] = encode_value(value)
        return self

    def add(self, name: str, props: dict | None = None) -> "Node":
        """Add and return a child node, with properties from ``props`` (name → value)."""
        child = Node(name)
        for key, value in (props or {}).items():
            child.set(key, value)
        self.children.append(child)
        return child

    # -- reading --
    def child(self, name: str) -> "Node":
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(f"{self.name or '/'} has no child {name!r}")

    def get(self, name: str) -> bytes:
        return self.props[name]

    def u32(self, name: str) -> int:
        (value,) = struct.unpack(">I", self.props[name])
        return value

    def cells(self, name: str) -> list[int]:
        raw = self.props[name]
        if len(raw) % 4:
            raise FdtError(f"property {name} is not a whole number of cells")
        return list(struct.unpack(f">{len(raw) // 4}I", raw))

    def string(self, name: str) -> str:
        return self.strings(name)[0]

    def strings(self, name: str) -> list[str]:
        raw = self.props[name]
        if not raw.endswith(b"\0"):
            raise FdtError(f"property {name} is not NUL-terminated")
        return [s.decode() for s in raw[:-1].split(b"\0")]

    def walk(self, parent: str = "") -> Iterator[tuple[str, "Node"]]:
        """Yield (path, node) for this node and every descendant, depth first."""
        here = parent.rstrip("/") + "/" + self.name
        yield here, self
        for c in self.children:
            yield from c.walk(here)


@dataclass
class DeviceTree:
    """A whole tree plus the two things that live outside it: reservations and boot hart."""

    root: Node = field(default_factory=lambda: Node(""))
    reservations: list[tuple[int, int]] = field(default_factory=list)
    boot_cpuid: int = 0
    _next_phandle: int = 1

    def phandle(self, node: Node) -> int:
        """Give ``node`` a phandle (once) so other nodes can point at it; return it."""
        if "phandle" not in node.props:
            node.set("phandle", self._next_phandle)
            self._next_phandle += 1
        return node.u32("phandle")

    def find(self, path: str) -> Node:
        """The node at an absolute path such as ``/soc/serial@10000000``."""
        node = self.root
        for part in filter(None, path.split("/")):
            node = node.child(part)
        return node

    def to_dtb(self) -> bytes:
        return write_dtb(self)


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------

class _Strings:
    """The strings block: each property name stored once, referred to by offset."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets: dict[str, int] = {}

    def offset(self, name: str) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.data)
            self.data += name.encode() + b"\0"
        return self.offsets[name]


def _emit_node(node: Node, out: bytearray, strings: _Strings) -> None:
    out += struct.pack(">I", FDT_BEGIN_NODE) + _pad4(node.name.encode() + b"\0")
    for name, value in node.props.items():
        out += struct.pack(">III", FDT_PROP, len(value), strings.offset(name))
        out += _pad4(value)
    for child in node.children:
        _emit_node(child, out, strings)
    out += struct.pack(">I", FDT_END_NODE)


def write_dtb(tree: DeviceTree) -> bytes:
    """Serialize ``tree`` as a version-17 DTB."""
    rsvmap = b"".join(struct.pack(">QQ", a, s) for a, s in tree.reservations)
    rsvmap += struct.pack(">QQ", 0, 0)
    structure = bytearray()
    strings = _Strings()
    _emit_node(tree.root, structure, strings)
    structure += struct.pack(">I", FDT_END)

    off_rsvmap = HEADER_SIZE + (-HEADER_SIZE % 8)  # the map holds 64-bit values: align to 8
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings.data)
    header = struct.pack(
        ">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsvmap, FDT_VERSION,
        FDT_LAST_COMP_VERSION, tree.boot_cpuid, len(strings.data), len(structure))
    blob = header + b"\0" * (off_rsvmap - HEADER_SIZE) + rsvmap + structure + strings.data
    assert len(blob) == total
    return blob


# --------------------------------------------------------------------------------------------
# Reader
# --------------------------------------------------------------------------------------------

def _read_header(blob: bytes) -> tuple[int, ...]:
    if len(blob) < HEADER_SIZE:
        raise FdtError("blob shorter than a DTB header")
    fields = struct.unpack_from(">10I", blob, 0)
    if fields[0] != FDT_MAGIC:
        raise FdtError(f"bad magic {fields[0]:#x}")
    if fields[1] > len(blob):
        raise FdtError("header totalsize larger than the blob")
    if fields[6] > 17:
        raise FdtError(f"cannot read DTB version {fields[5]} (last compatible {fields[6]})")
    return fields


def _read_reservations(blob: bytes, offset: int) -> list[tuple[int, int]]:
    result = []
    while True:
        if offset + 16 > len(blob):
            raise FdtError("memory reservation map runs off the blob")
        address, size = struct.unpack_from(">QQ", blob, offset)
        offset += 16
        if address == 0 and size == 0:
            return result
        result.append((address, size))


def _cstring(blob: bytes, offset: int, limit: int) -> str:
    end = blob.find(b"\0", offset, limit)
    if end < 0:
        raise FdtError(f"unterminated string at {offset}")
    return blob[offset:end].decode()


def _read_structure(blob: bytes, start: int, end: int, strings_off: int,
                    strings_end: int) -> Node:
    """Rebuild the node tree from the structure block's token stream."""
    stack: list[Node] = []
    root = None
    pos = start
    while pos + 4 <= end:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            name = _cstring(blob, pos, end)
            pos += len(name.encode()) + 1
            pos += -pos % 4
            node = Node(name)
            if stack:
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise FdtError("second root node")
            stack.append(node)
        elif token == FDT_PROP:
            if not stack:
                raise FdtError("property outside any node")
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            if pos + length > end:
                raise FdtError("property value runs off the structure block")
            name = _cstring(blob, strings_off + nameoff, strings_end)
            stack[-1].props[name] = bytes(blob[pos:pos + length])
            pos += length + (-length % 4)
        elif token == FDT_END_NODE:
            if not stack:
                raise FdtError("END_NODE without BEGIN_NODE")
            stack.pop()
        elif token == FDT_NOP:
            continue
        elif token == FDT_END:
            if stack or root is None:
                raise FdtError("END inside an open node")
            return root
        else:
            raise FdtError(f"unknown token {token:#x} at {pos - 4}")
    raise FdtError("structure block has no END token")


def parse_dtb(blob: bytes) -> DeviceTree:
    """Read a DTB (ours, QEMU's, anyone's) back into a :class:`DeviceTree`."""
    (_, total, off_struct, off_strings, off_rsvmap, version, _,
     boot_cpuid, size_strings, size_struct) = _read_header(blob)
    if version < 17:
        size_struct = total - off_struct  # older blobs do not record it
    root = _read_structure(blob, off_struct, off_struct + size_struct, off_strings,
                           off_strings + size_strings)
    tree = DeviceTree(root=root, reservations=_read_reservations(blob, off_rsvmap),
                      boot_cpuid=boot_cpuid)
    phandles = [n.u32("phandle") for _, n in root.walk() if "phandle" in n.props]
    tree._next_phandle = max(phandles, default=0) + 1
    return tree


# --------------------------------------------------------------------------------------------
# The virt board
# --------------------------------------------------------------------------------------------

#: Where the board's devices live: QEMU's ``virt`` memory map (hw/riscv/virt.c).
VIRT_TEST = (0x0010_0000, 0x1000)
VIRT_CLINT = (0x0200_0000, 0x1_0000)
VIRT_PLIC = (0x0C00_0000, 0x60_0000)
VIRT_UART0 = (0x1000_0000, 0x100)
VIRT_VIRTIO0 = (0x1000_1000, 0x1000)
VIRT_UART0_IRQ = 10
VIRT_VIRTIO0_IRQ = 1
VIRT_PLIC_NDEV = 31
UART_CLOCK_HZ = 3_686_400

#: Local interrupt numbers on each hart's ``riscv,cpu-intc`` (the mcause interrupt codes).
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11

#: Sifive_test commands the syscon poweroff/reboot nodes write (QEMU's values).
TEST_POWEROFF, TEST_REBOOT = 0x5555, 0x7777


def _reg(base: int, size: int) -> bytes:
    """A ``reg`` with two address and two size cells, as the root and /soc declare."""
    return u64_cells(base, size)


#: The order single-letter extensions take in an ISA string (the unprivileged spec's table).
ISA_LETTER_ORDER = "imafdqlcbkjtpvh"


def isa_from_misa(misa: int, extensions=()) -> tuple[str, list[str]]:
    """(``riscv,isa`` string, ``riscv,isa-extensions`` list) for a hart with this misa.

    misa has one bit per letter (A = bit 0); S and U are privilege modes, not ISA-string
    letters.  ``extensions`` are the multi-letter ones (zicsr, sstc, ...) the hart has too.
    Deriving the tree from misa means a hart that gains F and D says so without an edit here.
    """
    letters = [ch for ch in ISA_LETTER_ORDER if misa >> (ord(ch) - ord("a")) & 1]
    xlen = {1: 32, 2: 64, 3: 128}.get((misa >> 62) & 3, 64)
    exts = list(extensions)
    return f"rv{xlen}{''.join(letters)}" + "".join("_" + e for e in exts), letters + exts


def _add_cpus(tree: DeviceTree, harts: int, isa, timebase_hz: int) -> list[int]:
    """Build /cpus and return the phandle of each hart's interrupt controller.

    The per-hart ``interrupt-controller`` node stands for the hart's own mip/mie bits: the
    CLINT and PLIC name it, with a local interrupt number, as the target of their wires.
    """
    cpus = tree.root.add("cpus", {"#address-cells": 1, "#size-cells": 0,
                                  "timebase-frequency": timebase_hz})
    intcs, cpu_nodes = [], []
    isa_string, isa_list = (isa, None) if isinstance(isa, str) else isa
    for hart in range(harts):
        cpu = cpus.add(f"cpu@{hart}", {"device_type": "cpu", "reg": hart, "status": "okay",
                                       "compatible": "riscv", "riscv,isa": isa_string,
                                       "mmu-type": "riscv,sv39"})
        if isa_list is not None:     # the newer binding Linux prefers to the string
            cpu.set("riscv,isa-base", isa_string[:4] + "i")
            cpu.set("riscv,isa-extensions", isa_list)
        intc = cpu.add("interrupt-controller", {"#interrupt-cells": 1,
                                                "interrupt-controller": True,
                                                "compatible": "riscv,cpu-intc"})
        intcs.append(tree.phandle(intc))
        cpu_nodes.append(tree.phandle(cpu))
    cluster = cpus.add("cpu-map").add("cluster0")
    for hart, ph in enumerate(cpu_nodes):
        cluster.add(f"core{hart}", {"cpu": ph})
    return intcs


def _add_soc(tree: DeviceTree, intcs: list[int], virtio_blk: bool, virtio_slots=()) -> Node:
    """Build /soc: CLINT, PLIC, UART, virtio-mmio and sifive_test; return the test node."""
    soc = tree.root.add("soc", {"#address-cells": 2, "#size-cells": 2,
                                "compatible": "simple-bus", "ranges": True})
    test = soc.add(f"test@{VIRT_TEST[0]:x}", {
        "compatible": ["sifive,test1", "sifive,test0", "syscon"], "reg": _reg(*VIRT_TEST)})
    clint_irqs = [c for ph in intcs for c in (ph, IRQ_M_SOFT, ph, IRQ_M_TIMER)]
    soc.add(f"clint@{VIRT_CLINT[0]:x}", {
        "compatible": ["sifive,clint0", "riscv,clint0"], "reg": _reg(*VIRT_CLINT),
        "interrupts-extended": clint_irqs})
    # PLIC contexts come in hart order, M-mode context first: context 2h is hart h's M-mode,
    # 2h+1 its S-mode — the order of interrupts-extended defines that numbering.
    plic_irqs = [c for ph in intcs for c in (ph, IRQ_M_EXT, ph, IRQ_S_EXT)]
    plic = soc.add(f"plic@{VIRT_PLIC[0]:x}", {
        "#address-cells": 0, "#interrupt-cells": 1, "interrupt-controller": True,
        "compatible": ["sifive,plic-1.0.0", "riscv,plic0"], "reg": _reg(*VIRT_PLIC),
        "interrupts-extended": plic_irqs, "riscv,ndev": VIRT_PLIC_NDEV})
    plic_ph = tree.phandle(plic)
    soc.add(f"serial@{VIRT_UART0[0]:x}", {
        "compatible": "ns16550a", "reg": _reg(*VIRT_UART0), "clock-frequency": UART_CLOCK_HZ,
        "interrupts": VIRT_UART0_IRQ, "interrupt-parent": plic_ph})
    # QEMU writes its virtio-mmio nodes highest address first; Linux probes them in tree
    # order, so the same order gives the same probe order as on QEMU.
    for slot in sorted(set(virtio_slots) | ({0} if virtio_blk else set()), reverse=True):
        add_virtio_node(tree, slot, plic_ph)
    return test


def add_virtio_node(tree: DeviceTree, slot: int, plic_phandle: int | None = None) -> None:
    """A ``virtio,mmio`` node for slot ``slot`` (QEMU's virt: 0x1000_1000 + slot * 4 KiB,
    PLIC source 1 + slot), for a slot with a device plugged in."""
    base = VIRT_VIRTIO0[0] + slot * VIRT_VIRTIO0[1]
    if plic_phandle is None:
        soc = tree.find("/soc")
        plic_phandle = tree.phandle(next(n for n in soc.children if n.name.startswith("plic@")))
    tree.find("/soc").add(f"virtio_mmio@{base:x}", {
        "compatible": "virtio,mmio", "reg": _reg(base, VIRT_VIRTIO0[1]),
        "interrupts": VIRT_VIRTIO0_IRQ + slot, "interrupt-parent": plic_phandle})


def _add_syscon_power(tree: DeviceTree, test: Node) -> None:
    """Poweroff and reboot are "write this value to that register" on the test device."""
    regmap = tree.phandle(test)
    tree.root.add("poweroff", {"compatible": "syscon-poweroff", "regmap": regmap,
                               "offset": 0, "value": TEST_POWEROFF})
    tree.root.add("reboot", {"compatible": "syscon-reboot", "regmap": regmap,
                             "offset": 0, "value": TEST_REBOOT})


def virt_tree(ram_base: int, ram_size: int, harts: int, *, bootargs: str = "",
              virtio_blk: bool = True, isa="rv64imac_zicsr_zifencei",
              timebase_hz: int = 10_000_000, stdout_path=True, virtio_slots=()) -> DeviceTree:
    """The :class:`DeviceTree` behind :func:`virt_dtb` (for callers that want to edit it).
    ``virtio_slots``: virtio-mmio slots with a device plugged in, beside the disk's slot 0."""
    if harts < 1:
        raise ValueError("a board needs at least one hart")
    tree = DeviceTree()
    root = tree.root
    root.set("#address-cells", 2).set("#size-cells", 2)
    root.set("compatible", "riscv-virtio").set("model", "riscv-virtio,qemu")
    chosen = root.add("chosen")
    root.add(f"memory@{ram_base:x}", {"device_type": "memory", "reg": _reg(ram_base, ram_size)})
    intcs = _add_cpus(tree, harts, isa, timebase_hz)
    test = _add_soc(tree, intcs, virtio_blk, virtio_slots)
    _add_syscon_power(tree, test)
    if stdout_path is True:
        stdout_path = f"/soc/serial@{VIRT_UART0[0]:x}"
    if stdout_path:
        chosen.set("stdout-path", stdout_path)
    if bootargs:
        chosen.set("bootargs", bootargs)
    return tree


def virt_dtb(ram_base: int, ram_size: int, harts: int, *, bootargs: str = "",
             virtio_blk: bool = True, isa="rv64imac_zicsr_zifencei",
             timebase_hz: int = 10_000_000, stdout_path=True) -> bytes:
    """The DTB of our ``virt`` board: QEMU's ``virt`` tree without flash, PCIe, RTC, fw-cfg.

    ``isa`` is an ISA string, or the pair :func:`isa_from_misa` returns (then the tree also
    carries ``riscv,isa-base``/``riscv,isa-extensions``); the board passes what its harts
    implement, so U-Boot, which touches FP state only when the tree names ``f``/``d``, sees
    them exactly when the hart has them.  ``stdout_path``: ``True`` for the UART, a string
    for another path, ``False`` for none.
    """
    return virt_tree(ram_base, ram_size, harts, bootargs=bootargs, virtio_blk=virtio_blk,
                     isa=isa, timebase_hz=timebase_hz, stdout_path=stdout_path).to_dtb()
