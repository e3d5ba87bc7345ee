"""``vmlab run``: run software on the virt machine, with options shaped like QEMU's.

    vmlab run prog.elf                                  # bare ELF from its entry, M-mode (HTIF)
    vmlab run --bios fw_jump.elf --kernel uboot.elf     # firmware at 0x8000_0000, kernel at 0x8020_0000
    vmlab run --bios none --kernel prog.elf             # the ELF at its own addresses, M-mode

Console: UART output to stdout; stdin (a terminal, without line buffering, or a pipe) to the
UART.  Exit status: the guest's HTIF/sifive_test exit code, 0 when ``--until`` matched,
1 when ``-n`` instructions ran out first.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from vmlab.errors import UserError
from vmlab.machine.boot import BootImages, check_harts
from vmlab.machine.layout import MAX_HARTS
from vmlab.machine.errors import MachineError


OPENSBI_DEFAULT = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
POLL = 200_000           # instructions between looks at stdin and stdout


def register(parser: argparse.ArgumentParser) -> None:
    parser.error = _one_line_error(parser)
    parser.add_argument("elf", nargs="?", help="ELF to run from its entry in M-mode")
    parser.add_argument("--bios", help="firmware at 0x80000000 ('none' for no firmware)")
    parser.add_argument("--kernel", help="kernel at 0x80200000 (an ELF goes to its own addresses)")
    parser.add_argument("--initrd", help="initial RAM disk, placed above the kernel as QEMU does")
    parser.add_argument("--append", default="", metavar="CMDLINE",
                        help="kernel command line (the device tree's /chosen bootargs)")
    parser.add_argument("--dtb", help="use this device tree blob instead of the board's own")
    parser.add_argument("--dump-dtb", metavar="FILE",
                        help="write the device tree the guest would get to FILE and exit")
    parser.add_argument("--guest", choices=("linux",),
                        help="a ready guest: 'linux' is Debian's kernel + busybox (vmlab guests fetch linux)")
    parser.add_argument("--drive", metavar="FILE[,readonly]",
                        help="disk image for the virtio block device")
    parser.add_argument("--balloon", action="store_true",
                        help="plug a virtio-balloon into virtio slot 1 (0x10002000, PLIC source 2)")
    parser.add_argument("--ram", help="RAM size (e.g. 128M, 1G); default 128M (256M with --guest linux)")
    parser.add_argument("--harts", type=_harts, default=1, help=f"number of harts (1-{MAX_HARTS})")
    parser.add_argument("-n", "--insns", dest="max_insns", type=_count,
                        help="stop after this many instructions")
    parser.add_argument("--send-on", nargs=2, action="append", default=[],
                        metavar=("PATTERN", "TEXT"),
                        help="type TEXT once the console has printed PATTERN (repeatable, in order)")
    parser.add_argument("--until", metavar="PATTERN", help="stop (status 0) once PATTERN is printed")
    parser.add_argument("--stats", action="store_true", help="print statistics to stderr")
    parser.add_argument("--trace", action="store_true", help="print every instruction to stderr")


def _one_line_error(parser):
    """Bad arguments get one line and exit status 1, like every other user error (argparse
    would print the whole usage and exit with 2)."""
    def error(message: str):
        print(f"{parser.prog}: {message} (see {parser.prog} --help)", file=sys.stderr)
        raise SystemExit(1)
    return error


def _count(text: str) -> int:
    """A whole number of instructions, >= 0 (1e9 and 0x100 welcome; inf, nan, -5 not)."""
    try:
        value = float(text) if "e" in text.lower() and not text.lower().startswith("0x") else int(text, 0)
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ValueError
        value = int(value)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _harts(text: str) -> int:
    try:
        return check_harts(int(text, 0))
    except (ValueError, MachineError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, MachineError)
                                         else f"not a number: {text!r}")


def ram_size(args) -> int:
    """--ram, or the default: 128 MiB, and 256 MiB for Linux (as QEMU runs it in the tests)."""
    return parse_size(args.ram or ("256M" if args.guest else "128M"))


def parse_size(text: str) -> int:
    """'128M' -> 134217728; K, M, G suffixes (powers of two), or plain bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t, 0)
    except (ValueError, OverflowError):
        raise UserError(f"bad RAM size {text!r} (try 128M or 1G)")


def unescape(text: str) -> str:
    r"""Understand \r \n \t \\ \e and \xNN in --send-on texts."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as exc:
        raise UserError(f"bad escape in --send-on text {text!r}: {exc.reason}")


def _existing(path: str | None, what: str) -> str | None:
    if path is not None and Path(path).is_dir():
        raise UserError(f"{what} {path!r} is a directory, not a file")
    if path is not None and not Path(path).is_file():
        raise UserError(f"{what} {path!r}: no such file")
    return path


def parse_drive(spec: str | None) -> tuple[str | None, bool]:
    """'disk.img' or 'disk.img,readonly' (also readonly=on) -> (path, read-only?)."""
    if spec is None:
        return None, False
    path, _, opts = spec.partition(",")
    flags = [o.strip() for o in opts.split(",") if o.strip()]
    for flag in flags:
        if flag not in ("readonly", "readonly=on", "ro"):
            raise UserError(f"--drive option {flag!r} not understood (only 'readonly')")
    return _existing(path, "--drive"), bool(flags)


def boot_images(args, default_bios: bool) -> BootImages:
    """The images to boot from the command line (shared by bare and --hv runs)."""
    if args.guest:
        return _guest_images(args, default_bios)
    if args.elf and (args.kernel or (args.bios and args.bios != "none")):
        raise UserError("give either an ELF or --bios/--kernel, not both")
    bios = None if args.bios in (None, "none") else _existing(args.bios, "--bios")
    kernel = _existing(args.kernel, "--kernel")
    if args.elf:
        kernel = _existing(args.elf, "ELF")
    if default_bios and args.bios is None and args.kernel and not args.elf:
        bios = str(_default_firmware())
    if bios is None and kernel is None:
        raise UserError("nothing to run: give an ELF, --kernel, --bios or --guest")
    return BootImages(bios, kernel, _existing(args.initrd, "--initrd"), args.append,
                      _existing(args.dtb, "--dtb"))


def _default_firmware() -> Path:
    if not OPENSBI_DEFAULT.exists():
        raise UserError("no default firmware: install the 'opensbi' package or pass --bios")
    return OPENSBI_DEFAULT


def _guest_images(args, default_bios: bool) -> BootImages:
    from vmlab.guests.linux import GuestMissing, boot_files
    if args.elf or args.kernel or args.initrd:
        raise UserError("--guest brings its own kernel and initrd: leave out ELF, --kernel, --initrd")
    try:
        kernel, initrd, cmdline = boot_files()
    except GuestMissing as exc:
        raise UserError(str(exc))
    bios = None                     # an explicit --bios always counts (OpenSBI under --hv too)
    if args.bios and args.bios != "none":
        bios = _existing(args.bios, "--bios")
    elif default_bios and args.bios != "none":
        bios = str(_default_firmware())
    append = (cmdline + " " + args.append).strip()
    return BootImages(bios, str(kernel), str(initrd), append, _existing(args.dtb, "--dtb"))


def build_machine(args):
    from vmlab.machine import Machine
    images = boot_images(args, default_bios=True)
    drive, readonly = parse_drive(args.drive)
    try:
        m = Machine(ram_size=ram_size(args), harts=args.harts, drive=drive,
                    readonly=readonly, balloon=getattr(args, "balloon", False))
        m.boot_virt(bios=images.bios, kernel=images.kernel, bootargs=images.bootargs,
                    initrd=images.initrd, dtb=images.dtb)
    except MachineError as exc:
        raise UserError(str(exc))
    return m, images


def dump_dtb(blob: bytes, path: str) -> int:
    """--dump-dtb: write the tree and stop, as QEMU's dumpdtb does."""
    try:
        Path(path).write_bytes(blob)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}")
    print(f"device tree written to {path} ({len(blob)} bytes)", file=sys.stderr)
    return 0


class _Stdin:
    """Collect stdin in a background thread; a terminal is switched to unbuffered input."""

    def __init__(self):
        self.buf = bytearray()
        self.eof = False
        self.lock = threading.Lock()
        self._saved = None
        if sys.stdin is None:
            self.eof = True
            return
        try:
            fd = sys.stdin.fileno()
        except (OSError, ValueError):
            self.eof = True
            return
        if os.isatty(fd):
            import termios
            self._saved = termios.tcgetattr(fd)
            mode = termios.tcgetattr(fd)
            mode[0] &= ~termios.ICRNL                          # Enter sends \r, as on a serial line
            mode[3] &= ~(termios.ICANON | termios.ECHO)        # keep ISIG: Ctrl-C stops vmlab
            termios.tcsetattr(fd, termios.TCSANOW, mode)
        threading.Thread(target=self._reader, args=(fd,), daemon=True).start()

    def _reader(self, fd):
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            with self.lock:
                if not data:
                    self.eof = True
                    return
                self.buf += data

    def take(self) -> bytes:
        with self.lock:
            data, self.buf = bytes(self.buf), bytearray()
        return data

    def restore(self):
        if self._saved is not None:
            import termios
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, self._saved)


def _skip_scipy() -> None:
    """When numba loads cached machine code it probes for SciPy's BLAS (for np.dot), importing
    all of SciPy: about 0.4 s of a ~1 s start.  `vmlab run` never needs BLAS, so its process
    does without SciPy (numba then simply notes that no BLAS is available).  Only done when
    the command runs, never on import (a test session importing this module keeps SciPy)."""
    sys.modules.setdefault("scipy", None)


def main(args) -> int:
    _skip_scipy()
    m, images = build_machine(args)
    with closing_on_signals(m.close):
        if args.dump_dtb:
            return dump_dtb(m.boot_layout.dtb, args.dump_dtb)
        sends = [(p, unescape(t)) for p, t in args.send_on]
        return _run(m, images, sends, args)


def _run(m, images, sends, args) -> int:
    stdin = _Stdin() if not args.trace else None
    out = ConsoleOut()
    status = None
    t0 = time.perf_counter()
    done = 0             # steps run: a trap is a step too, so -n bounds a guest that only traps
    r = None
    try:
        while status is None:
            if stdin is not None and (data := stdin.take()):
                m.send_input(data)
            patterns = ([sends[0][0]] if sends else []) + ([args.until] if args.until else [])
            budget = POLL
            if args.max_insns is not None:
                budget = min(budget, args.max_insns - done)
            if budget <= 0:
                status = budget_spent(done, r)
                break
            r = _trace_run(m, budget) if args.trace else m.run(instructions=budget, until_output=patterns)
            done += r.instructions
            out.show(m.read_console(out.shown))
            status = react(m, r, sends, args,
                           reboot=lambda: m.boot_virt(bios=images.bios, kernel=images.kernel,
                                                      bootargs=images.bootargs,
                                                      initrd=images.initrd, dtb=images.dtb),
                           on_idle=lambda: wait_for_input(stdin, m.input_can_wake(), "every hart"))
    finally:
        if stdin is not None:
            stdin.restore()
        if args.stats:
            _print_stats(m, time.perf_counter() - t0)
    return status


def budget_spent(done: int, last) -> int:
    """``-n`` ran out before the guest halted: say so (a silent status 1 reads as a crash).
    ``last`` is the last run's result (None if nothing ran)."""
    where = "" if last is None else f" at pc {last.pc & (1 << 64) - 1:#x}"
    print(f"\nvmlab run: stopped after {done} instructions (the -n budget){where}; "
          "the guest had not halted", file=sys.stderr)
    return 1


def react(target, r, sends, args, reboot, on_idle):
    """What the end of one run means for the command: None to go on, else the exit status.
    ``target`` is a Machine or a VM (both take input the same way); what a reset and an idle
    board mean differs, so the caller says (``reboot()``, ``on_idle()``)."""
    if r.reason == "output":
        if sends and r.matched == sends[0][0]:
            target.send_input(sends.pop(0)[1])
        elif args.until and r.matched == args.until:
            return 0
    elif r.reason == "halt":
        return r.exit_code
    elif r.reason == "reset":
        reboot()
    elif r.reason == "interrupted":
        raise KeyboardInterrupt
    elif r.reason == "idle":
        return on_idle()
    return None


def wait_for_input(stdin, can_wake: bool, who: str):
    """Every hart (vCPU) waits in wfi with no timer armed: only typed input could wake one,
    and only if it has interrupts enabled.  Otherwise the guest sleeps forever: stop."""
    if stdin is None or (stdin.eof and not stdin.buf) or not can_wake:
        why = "no input can come" if can_wake else "no interrupt is enabled"
        print(f"\nvmlab run: {who} waits in wfi and {why}", file=sys.stderr)
        return 1
    time.sleep(0.01)
    return None


class ConsoleOut:
    """The guest's console on our stdout; a closed pipe (``| head``) ends the run quietly."""

    def __init__(self):
        self.shown = 0

    def show(self, data: bytes) -> None:
        if not data:
            return
        self.shown += len(data)
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # Nobody reads any more: point stdout at /dev/null so the interpreter's final
            # flush does not complain, and stop as coreutils do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1)


class closing_on_signals:
    """Run ``close`` however the command ends: normally, on an exception, or on SIGTERM /
    SIGHUP (turned into SystemExit so that ``finally`` blocks run and the disk is closed)."""

    SIGNALS = ("SIGTERM", "SIGHUP")

    def __init__(self, close):
        self.close, self.saved = close, {}

    def __enter__(self):
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and threading.current_thread() is threading.main_thread():
                self.saved[sig] = signal.signal(sig, self._exit)
        return self

    @staticmethod
    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        try:
            self.close()
        finally:
            for sig, handler in self.saved.items():
                signal.signal(sig, handler)
        return False


def _trace_run(m, budget):
    """Single-step, printing privilege, pc, instruction bits and disassembly of each step."""
    steps = 0
    for _ in range(budget):
        print(_trace_line(m), file=sys.stderr)
        r = m.step()
        steps += r.instructions
        if r.reason != "budget":
            break
    r.instructions = steps
    return r


def _trace_line(m) -> str:
    pc, priv = m.pc, "USHM"[m.priv]
    pa = m.fetch_address(pc)
    if pa is None:
        return f"{priv} {pc:016x} (not mapped)"
    try:
        raw = m.read_mem(pa, 4)
    except Exception:
        try:
            raw = m.read_mem(pa, 2) + b"\0\0"
        except Exception:
            return f"{priv} {pc:016x} (no RAM)"
    word = int.from_bytes(raw, "little")
    size = 4 if word & 3 == 3 else 2
    text = f"{word & 0xFFFF:04x}    " if size == 2 else f"{word:08x}"
    try:
        from vmlab.disasm import disassemble
        insn = next(iter(disassemble(raw[:size], address=pc)))
        text += f"  {insn.mnemonic} {insn.operands}"
    except Exception:
        pass
    return f"{priv} {pc:016x} {text}"


def _print_stats(m, seconds: float) -> None:
    c = m.counters
    n = c["instructions"]
    print(f"instructions: {n}", file=sys.stderr)
    print(f"seconds:      {seconds:.3f}", file=sys.stderr)
    print(f"MIPS:         {n / seconds / 1e6 if seconds else 0:.1f}", file=sys.stderr)
    print(f"simulated:    {c['time_ns'] / 1e9:.6f} s", file=sys.stderr)
    print(f"TLB:          {c['tlb_hits']} hits, {c['tlb_misses']} misses", file=sys.stderr)
    for name, count in sorted(c["traps"].items()):
        print(f"trap {name}: {count}", file=sys.stderr)
