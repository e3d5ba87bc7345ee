"""An initramfs written by our own code: a "newc" cpio archive, gzip-compressed.

Linux unpacks the archive the boot loader hands it (/chosen linux,initrd-start/end) into a
RAM file system and runs ``/init`` from it (``rdinit=/init``).  A newc archive is a list of
entries, each a 110-byte ASCII header, the NUL-terminated name and the data, both padded to
4 bytes, ended by an entry named ``TRAILER!!!``::

    "070701" ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
             namesize check         (13 fields of 8 hex digits)

The modules' load order comes from their own ``.modinfo`` (``depends=``), as depmod would
compute it.  Ours holds busybox (one static binary that is every command), an ``/init`` script, the
``/dev/console`` device the kernel opens for init's stdin/stdout, and the kernel modules a
guest of the virt board needs, decompressed from Debian's ``.ko.xz``.  Everything is written
with fixed times and owners, so the same packages give the same bytes.
"""
from __future__ import annotations

import gzip
import io
import lzma
from pathlib import Path

from elftools.elf.elffile import ELFFile

S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR = 0o040000, 0o100000, 0o120000, 0o020000

INIT = """#!/bin/busybox sh
# vmlab's /init: the first process of Debian's kernel in a vmlab guest.
/bin/busybox --install -s /bin
export PATH=/bin PS1='vmlab# '
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{insmods}
echo "vmlab: init ready"
exec /bin/sh
"""


class Cpio:
    """A newc archive being written (entries in the order they are added)."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def _entry(self, name: str, mode: int, body: bytes = b"", rdev=(0, 0), nlink=1) -> None:
        fields = (self.ino, mode, 0, 0, nlink, 0, len(body), 0, 0, rdev[0], rdev[1],
                  len(name) + 1, 0)
        self.ino += 1
        self.data += b"070701" + b"".join(b"%08X" % f for f in fields)
        self.data += name.encode() + b"\0"
        self._pad()
        self.data += body
        self._pad()

    def _pad(self) -> None:
        self.data += b"\0" * (-len(self.data) % 4)

    def directory(self, name: str) -> None:
        self._entry(name, S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, body: bytes, mode: int = 0o644) -> None:
        self._entry(name, S_IFREG | mode, body)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self.data)


def module_index(modules_root: Path) -> dict[str, Path]:
    """Module name (dashes as underscores) -> its file under ``kernel/``."""
    return {_module_name(p.name): p for p in sorted((modules_root / "kernel").rglob("*.ko*"))}


def module_depends(ko: bytes) -> list[str]:
    """The ``depends=`` field of a module's .modinfo section (what modules.dep is made
    from: Debian's package leaves running depmod to the installed system)."""
    section = ELFFile(io.BytesIO(ko)).get_section_by_name(".modinfo")
    if section is None:
        return []
    for field in section.data().split(b"\0"):
        if field.startswith(b"depends="):
            return [d.replace("-", "_") for d in field[8:].decode().split(",") if d]
    return []


def module_order(index: dict[str, Path], wanted) -> list[str]:
    """Module names to load, each after the modules it depends on, each once; names not
    in the index are built into the kernel and skipped."""
    order: list[str] = []

    def visit(name: str, depth: int = 0) -> None:
        if name in order or name not in index or depth > 32:
            return
        for dep in module_depends(_module_bytes(index[name])):
            visit(dep, depth + 1)
        order.append(name)

    for name in wanted:
        visit(name.replace("-", "_"))
    return order


def _module_name(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for suffix in (".xz", ".zst", ".gz", ".ko"):
        name = name.removesuffix(suffix)
    return name.replace("-", "_")


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return lzma.decompress(data) if path.suffix == ".xz" else data


def build(busybox: Path, modules_root: Path, wanted) -> bytes:
    """The gzip-compressed archive for ``/init`` with busybox and the ``wanted`` modules."""
    release = modules_root.name
    index = module_index(modules_root)
    order = module_order(index, wanted)
    cpio = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules",
              f"lib/modules/{release}"):
        cpio.directory(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    cpio.symlink("bin/sh", "busybox")
    insmods = []
    for module in order:
        name = f"lib/modules/{release}/{module}.ko"
        cpio.file(name, _module_bytes(index[module]))
        insmods.append(f"insmod /{name}")
    cpio.file("init", INIT.format(insmods="\n".join(insmods)).encode(), 0o755)
    return gzip.compress(cpio.finish(), mtime=0)
