"""``vmlab disasm FILE``: print a disassembly in ``riscv64-unknown-elf-objdump -d`` format."""
from __future__ import annotations

import argparse
import os
import sys

from vmlab.cli import UserError


def _address(text: str | None) -> int | None:
    """``--base`` as a number: a user error (one line, exit status 1) unless 0..2**64-1."""
    if text is None:
        return None
    try:
        value = int(text, 0)
    except ValueError:
        raise UserError(f"--base {text[:40]!r} is not an address (try 0x80000000)") from None
    if not 0 <= value < 1 << 64:
        raise UserError(f"--base {text[:40]}: an address must be 0..0xffffffffffffffff")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an ELF file, or a raw binary (anything else)")
    parser.add_argument("--no-aliases", action="store_true",
                        help="print every instruction under its own name (objdump -M no-aliases)")
    parser.add_argument("--base", default=None, metavar="ADDR",
                        help="load address of a raw binary (default 0); for an ELF, an offset "
                             "added to every section's address (objdump --adjust-vma)")


def main(args: argparse.Namespace) -> int:
    from vmlab.disasm import DisasmError, disassemble_file

    base = _address(args.base)
    try:
        listing = disassemble_file(args.file, aliases=not args.no_aliases, base=base)
    except DisasmError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{args.file}: {exc.strerror or exc}") from None
    try:
        sys.stdout.write(listing.text())
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader stopped (``vmlab disasm fw.elf | head``): stop quietly, as coreutils do,
        # and keep Python from complaining about the closed pipe while it shuts down
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
