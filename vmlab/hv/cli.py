"""``vmlab run --hv``: run the same images as ``vmlab run``, but as a guest of the hypervisor.

    vmlab run --hv --kernel uboot.elf                       # kernel in vS, SBI from the hypervisor
    vmlab run --hv --bios fw_jump.elf --kernel uboot.elf    # OpenSBI in virtual M-mode
    vmlab run --hv prog.elf                                 # a bare ELF in virtual M-mode

Unlike the bare machine, ``--kernel`` alone gets no default firmware: the hypervisor *is*
the firmware.  ``--stats`` adds the exits by cause and handler and the shadow counters.
"""
from __future__ import annotations

import sys
import time

from vmlab.cli import UserError
from vmlab.machine import cli as machine_cli
from vmlab.machine.names import CAUSE_NAMES, INTERRUPT_NAMES

POLL = 2_000_000
HOST_EXTRA = 64 << 20        # host RAM beyond the guest's: shadow tables, slack


def register(parser) -> None:
    machine_cli.register(parser)
    parser.add_argument("--hv", action="store_true", help="run as a guest of the hypervisor")
    parser.add_argument("--shadow", default="sfence", choices=("sfence", "write-protect"),
                        help="shadow page-table coherence strategy (default: sfence)")


def build_vm(args):
    from vmlab.hv.vm import Hypervisor, HvError
    from vmlab.machine import Machine
    from vmlab.machine.errors import MachineError
    if args.trace:
        raise UserError("--trace is not available with --hv (use the VM's trace instead)")
    if args.elf and (args.kernel or (args.bios and args.bios != "none")):
        raise UserError("give either an ELF or --bios/--kernel, not both")
    bios = None if args.bios in (None, "none") else machine_cli._existing(args.bios, "--bios")
    kernel = machine_cli._existing(args.kernel, "--kernel")
    if args.elf:
        bios = machine_cli._existing(args.elf, "ELF")      # a bare ELF: its own firmware
    if bios is None and kernel is None:
        raise UserError("nothing to run: give an ELF, --kernel or --bios")
    ram = machine_cli.parse_size(args.ram)
    try:
        hv = Hypervisor(Machine(ram_size=ram + HOST_EXTRA))
        vm = hv.create_vm(ram_size=ram, vcpus=args.harts,
                          drive=machine_cli._existing(args.drive, "--drive"), shadow=args.shadow)
        vm.boot(kernel=kernel, bios=bios)
    except (MachineError, HvError, ValueError) as exc:
        raise UserError(str(exc))
    return vm


def main(args) -> int:
    vm = build_vm(args)
    sends = [(p, machine_cli.unescape(t)) for p, t in args.send_on]
    stdin = machine_cli._Stdin()
    out = sys.stdout.buffer
    shown, status, done = 0, None, 0
    t0 = time.perf_counter()
    try:
        while status is None:
            if data := stdin.take():
                vm.send_input(data)
            patterns = ([sends[0][0]] if sends else []) + ([args.until] if args.until else [])
            budget = POLL if args.max_insns is None else min(POLL, args.max_insns - done)
            if budget <= 0:
                status = 1
                break
            r = vm.run(instructions=budget, until_output=patterns)
            done += r.instructions
            text = vm.console_bytes
            out.write(text[shown:])
            out.flush()
            shown = len(text)
            status = _react(vm, r, sends, args, stdin)
    finally:
        stdin.restore()
        if args.stats:
            print_stats(vm, done, time.perf_counter() - t0)
    return status


def _react(vm, r, sends, args, stdin):
    """What a run's end means for the command: None to go on, else the exit status."""
    if r.reason == "output":
        if sends and r.matched == sends[0][0]:
            vm.send_input(sends.pop(0)[1])
        elif args.until and r.matched == args.until:
            return 0
    elif r.reason == "halt":
        return r.exit_code
    elif r.reason == "reset":
        vm.reboot()
    elif r.reason == "interrupted":
        raise KeyboardInterrupt
    elif r.reason == "idle":
        if stdin.eof and not stdin.buf:
            print("\nvmlab run --hv: every vCPU waits and no input can come", file=sys.stderr)
            return 1
        time.sleep(0.01)
    return None


def cause_name(cause: int) -> str:
    if cause & 0x8000_0000:
        return "interrupt " + INTERRUPT_NAMES.get(cause & 0xFFFF, str(cause & 0xFFFF))
    return CAUSE_NAMES.get(cause, str(cause))


def print_stats(vm, instructions: int, seconds: float) -> None:
    from vmlab.hv.trace import EXIT
    err = sys.stderr
    exits = vm.trace.count(EXIT)
    print(f"guest instructions: {instructions}", file=err)
    print(f"seconds:            {seconds:.3f}", file=err)
    print(f"MIPS:               {instructions / seconds / 1e6 if seconds else 0:.1f}", file=err)
    print(f"simulated:          {vm.time() / 1e9:.6f} s", file=err)
    print(f"exits:              {exits}", file=err)
    for cause, n in vm.trace.by_cause(EXIT).items():
        print(f"  exit {cause_name(cause)}: {n}", file=err)
    from vmlab.hv.exits import COSTS
    for name, n in sorted(vm.trace.handler_counts.items()):
        if name in COSTS:                          # exit handlers (not shadow/sched events)
            print(f"  handler {name}: {n} ({vm.trace.handler_cost[name]} ns)", file=err)
    counters = getattr(vm.shadow, "counters", {})
    for name, n in counters.items():
        if n:
            print(f"shadow {name}: {n}", file=err)
