"""``vmlab disasm FILE``: print a disassembly in ``riscv64-unknown-elf-objdump -d`` format."""
from __future__ import annotations

import argparse
import os
import sys

from vmlab.cli import UserError


def _address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r} (try 0x80000000)") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text}: an address must be 0..0xffffffffffffffff")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an ELF file, or a raw binary (anything else)")
    parser.add_argument("--no-aliases", action="store_true",
                        help="print every instruction under its own name (objdump -M no-aliases)")
    parser.add_argument("--base", type=_address, default=None, metavar="ADDR",
                        help="load address of a raw binary (default 0); for an ELF, an offset "
                             "added to every section's address (objdump --adjust-vma)")


def main(args: argparse.Namespace) -> int:
    from vmlab.disasm import DisasmError, disassemble_file

    try:
        listing = disassemble_file(args.file, aliases=not args.no_aliases, base=args.base)
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
