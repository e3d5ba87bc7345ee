"""The block-I/O guest (``blockio.s``): the same job through virtio or a register-by-register disk.

:func:`build` assembles it for one ``kind`` of disk (vmlab.hv.piodisk.KINDS) to read
``sectors`` sectors from ``first`` and print ``sum=0x<16 hex digits>``; :func:`checksum` is
what a correct run prints, computed here from the image's bytes.  Under a hypervisor the
two builds do the same work and differ only in their exits -- the comparison lab 10 asks for.
"""
from __future__ import annotations

from vmlab.guests import source

SECTOR = 512
KINDS = ("virtio", "pio")


def build(kind: str = "virtio", sectors: int = 4, first: int = 0):
    """A :class:`vmlab.asm.Program` (entry ``_start``, booted as a kernel in virtual S-mode)."""
    from vmlab.asm import assemble
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not (0 <= sectors < 1 << 16 and 0 <= first < 1 << 31):
        raise ValueError(f"sectors {sectors} and first {first} must be small unsigned numbers")
    head = f".equ SECTORS, {sectors}\n.equ FIRST, {first}\n" + (".equ PIO, 1\n" if kind == "pio" else "")
    return assemble(head + source("blockio"), filename="blockio.s")


def checksum(image: bytes, sectors: int, first: int = 0) -> str:
    """The line the guest prints for these sectors of ``image``."""
    s = 0
    for b in image[first * SECTOR:(first + sectors) * SECTOR].ljust(sectors * SECTOR, b"\0"):
        s = (s * 31 + b) & ((1 << 64) - 1)
    return f"sum=0x{s:016x}\n"
