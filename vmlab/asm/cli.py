"""``vmlab asm SRC.s -o OUT.elf [--base ADDR] [--binary OUT.bin] [--march rv64imac|rv64ima]``."""
from __future__ import annotations

import sys


def register(parser) -> None:
    parser.add_argument("source", metavar="SRC.s", help="assembly source (GNU syntax)")
    parser.add_argument("-o", "--output", metavar="OUT.elf", help="write a linked ELF64 executable")
    parser.add_argument("--base", default="0x80000000", metavar="ADDR",
                        help="address of the first section (default 0x80000000)")
    parser.add_argument("--binary", metavar="OUT.bin", help="also write the flat image from ADDR")
    parser.add_argument("--march", default="rv64imac", choices=["rv64imac", "rv64ima"],
                        help="instruction set: with or without compressed instructions")


def main(args) -> int:
    from vmlab.asm import AsmError, assemble
    try:
        base = int(args.base, 0)
    except ValueError:
        print(f"vmlab asm: --base {args.base!r} is not a number", file=sys.stderr)
        return 1
    try:
        with open(args.source, encoding="utf-8", errors="replace") as f:
            source = f.read()
    except OSError as exc:
        print(f"vmlab asm: cannot read {args.source}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        prog = assemble(source, base, march=args.march, filename=args.source)
    except AsmError as exc:
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        n = len(exc.diagnostics)
        print(f"vmlab asm: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
    try:
        if args.output:
            prog.write_elf(args.output)
        if args.binary:
            prog.write_binary(args.binary)
    except OSError as exc:
        print(f"vmlab asm: cannot write output: {exc}", file=sys.stderr)
        return 1
    return 0
