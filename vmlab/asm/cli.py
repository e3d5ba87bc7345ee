"""``vmlab asm SRC.s -o OUT.elf [--base ADDR] [--binary OUT.bin] [--march ISA]``.

Every problem the user can cause (a bad address, an unknown -march, a source that is not
text, errors in the source, an unwritable output) ends in one-line messages on stderr and
exit status 1; warnings (GNU as's, e.g. a value truncated by ``.byte``) go to stderr too.
"""
from __future__ import annotations

import os
import sys

#: addresses are unsigned 64-bit
_TOP = 1 << 64


def register(parser) -> None:
    parser.add_argument("source", metavar="SRC.s", help="assembly source (GNU syntax)")
    parser.add_argument("-o", "--output", metavar="OUT.elf", help="write a linked ELF64 executable")
    parser.add_argument("--base", default="0x80000000", metavar="ADDR",
                        help="address of the first section (default 0x80000000)")
    parser.add_argument("--binary", metavar="OUT.bin", help="also write the flat image from ADDR")
    parser.add_argument("--march", default="rv64imac", metavar="ISA",
                        help="instruction set as GNU as spells it: rv64imac (default), rv64ima "
                             "(no compressed instructions), rv64imafdc or rv64gc (floating point)")


class _Refused(Exception):
    """One line for the user, then exit status 1."""


def main(args) -> int:
    try:
        return _main(args)
    except _Refused as exc:
        _say(f"vmlab asm: {exc}")
        return 1
    except BrokenPipeError:
        # stderr went into a pipe that closed (``... 2>&1 | head``): stop quietly, as
        # coreutils do, and keep Python from complaining while it shuts down
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        return 1


def _main(args) -> int:
    from vmlab.asm import AsmError, MarchError, assemble
    base = _base(args.base)
    source = _source(args.source)
    try:
        prog = assemble(source, base, march=args.march, filename=args.source)
    except MarchError as exc:
        raise _Refused(str(exc)) from None
    except AsmError as exc:
        for d in exc.diagnostics:
            _say(str(d))
        n = sum(d.severity == "error" for d in exc.diagnostics)
        _say(f"vmlab asm: {n} error{'s' if n != 1 else ''}")
        return 1
    for w in prog.warnings:
        _say(str(w))
    try:
        if args.output:
            prog.write_elf(args.output)
        if args.binary:
            prog.write_binary(args.binary)
    except OSError as exc:
        raise _Refused(f"cannot write output: {exc.strerror or exc}") from None
    return 0


def _base(text: str) -> int:
    try:
        base = int(text, 0)
    except ValueError:
        raise _Refused(f"--base {text[:40]!r} is not a number (try 0x80000000)") from None
    if not 0 <= base < _TOP:
        raise _Refused(f"--base {text[:40]}: an address must be 0..0xffffffffffffffff")
    return base


def _source(path: str) -> str:
    """The source text; a file that is not text (NUL bytes: an object file, an image) is
    refused without echoing its bytes to the terminal."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise _Refused(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise _Refused(f"{path}:{line}: a NUL byte: this is not an assembly source "
                       "(a binary file?)")
    return raw.decode("utf-8", errors="replace")


def _say(line: str) -> None:
    print(line, file=sys.stderr)
