"""The ``vmlab`` command line.

Each subcommand lives next to the code it drives and is imported only when it is used,
so ``vmlab asm`` never pays for compiling the machine.  A subcommand module provides
``register(parser)`` (add its arguments) and ``main(args) -> int`` (run it).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from vmlab.errors import InternalError, UserError  # (UserError is importable from here too)

#: subcommand name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "asm": ("vmlab.asm.cli", "assemble GNU-syntax RISC-V source into an ELF or flat binary"),
    "disasm": ("vmlab.disasm.cli", "disassemble an ELF or raw binary as objdump -d does"),
    "run": ("vmlab.machine.cli", "run software on the emulated RISC-V virt machine"),
    "bench": ("vmlab.bench.machine", "measure the machine's speed against peers in the same run"),
    "demo": ("vmlab.demo", "assemble, disassemble and run the default guest"),
    "guests": ("vmlab.guests.cli", "fetch and show ready-made guests (Debian's Linux)"),
    "grade": ("vmlab.grading.cli", "grade submissions of an assignment in a sandbox (locally or on Dask)"),
    "assign": ("vmlab.grading.assign", "make the student and instructor versions of lab notebooks"),
    "fuzz": ("vmlab.fuzz.cli", "run random hostile guests (bare and under the hypervisor) and report"),
    "nanobench": ("vmlab.bench.nanobench", "Adams & Agesen's nanobenchmarks: bare, trap-and-emulate, paravirtual and the H extension"),
}

#: with ``--hv``, these subcommands run the same images as guests of the hypervisor
HV_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("vmlab.hv.cli", "run software as a guest of the trap-and-emulate hypervisor"),
    "bench": ("vmlab.bench.hv", "measure guest speed against bare metal, and exits per second"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        # Arguments are added lazily (see main) so unrelated heavy modules stay unimported.
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # prints help / errors for unknown commands
        parser.print_help()
        return 2
    name = argv[0]
    module = importlib.import_module(HV_COMMANDS.get(name, COMMANDS[name])[0]
                                     if "--hv" in argv[1:] else COMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"vmlab {name}", description=COMMANDS[name][1])
    module.register(sub)
    args = sub.parse_args(argv[1:])
    try:
        return int(module.main(args) or 0)
    except UserError as exc:
        print(f"vmlab {name}: {exc}", file=sys.stderr)
        return 1
    except InternalError as exc:
        print(f"vmlab {name}: internal error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vmlab {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
