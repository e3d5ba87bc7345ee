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

from vmlab.errors import InternalError, UserError
from vmlab.isa import causes
from vmlab.machine import cli as machine_cli
from vmlab.machine import layout as L
from vmlab.machine.boot import RAM_MAX, check_ram
from vmlab.machine.errors import MachineError

POLL = 2_000_000
HOST_EXTRA = 64 << 20        # host RAM beyond the guest's: shadow tables, slack


def register(parser) -> None:
    machine_cli.register(parser)
    parser.add_argument("--hv", action="store_true", help="run as a guest of the hypervisor")
    parser.add_argument("--shadow", default="sfence", choices=("sfence", "write-protect"),
                        help="shadow page-table coherence strategy (default: sfence)")
    parser.add_argument("--backend", default="shadow", choices=("shadow", "hw"),
                        help="with --hv: trap-and-emulate with shadow page tables, or the H "
                             "extension's two-stage translation (default: shadow)")


def build_vm(args):
    from vmlab.hv.vm import Hypervisor, HvError
    from vmlab.machine import Machine
    if args.trace:
        raise UserError("--trace is not available with --hv (use the VM's trace instead)")
    images = machine_cli.boot_images(args, default_bios=False)
    if args.elf and images.bios is None:
        images.bios, images.kernel = images.kernel, None    # a bare ELF: its own firmware
    drive, readonly = machine_cli.parse_drive(args.drive)
    try:
        ram = check_ram(machine_cli.ram_size(args), RAM_MAX - HOST_EXTRA)
        hv = Hypervisor(Machine(ram_size=ram + HOST_EXTRA))
        vm = hv.create_vm(ram_size=ram, vcpus=args.harts, drive=drive, shadow=args.shadow,
                          backend=args.backend)
        if readonly and vm.devices.virtio is not None:
            vm.devices.virtio.make_read_only()
        if getattr(args, "balloon", False):
            from vmlab.hv.balloon import Balloon
            Balloon(vm)                 # before boot: the guest's device tree lists it
        vm.boot(kernel=images.kernel, bios=images.bios, bootargs=images.bootargs,
                initrd=images.initrd, dtb=images.dtb)
    except (MachineError, HvError) as exc:
        raise UserError(str(exc))
    return vm


def main(args) -> int:
    vm = build_vm(args)
    with machine_cli.closing_on_signals(vm.close_devices):
        if args.dump_dtb:
            return machine_cli.dump_dtb(vm.boot_layout.dtb, args.dump_dtb)
        sends = [(p, machine_cli.unescape(t)) for p, t in args.send_on]
        return _run(vm, sends, args)


def _run(vm, sends, args) -> int:
    stdin = machine_cli._Stdin()
    out = machine_cli.ConsoleOut()
    status, done, r = None, 0, None
    t0 = time.perf_counter()
    try:
        while status is None:
            if data := stdin.take():
                vm.send_input(data)
            patterns = ([sends[0][0]] if sends else []) + ([args.until] if args.until else [])
            budget = POLL if args.max_insns is None else min(POLL, args.max_insns - done)
            if budget <= 0:
                status = machine_cli.budget_spent(done, r)
                break
            r = _guarded_run(vm, budget, patterns)
            done += r.instructions
            out.show(vm.console_bytes[out.shown:])
            status = machine_cli.react(
                vm, r, sends, args, reboot=vm.reboot,
                on_idle=lambda: machine_cli.wait_for_input(stdin, _can_wake(vm), "every vCPU"))
    finally:
        stdin.restore()
        if args.stats:
            print_stats(vm, done, time.perf_counter() - t0)
    return status


def _guarded_run(vm, budget, patterns):
    """vm.run, with an internal error of the hypervisor reported as one line naming the
    guest's pc (the VM stays as it was, for a look from Python) instead of a traceback."""
    try:
        return vm.run(instructions=budget, until_output=patterns)
    except (KeyboardInterrupt, SystemExit, UserError, InternalError):
        raise                    # (an InternalError already names the guest pc and cause)
    except Exception as exc:
        v = vm.vcpus[vm._last]
        raise UserError(f"hypervisor error at guest pc {v.pc:#x} (virtual "
                        f"{'USHM'[v.priv]}-mode): {type(exc).__name__}: {exc}") from exc


def _can_wake(vm) -> bool:
    """Could typed input wake a vCPU waiting in wfi (an external interrupt enabled)?"""
    return any(int(v.row[L.MIE]) & (L.MIP_MEIP | L.MIP_SEIP) for v in vm.vcpus)


def cause_name(cause: int) -> str:
    """An exit's cause as the statistics print it (interrupts marked as such)."""
    if cause & 0x8000_0000:
        return "interrupt " + causes.cause_name(cause & 0xFFFF, interrupt=True)
    return causes.cause_name(cause)


def print_stats(vm, instructions: int, seconds: float) -> None:
    from vmlab.hv.trace import EXIT
    err = sys.stderr
    exits = vm.trace.count(EXIT)
    trapped = sum(n for cause, n in vm.trace.by_cause(EXIT).items() if not cause & 0x8000_0000)
    print(f"guest instructions: {instructions - trapped} run on the hart "
          f"(+ {trapped} that trapped to the hypervisor)", file=err)
    print(f"seconds:            {seconds:.3f}", file=err)
    print(f"MIPS:               {(instructions - trapped) / seconds / 1e6 if seconds else 0:.1f}", file=err)
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
