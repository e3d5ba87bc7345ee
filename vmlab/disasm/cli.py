"""``vmlab disasm FILE``: print a disassembly in ``riscv64-unknown-elf-objdump -d`` format."""
from __future__ import annotations

import argparse
import sys

from vmlab.cli import UserError


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r} (try 0x80000000)") from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an ELF file, or a raw binary (anything else)")
    parser.add_argument("--no-aliases", action="store_true",
                        help="print every instruction under its own name (objdump -M no-aliases)")
    parser.add_argument("--base", type=_address, default=None, metavar="ADDR",
                        help="load address of a raw binary (default 0); for an ELF, an offset "
                             "added to every section's address (objdump --adjust-vma)")


def main(args: argparse.Namespace) -> int:
    from vmlab.disasm import disassemble_file

    try:
        listing = disassemble_file(args.file, aliases=not args.no_aliases, base=args.base)
    except OSError as exc:
        raise UserError(f"{args.file}: {exc.strerror or exc}") from None
    sys.stdout.write(listing.text())
    return 0
