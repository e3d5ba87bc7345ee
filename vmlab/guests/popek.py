"""The Popek-Goldberg guest (``popek.s``): a kernel whose answer a flawed hart breaks.

:func:`build` assembles it with a key (the lab gives every student their own); the kernel
computes ``answer`` from the key and reads of sstatus, and prints ``answer=0x<hex>``.
Right answer: ``answer == key`` (bare, or virtualized on a hart without the quirk, or
with binary translation); trap-and-emulate on the quirky hart gives 0.
"""
from __future__ import annotations

from vmlab.guests import source

DEFAULT_KEY = 0x5A3C96E1
KEY_BITS = 32


def build(key: int = DEFAULT_KEY, bits: int = KEY_BITS):
    """A :class:`vmlab.asm.Program` using the low ``bits`` bits of ``key``: ``_start`` for
    the bare machine, ``s_start`` for a guest in virtual S-mode, ``answer`` the result."""
    from vmlab.asm import assemble
    if not 1 <= bits <= KEY_BITS:
        raise ValueError(f"bits must be 1..{KEY_BITS}, not {bits!r}")
    if not 0 <= key < 1 << bits:
        raise ValueError(f"key must be a {bits}-bit unsigned number, not {key!r}")
    return assemble(f".equ KEY, {key:#x}\n.equ BITS, {bits}\n" + source("popek"),
                    filename="popek.s")


def expected(key: int = DEFAULT_KEY) -> str:
    """The line a correct run prints."""
    return f"answer=0x{key:08x}\n"
