"""Where QEMU's ``virt`` puts the boot images, shared by the bare machine and every VM.

::

    RAM_BASE (0x8000_0000)   firmware (--bios), or the kernel itself when there is none
    RAM_BASE + 2 MiB         kernel (--kernel) when a firmware runs first
    kernel + min(RAM/2, 128 MiB)   initrd (--initrd), named in /chosen linux,initrd-start/end
    top of RAM (below 3 GiB), 2 MiB aligned   the device tree (a1 at reset)

A loader (the machine, or a VM's guest-physical memory) gives two functions: ``load(data,
addr)`` puts an ELF at its own addresses or raw bytes at ``addr`` and returns the entry, and
``write(addr, data)`` copies bytes.  The device tree is built here, after the images, so its
/chosen node can name the initrd -- and so a RAM too small for image + tree is refused
before anything runs, with the size that would do.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmlab.machine.elf import image_end
from vmlab.machine.errors import MachineError
from vmlab.machine.fdt import DeviceTree, FdtError, cells, parse_dtb, u64_cells
from vmlab.machine.layout import MAX_HARTS

KERNEL_OFFSET = 0x20_0000      # a kernel behind firmware starts 2 MiB into RAM
INITRD_OFFSET_MAX = 128 << 20  # QEMU 7.2: the initrd at most 128 MiB past the kernel
DTB_ALIGN = 2 << 20
DTB_LIMIT = 3 << 30            # QEMU keeps the tree below 3 GiB (reachable by 32-bit code)
MIB = 1 << 20
RAM_MIN, RAM_MAX = 1 << 20, 1 << 34


def check_harts(n: int) -> int:
    """The one limit on harts (bare) and vCPUs (--hv): 1..MAX_HARTS."""
    if not 1 <= n <= MAX_HARTS:
        raise MachineError(f"harts must be 1..{MAX_HARTS}, not {n}")
    return n


def check_ram(size: int, limit: int = RAM_MAX) -> int:
    """RAM is whole 4 KiB pages, at least 1 MiB, at most ``limit``."""
    if size < RAM_MIN or size % 4096 or size > limit:
        raise MachineError(f"RAM size must be a multiple of 4 KiB between 1 MiB and "
                           f"{_human(limit)}, not {_human(size)}")
    return size


def _human(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


@dataclass
class BootImages:
    """What to boot: files or bytes (None where absent), a command line, a device tree."""

    bios: object = None
    kernel: object = None
    initrd: object = None
    bootargs: str = ""
    dtb: object = None           # a device tree to use instead of the board's own


@dataclass
class BootLayout:
    """Where a boot put things (physical, or guest-physical for a VM)."""

    entry: int
    dtb_addr: int
    dtb: bytes
    initrd: tuple[int, int] | None = None     # (start, end)


def _bytes(image) -> bytes:
    if isinstance(image, (str, Path)):
        try:
            return Path(image).read_bytes()
        except OSError as exc:
            raise MachineError(f"cannot read {image}: {exc.strerror}") from exc
    return bytes(image)


def place_images(images: BootImages, ram_base: int, ram_size: int, load, write,
                 make_tree) -> BootLayout:
    """Load firmware, kernel and initrd, then write the device tree at the top of RAM.

    ``make_tree()`` returns the board's :class:`DeviceTree` (used unless ``images.dtb``).
    """
    entry, end, kernel_entry = None, ram_base, None
    fits = _Fits(ram_base, ram_size, lambda: len(make_tree().to_dtb()))
    if images.bios is not None:
        data = _bytes(images.bios)
        end = max(end, fits.check(image_end(data, ram_base)))
        entry = load(data, ram_base)
    if images.kernel is not None:
        data = _bytes(images.kernel)
        addr = ram_base + KERNEL_OFFSET if images.bios is not None else ram_base
        end = max(end, fits.check(image_end(data, addr)))
        kernel_entry = load(data, addr)
        entry = kernel_entry if entry is None else entry
    entry = ram_base if entry is None else entry   # RAM the caller fills itself
    initrd = None
    if images.initrd is not None:
        initrd = _place_initrd(_bytes(images.initrd), kernel_entry, ram_base, ram_size, write)
        end = max(end, initrd[1])
    tree = _tree(images, make_tree, initrd)
    blob = tree.to_dtb()
    dtb_addr = dtb_address(ram_base, ram_size, len(blob))
    if dtb_addr < end:
        fits.too_small(end, len(blob))
    write(dtb_addr, blob)
    return BootLayout(entry, dtb_addr, blob, initrd)


class _Fits:
    """Refuse, before anything is copied, an image that RAM cannot hold with a tree above it."""

    def __init__(self, ram_base: int, ram_size: int, dtb_size):
        self.ram_base, self.ram_size, self.dtb_size = ram_base, ram_size, dtb_size

    def check(self, end: int) -> int:
        if end > self.ram_base + self.ram_size:
            self.too_small(end, self.dtb_size())
        return end

    def too_small(self, end: int, dtb_size: int):
        raise MachineError(f"RAM of {self.ram_size / MIB:g} MiB is too small for the images "
                           f"and the device tree: give at least "
                           f"{minimum_ram(end, self.ram_base, dtb_size)} MiB")


def dtb_address(ram_base: int, ram_size: int, size: int) -> int:
    """As high as possible (kernel and initrd grow upwards), below 3 GiB, 2 MiB aligned."""
    top = ram_base + ram_size
    if ram_base < DTB_LIMIT:
        top = min(top, DTB_LIMIT)
    return (top - size) & ~(DTB_ALIGN - 1)


def minimum_ram(end: int, ram_base: int, dtb_size: int) -> int:
    """The smallest RAM, in MiB, whose device tree lands above ``end``."""
    need = ((end - ram_base + DTB_ALIGN - 1) & ~(DTB_ALIGN - 1)) + dtb_size
    return -(-need // MIB)


def _place_initrd(data: bytes, kernel_entry, ram_base: int, ram_size: int, write):
    """Far enough above the kernel that the kernel's own memory never reaches it."""
    if kernel_entry is None:
        raise MachineError("an initrd needs a kernel (--kernel) to go with it")
    start = kernel_entry + min(ram_size // 2, INITRD_OFFSET_MAX)
    if start < ram_base or start + len(data) > ram_base + ram_size:
        raise MachineError(f"the initrd ({len(data) // 1024} KiB) does not fit in RAM at "
                           f"{start:#x}: give more RAM")
    write(start, data)
    return start, start + len(data)


def _tree(images: BootImages, make_tree, initrd) -> DeviceTree:
    """The board's tree, or the given one, with /chosen saying what this boot passes on."""
    if images.dtb is not None:
        try:
            tree = parse_dtb(_bytes(images.dtb))
        except (FdtError, ValueError) as exc:
            raise MachineError(f"not a device tree blob: {exc}") from exc
    else:
        tree = make_tree()
    try:
        chosen = tree.find("/chosen")
    except KeyError:
        chosen = tree.root.add("chosen")
    if images.bootargs:
        chosen.set("bootargs", images.bootargs)
    if initrd is not None:
        chosen.props["linux,initrd-start"] = _addr_cells(initrd[0])
        chosen.props["linux,initrd-end"] = _addr_cells(initrd[1])
    return tree


def _addr_cells(addr: int) -> bytes:
    """One cell when the address fits (as QEMU writes it), else two."""
    return cells(addr) if addr < 1 << 32 else u64_cells(addr)
