"""``vmlab demo``: the default guest, end to end, in a terminal.

Assembles a built-in guest with vmlab's own assembler, shows the start of its
disassembly, boots it on the emulated ``virt`` machine and prints what it wrote on the
console and what the machine counted (instructions, traps by cause).  It is what
``make lab`` runs until the notebook lab lands, and a quick check that every layer works.
"""
from __future__ import annotations

import time

from vmlab import guests


def register(parser) -> None:
    parser.add_argument("guest", nargs="?", default="hello", choices=guests.names(),
                        help="built-in guest to run (default: hello)")
    parser.add_argument("--insns", type=int, default=50_000_000,
                        help="instruction budget (default: 50M)")
    parser.add_argument("--lines", type=int, default=12,
                        help="how many disassembled instructions to show")


def main(args) -> int:
    from vmlab.asm import assemble
    from vmlab.disasm import disassemble
    from vmlab.machine import Machine

    program = assemble(guests.source(args.guest), filename=f"{args.guest}.s")
    print(f"== {args.guest}.s assembled: {len(program.image)} bytes, entry {program.entry:#x}")
    text = program.sections[".text"]
    for rec in disassemble(text.data, text.addr, symbols=program.symbols)[: args.lines]:
        print(f"   {rec.address:8x}:  {rec.mnemonic:<8} {rec.operands}")

    machine = Machine()
    machine.load_elf(program.elf)
    print("== console")
    start = time.perf_counter()
    result = machine.run(instructions=args.insns)
    seconds = time.perf_counter() - start
    print(machine.console_output, end="" if machine.console_output.endswith("\n") else "\n")
    print(f"== stopped: {result.reason} (exit code {result.exit_code}) after "
          f"{result.instructions:,} instructions in {seconds:.3f} s")
    traps = {k: v for k, v in machine.counters.items() if v and "trap" in k}
    for name, count in traps.items():
        print(f"   {name}: {count}")
    return 0 if result.exit_code in (0, None) else 1
