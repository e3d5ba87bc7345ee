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
import sys
import threading
import time
from pathlib import Path

from vmlab.errors import UserError


OPENSBI_DEFAULT = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
POLL = 200_000           # instructions between looks at stdin and stdout


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("elf", nargs="?", help="ELF to run from its entry in M-mode")
    parser.add_argument("--bios", help="firmware at 0x80000000 ('none' for no firmware)")
    parser.add_argument("--kernel", help="kernel at 0x80200000 (an ELF goes to its own addresses)")
    parser.add_argument("--drive", help="disk image for the virtio block device")
    parser.add_argument("--ram", default="128M", help="RAM size (e.g. 128M, 1G); default 128M")
    parser.add_argument("--harts", type=int, default=1, help="number of harts (1-8)")
    parser.add_argument("-n", dest="max_insns", type=_count, help="stop after this many instructions")
    parser.add_argument("--send-on", nargs=2, action="append", default=[],
                        metavar=("PATTERN", "TEXT"),
                        help="type TEXT once the console has printed PATTERN (repeatable, in order)")
    parser.add_argument("--until", metavar="PATTERN", help="stop (status 0) once PATTERN is printed")
    parser.add_argument("--stats", action="store_true", help="print statistics to stderr")
    parser.add_argument("--trace", action="store_true", help="print every instruction to stderr")


def _count(text: str) -> int:
    try:
        return int(float(text)) if "e" in text.lower() else int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")


def parse_size(text: str) -> int:
    """'128M' -> 134217728; K, M, G suffixes (powers of two), or plain bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t, 0)
    except ValueError:
        raise UserError(f"bad RAM size {text!r} (try 128M or 1G)")


def unescape(text: str) -> str:
    r"""Understand \r \n \t \\ \e and \xNN in --send-on texts."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _existing(path: str | None, what: str) -> str | None:
    if path is not None and not Path(path).is_file():
        raise UserError(f"{what} {path!r}: no such file")
    return path


def build_machine(args):
    from vmlab.machine import Machine
    from vmlab.machine.errors import MachineError
    if args.elf and (args.kernel or (args.bios and args.bios != "none")):
        raise UserError("give either an ELF or --bios/--kernel, not both")
    bios = None if args.bios in (None, "none") else _existing(args.bios, "--bios")
    kernel = _existing(args.kernel or args.elf, "kernel")
    if args.bios is None and args.kernel and not args.elf:
        if not OPENSBI_DEFAULT.exists():
            raise UserError("no default firmware: install the 'opensbi' package or pass --bios")
        bios = str(OPENSBI_DEFAULT)
    if bios is None and kernel is None:
        raise UserError("nothing to run: give an ELF, --kernel or --bios")
    try:
        m = Machine(ram_size=parse_size(args.ram), harts=args.harts,
                    drive=_existing(args.drive, "--drive"))
        m.boot_virt(bios=bios, kernel=kernel)
    except MachineError as exc:
        raise UserError(str(exc))
    return m, (bios, kernel)


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
    sends = [(p, unescape(t)) for p, t in args.send_on]
    stdin = _Stdin() if not args.trace else None
    out = sys.stdout.buffer
    shown = 0
    status = None
    t0 = time.perf_counter()
    done = 0             # steps run: a trap is a step too, so -n bounds a guest that only traps
    try:
        while status is None:
            if stdin is not None and (data := stdin.take()):
                m.send_input(data)
            patterns = ([sends[0][0]] if sends else []) + ([args.until] if args.until else [])
            budget = POLL
            if args.max_insns is not None:
                budget = min(budget, args.max_insns - done)
            if budget <= 0:
                status = 1
                break
            r = _trace_run(m, budget) if args.trace else m.run(instructions=budget, until_output=patterns)
            done += r.instructions
            text = m.read_console(shown)
            out.write(text)
            out.flush()
            shown += len(text)
            if r.reason == "output":
                if sends and r.matched == sends[0][0]:
                    m.send_input(sends.pop(0)[1])
                elif args.until and r.matched == args.until:
                    status = 0
            elif r.reason == "halt":
                status = r.exit_code
            elif r.reason == "reset":
                m.boot_virt(*images)
            elif r.reason == "interrupted":
                raise KeyboardInterrupt
            elif r.reason == "idle":
                if stdin is None or (stdin.eof and not stdin.buf):
                    print("\nvmlab run: every hart waits in wfi and no input can come", file=sys.stderr)
                    status = 1
                else:
                    time.sleep(0.01)
    finally:
        if stdin is not None:
            stdin.restore()
        if args.stats:
            _print_stats(m, time.perf_counter() - t0)
    return status


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
