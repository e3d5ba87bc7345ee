"""``vmlab demo``: the teaching OS as a guest of the hypervisor, end to end, in a terminal.

Builds teachos (vmlab/guests/teachos) with vmlab's own assembler, boots it in virtual
S-mode on the trap-and-emulate hypervisor (the hypervisor is its SBI firmware; its UART,
timer and virtio disk are emulated by MMIO traps), and prints its console followed by what
the hypervisor saw: exits by cause, by handler, and the shadow pager's counters.  It is
what ``make lab`` runs, and a quick check that every layer works.

``vmlab demo hello`` (or another built-in guest) assembles that guest instead, shows the start
of its disassembly and runs it on the bare machine.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from vmlab import guests

DISK_TEXT = b"Hello from sector 0 of the disk!\n"


def register(parser) -> None:
    parser.add_argument("guest", nargs="?", default="teachos",
                        choices=["teachos", *guests.names()],
                        help="built-in guest (default: teachos, as a guest of the hypervisor)")
    parser.add_argument("--insns", type=int, default=200_000_000,
                        help="instruction budget (default: 200M)")
    parser.add_argument("--lines", type=int, default=12,
                        help="how many disassembled instructions to show (bare guests)")


def main(args) -> int:
    if args.guest == "teachos":
        return run_teachos(args.insns)
    return run_bare(args)


def run_teachos(insns: int) -> int:
    """teachos under the hypervisor: console, then the exits it caused."""
    from vmlab.guests import teachos
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine

    program = teachos.build()
    print(f"== teachos assembled: {len(program.image)} bytes at {program.entry:#x}; "
          "booting it in virtual S-mode")
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk.img"
        disk.write_bytes(DISK_TEXT + bytes(8 * 512 - len(DISK_TEXT)))
        vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk)
        vm.boot(kernel=program.elf)
        print("== console")
        start = time.perf_counter()
        result = vm.run(instructions=insns)
        seconds = time.perf_counter() - start
        vm.devices.virtio.close()
    out = vm.console_output
    print(out, end="" if out.endswith("\n") else "\n")
    print(f"== stopped: {result.reason} (exit code {result.exit_code}) after "
          f"{result.instructions:,} guest instructions in {seconds:.2f} s")
    print_exit_summary(vm)
    return 0 if result.exit_code in (0, None) else 1


def print_exit_summary(vm) -> None:
    from vmlab.hv.cli import cause_name
    from vmlab.hv.trace import EXIT, INJECT
    print(f"== {vm.trace.count(EXIT):,} exits, {vm.trace.count(INJECT):,} injections; "
          f"exits by cause:")
    for cause, n in vm.trace.by_cause(EXIT).items():
        print(f"   {cause_name(cause):28} {n:7,}")
    print("== by handler (count, modelled cost):")
    from vmlab.hv.exits import COSTS
    for name, n in sorted(vm.trace.handler_counts.items()):
        if name in COSTS:                          # exit handlers (not shadow/sched events)
            print(f"   {name:28} {n:7,}  {vm.trace.handler_cost[name]:>10,} ns")
    counters = {k: v for k, v in getattr(vm.shadow, "counters", {}).items() if v}
    print("== shadow paging: " + ", ".join(f"{k} {v:,}" for k, v in counters.items()))


def run_bare(args) -> int:
    """A small built-in guest on the bare machine, with the start of its disassembly."""
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
    for name, count in machine.counters["traps"].items():
        print(f"   trap {name}: {count}")
    return 0 if result.exit_code in (0, None) else 1
