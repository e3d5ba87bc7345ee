"""``vmlab bench``: how fast is the machine, next to its peers, on the same program?

Speed claims are only meaningful side by side: one workload, run in the same invocation on
vmlab, on unicorn (QEMU's translator as a library) and on QEMU itself, with the same checksum
at the end so we know all three did the same work.

vmlab and unicorn run in this process, so each is timed twice: wall-clock seconds and the
CPU seconds this process used.  On a machine others share, the CPU figures are the ones to
compare (wall time counts the minutes another program held the core); ``--repeat N`` runs
both N times, alternating, and reports the run with the median CPU time of each.

The workload (assembled from :data:`WORKLOAD` below) is CPU-bound RV64IM code run with the MMU
on: a short M-mode prologue builds Sv39 page tables identity-mapping its first 2 MiB with
4 KiB pages, opens PMP, and drops to S-mode; there each round runs a sieve of Eratosthenes
(byte loads/stores, branches), a bitwise CRC-32 (shifts, xors, short loops) and a 16×16 matrix
multiply (64-bit loads and multiplies), folding the results into a checksum.  It ends with an
``ecall``; the M-mode handler powers the board off through the sifive_test device.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAM_BASE = 0x8000_0000
DEFAULT_INSNS = 400_000_000

#: The benchmark program.  ``{iterations}`` is filled in per run.  GNU syntax, so that both
#: vmlab.asm and GNU as accept it; only named labels, no compressed instructions.
WORKLOAD = r"""
    .option norvc
    .text
    .globl _start
_start:                         # ---- M-mode prologue ----
    la      t0, m_trap
    csrw    mtvec, t0
    li      t0, -1              # PMP entry 0: all of memory, RWX, for S-mode
    csrw    pmpaddr0, t0
    li      t0, 0x1f            # NAPOT | X | W | R
    csrw    pmpcfg0, t0
    la      t0, pt_l0           # 512 leaf PTEs: VA 0x80000000+i*4K -> same PA, V R W X A D
    li      t1, 0x200000cf
    li      t2, 0x400
    li      t3, 512
fill_l0:
    sd      t1, 0(t0)
    add     t1, t1, t2
    addi    t0, t0, 8
    addi    t3, t3, -1
    bnez    t3, fill_l0
    la      t0, pt_l0           # L1[0] -> L0 table
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, pt_l1
    sd      t0, 0(t1)
    srli    t1, t1, 12          # root[2] (VA bits 38..30 = 2) -> L1 table
    slli    t1, t1, 10
    ori     t1, t1, 1
    la      t2, pt_root
    sd      t1, 16(t2)
    srli    t2, t2, 12          # satp = Sv39 | root PPN
    li      t3, 0x8000000000000000
    or      t2, t2, t3
    csrw    satp, t2
    sfence.vma
    li      t0, 0x1800          # mstatus.MPP = S
    csrc    mstatus, t0
    li      t0, 0x800
    csrs    mstatus, t0
    la      t0, s_entry
    csrw    mepc, t0
    mret

m_trap:                         # the S-mode ecall at the end lands here
    la      t0, result          # print the checksum in hex on the UART ...
    ld      t1, 0(t0)
    li      t2, 0x10000000
    li      t3, 16
    li      t5, 10              # newline
m_digit:
    srli    t4, t1, 60
    addi    t4, t4, 48          # '0' + nibble
    li      t6, 58
    blt     t4, t6, m_put       # a decimal digit
    addi    t4, t4, 39          # past '9': 'a' + nibble - 10
m_put:
    sb      t4, 0(t2)
    slli    t1, t1, 4
    addi    t3, t3, -1
    bnez    t3, m_digit
    sb      t5, 0(t2)           # newline
    li      t0, 0x100000        # ... and power off through sifive_test
    li      t1, 0x5555
    sw      t1, 0(t0)
m_hang:
    j       m_hang

s_entry:                        # ---- S-mode, translated through the tables above ----
    la      a1, mat_a
    la      a2, mat_b
    li      t0, 0
    li      t1, 256
init_mat:
    li      t2, 3
    mul     t2, t0, t2
    addi    t2, t2, 1
    sd      t2, 0(a1)
    xori    t2, t0, 0x55
    sd      t2, 0(a2)
    addi    a1, a1, 8
    addi    a2, a2, 8
    addi    t0, t0, 1
    blt     t0, t1, init_mat
    la      s0, iterations
    ld      s1, 0(s0)
    li      s11, 0
    li      s10, 1000003
round:
    beqz    s1, finish
    call    sieve
    add     s11, s11, a0
    call    crc32
    xor     s11, s11, a0
    call    matmul
    add     s11, s11, a0
    remu    t0, s11, s10
    slli    s11, s11, 5
    add     s11, s11, t0
    divu    t1, s11, s10
    xor     s11, s11, t1
    addi    s1, s1, -1
    j       round
finish:
    la      t0, result
    sd      s11, 0(t0)
done:
    ecall

sieve:                          # a0 = number of primes below 8192
    la      a1, flags
    li      a2, 8192
    li      t0, 0
    li      t1, 1
sieve_fill:
    add     t2, a1, t0
    sb      t1, 0(t2)
    addi    t0, t0, 1
    blt     t0, a2, sieve_fill
    li      t0, 2
    li      a0, 0
sieve_outer:
    add     t2, a1, t0
    lbu     t3, 0(t2)
    beqz    t3, sieve_next
    addi    a0, a0, 1
    mul     t4, t0, t0
    bge     t4, a2, sieve_next
sieve_inner:
    add     t5, a1, t4
    sb      zero, 0(t5)
    add     t4, t4, t0
    blt     t4, a2, sieve_inner
sieve_next:
    addi    t0, t0, 1
    blt     t0, a2, sieve_outer
    ret

crc32:                          # a0 = CRC-32 of the first 1 KiB of this program, bit by bit
    la      a1, _start
    li      a2, 1024
    li      a0, 0xffffffff
    li      a3, 0xedb88320
crc_byte:
    lbu     t0, 0(a1)
    xor     a0, a0, t0
    li      t1, 8
crc_bit:
    andi    t2, a0, 1
    srli    a0, a0, 1
    beqz    t2, crc_skip
    xor     a0, a0, a3
crc_skip:
    addi    t1, t1, -1
    bnez    t1, crc_bit
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, crc_byte
    xori    a0, a0, -1
    slli    a0, a0, 32
    srli    a0, a0, 32
    ret

matmul:                         # C = A * B (16x16 of int64), a0 = sum of C, then A = C ^ k
    la      a1, mat_a
    la      a2, mat_b
    la      a3, mat_c
    li      a7, 16
    li      t0, 0
mm_i:
    li      t1, 0
mm_j:
    li      t3, 0
    li      t2, 0
    slli    t4, t0, 7
    add     t4, a1, t4
    slli    t5, t1, 3
    add     t5, a2, t5
mm_k:
    ld      t6, 0(t4)
    ld      a4, 0(t5)
    mul     a5, t6, a4
    add     t3, t3, a5
    addi    t4, t4, 8
    addi    t5, t5, 128
    addi    t2, t2, 1
    blt     t2, a7, mm_k
    slli    a5, t0, 7
    slli    a6, t1, 3
    add     a5, a5, a6
    add     a5, a3, a5
    sd      t3, 0(a5)
    addi    t1, t1, 1
    blt     t1, a7, mm_j
    addi    t0, t0, 1
    blt     t0, a7, mm_i
    li      a0, 0
    li      t0, 256
mm_copy:
    ld      t1, 0(a3)
    add     a0, a0, t1
    srai    t1, t1, 3
    xor     t1, t1, t0
    sd      t1, 0(a1)
    addi    a1, a1, 8
    addi    a3, a3, 8
    addi    t0, t0, -1
    bnez    t0, mm_copy
    ret

    .balign 4096
pt_root:    .space 4096
pt_l1:      .space 4096
pt_l0:      .space 4096
flags:      .space 8192
mat_a:      .space 2048
mat_b:      .space 2048
mat_c:      .space 2048
iterations: .dword {iterations}
result:     .dword 0
"""


# ------------------------------------------------------------------------------ building

@dataclass
class Workload:
    """The assembled program and the addresses the runners need."""

    image: bytes                 # flat, loaded at RAM_BASE
    elf: bytes
    symbols: dict[str, int]
    iterations: int
    built_with: str

    @property
    def entry(self) -> int:
        return self.symbols["_start"]


def build(iterations: int) -> Workload:
    """Assemble the workload, with vmlab's own assembler when it is there, else GNU as/ld."""
    source = WORKLOAD.replace("{iterations}", str(iterations))
    try:
        return _build_vmlab(source, iterations)
    except Exception as exc:  # noqa: BLE001 - any failure of a young assembler: fall back
        vmlab_error = exc
    if shutil.which("riscv64-unknown-elf-as"):
        return _build_gnu(source, iterations)
    raise RuntimeError(f"cannot assemble the workload: vmlab.asm failed ({vmlab_error}) and "
                       "GNU as is not installed (binutils-riscv64-unknown-elf)")


def _build_vmlab(source: str, iterations: int) -> Workload:
    from vmlab.asm import assemble
    prog = assemble(source, base=RAM_BASE)
    return Workload(bytes(prog.image), bytes(prog.elf), dict(prog.symbols), iterations,
                    "vmlab.asm")


def _build_gnu(source: str, iterations: int) -> Workload:
    from elftools.elf.elffile import ELFFile
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, elf, bin_ = (Path(tmp) / n for n in ("w.s", "w.o", "w.elf", "w.bin"))
        src.write_text(source)
        subprocess.run(["riscv64-unknown-elf-as", "-march=rv64im_zicsr", "-mabi=lp64",
                        "-o", str(obj), str(src)], check=True, capture_output=True)
        subprocess.run(["riscv64-unknown-elf-ld", f"-Ttext={RAM_BASE:#x}", "-e", "_start",
                        "-o", str(elf), str(obj)], check=True, capture_output=True)
        subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(bin_)],
                       check=True, capture_output=True)
        with open(elf, "rb") as f:
            symtab = ELFFile(f).get_section_by_name(".symtab")
            symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        return Workload(bin_.read_bytes(), elf.read_bytes(), symbols, iterations, "GNU as")


# ------------------------------------------------------------------------------- results

@dataclass
class Result:
    """One engine's run: instructions, seconds and the checksum the program computed."""

    engine: str
    instructions: int
    seconds: float
    checksum: int | None
    note: str = ""
    cpu_seconds: float | None = None     # CPU time of this process (in-process engines)

    @property
    def mips(self) -> float:
        return self.instructions / self.seconds / 1e6 if self.seconds > 0 else float("nan")

    @property
    def cpu_mips(self) -> float | None:
        if not self.cpu_seconds:
            return None
        return self.instructions / self.cpu_seconds / 1e6


class Clock:
    """Wall and CPU seconds of a block: ``with Clock() as t: ...; t.wall, t.cpu``."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------- vmlab

def _new_machine(work: Workload):
    from vmlab.machine import Machine
    m = Machine(ram_size=128 << 20, harts=1)
    m.load_elf(work.elf)
    m.pc = work.entry
    return m


def run_vmlab(work: Workload) -> Result:
    """Run to power-off on vmlab's Machine; the compile (or cache load) is not timed."""
    warm = build(0)
    _new_machine(warm).run(instructions=10_000_000)  # compile or load the jitted loop first
    m = _new_machine(work)
    with Clock() as t:
        r = m.run()
    if r.reason != "halt":
        raise RuntimeError(f"vmlab stopped with {r.reason!r} at pc={m.pc:#x}")
    checksum = int.from_bytes(m.read_mem(work.symbols["result"], 8), "little")
    return Result("vmlab", r.instructions, t.wall, checksum, "Sv39 on, S-mode", t.cpu)


def count_prologue(work: Workload) -> int:
    """Instructions vmlab retires before reaching S-mode (the part unicorn may skip)."""
    m = _new_machine(work)
    m.add_breakpoint(work.symbols["s_entry"])
    r = m.run(instructions=1_000_000)
    if r.reason != "breakpoint":
        raise RuntimeError(f"prologue did not reach s_entry ({r.reason})")
    return r.instructions


# ------------------------------------------------------------------------------- unicorn

def _unicorn(work: Workload):
    from unicorn import Uc, UC_ARCH_RISCV, UC_MODE_RISCV64
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM_BASE, 4 << 20)
    uc.mem_write(RAM_BASE, work.image)
    return uc


def run_unicorn(work: Workload, instructions: int, prologue: int) -> Result:
    """Unicorn runs the same image; with the MMU if it can, else from s_entry in M-mode.

    Unicorn stops at an address (``until``) rather than at a power-off, so it stops at the
    ``done`` label just before the final ``ecall``.
    """
    from unicorn import UcError
    from unicorn.riscv_const import UC_RISCV_REG_PC
    done, result = work.symbols["done"], work.symbols["result"]
    uc = _unicorn(work)
    note, count = "Sv39 on, S-mode", instructions
    with Clock() as t:
        try:
            uc.emu_start(work.entry, done)
            ok = uc.reg_read(UC_RISCV_REG_PC) == done
        except UcError:
            ok = False
    if not ok:  # no MMU or privilege support: run the S-mode part untranslated, in M-mode
        uc = _unicorn(work)
        note, count = "MMU off: S-mode part run untranslated in M-mode", instructions - prologue
        with Clock() as t:
            uc.emu_start(work.symbols["s_entry"], done)
    count -= 1  # the final ecall, which unicorn does not execute
    checksum = int.from_bytes(uc.mem_read(result, 8), "little")
    return Result("unicorn", count, t.wall, checksum, note, t.cpu)


def median_run(results: list[Result]) -> Result:
    """The run with the median CPU time (the lower middle one of an even number)."""
    ranked = sorted(results, key=lambda r: r.cpu_seconds or r.seconds)
    return ranked[(len(ranked) - 1) // 2]


# ---------------------------------------------------------------------------------- qemu

def _time_qemu(qemu: str, elf: Path, repeats: int = 3) -> tuple[float, str]:
    """Best of ``repeats`` wall times of a whole QEMU run ending in sifive_test power-off,
    and what the program printed (its checksum)."""
    best, output = float("inf"), ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([qemu, "-M", "virt", "-m", "128M", "-bios", "none",
                              "-kernel", str(elf), "-nographic", "-monitor", "none",
                              "-serial", "stdio"], check=True, capture_output=True, timeout=600)
        best = min(best, time.perf_counter() - t0)
        output = out.stdout.decode(errors="replace")
    return best, output


def parse_checksum(console: str) -> int | None:
    """The workload prints its checksum as 16 hex digits on the UART before powering off."""
    lines = console.strip().splitlines()
    try:
        return int(lines[-1].strip(), 16)
    except (IndexError, ValueError):
        return None


def run_qemu(work: Workload, per_round: int, fixed: int, min_insns: float = 2e9) -> Result:
    """Time QEMU on the workload minus a zero-round run (its start-up).

    QEMU is so fast that the workload alone would be over before the clock's noise settles,
    so the timed run does at least ``min_insns`` instructions; a run with the same rounds as
    the others supplies the checksum.
    """
    qemu = shutil.which("qemu-system-riscv64")
    rounds = max(work.iterations, -(-int(min_insns) // per_round))
    with tempfile.TemporaryDirectory() as tmp:
        same, big, empty = (Path(tmp) / n for n in ("same.elf", "big.elf", "empty.elf"))
        same.write_bytes(work.elf)
        big.write_bytes(build(rounds).elf)
        empty.write_bytes(build(0).elf)
        _, console = _time_qemu(qemu, same, repeats=1)
        startup, _ = _time_qemu(qemu, empty)
        total, _ = _time_qemu(qemu, big)
    return Result("qemu", fixed + rounds * per_round, max(total - startup, 1e-9),
                  parse_checksum(console), f"TCG, {rounds} rounds; {startup:.2f} s start-up "
                  "subtracted")


# ---------------------------------------------------------------------- compile and start

_START_SNIPPET = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from vmlab.machine import Machine
m = Machine(ram_size=16 << 20, harts=1)
m.write_mem(0x80000000, bytes.fromhex("6f000000"))  # j .
m.pc = 0x80000000
m.run(instructions=1000)
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def time_start(cache_dir: str) -> tuple[float, float]:
    """(wall, CPU) seconds for a fresh Python to import the machine and run a trivial guest."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _START_SNIPPET], env=env, check=True,
                         capture_output=True, text=True, timeout=900)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


# ----------------------------------------------------------------------------------- CLI

def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insns", type=float, default=DEFAULT_INSNS,
                        help=f"instructions to run (approximately; default {DEFAULT_INSNS:,})")
    parser.add_argument("--no-unicorn", action="store_true", help="skip unicorn")
    parser.add_argument("--no-qemu", action="store_true", help="skip qemu-system-riscv64")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the cold-compile and warm-start measurements")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run vmlab and unicorn N times each and report the median run")
    parser.add_argument("--json", action="store_true", help="print results as JSON")


def per_round(m_insns) -> tuple[int, int]:
    """(instructions of one round, instructions outside the rounds), measured on vmlab."""
    one, two = m_insns(build(1)), m_insns(build(2))
    return two - one, 2 * one - two


def _vmlab_count(work: Workload) -> int:
    r = _new_machine(work).run(instructions=50_000_000)
    if r.reason != "halt":
        raise RuntimeError(f"calibration run stopped with {r.reason!r}")
    return r.instructions


def run_in_process(work: Workload, repeat: int, with_unicorn: bool) -> list[Result]:
    """vmlab and (if asked) unicorn, ``repeat`` times each, alternating; the median runs."""
    ours, theirs = [], []
    prologue = count_prologue(work) if with_unicorn else 0
    for _ in range(max(1, repeat)):
        ours.append(run_vmlab(work))
        if with_unicorn:
            theirs.append(run_unicorn(work, ours[-1].instructions, prologue))
    return [median_run(ours)] + ([median_run(theirs)] if theirs else [])


def main(args) -> int:
    report = Report()
    per, fixed = per_round(_vmlab_count)
    iterations = max(1, round((int(args.insns) - fixed) / per))
    work = build(iterations)
    with_unicorn = not args.no_unicorn
    if with_unicorn:
        try:
            import unicorn  # noqa: F401
        except ImportError:
            with_unicorn = False
            report.notes.append("unicorn: not installed (pip install unicorn)")
    report.results.extend(run_in_process(work, args.repeat, with_unicorn))
    report.notes.append(f"workload: sieve + CRC-32 + matmul, {iterations} rounds of {per:,} "
                        f"instructions, built with {work.built_with}")
    if args.repeat > 1:
        report.notes.append(f"vmlab and unicorn: the run with the median CPU time of "
                            f"{args.repeat}")
    if not args.no_qemu:
        if shutil.which("qemu-system-riscv64"):
            report.results.append(run_qemu(work, per, fixed))
        else:
            report.notes.append("qemu: qemu-system-riscv64 not installed (qemu-system-misc)")
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            for name in ("cold start (empty numba cache)", "warm start (cached)"):
                wall, cpu = time_start(cache)
                report.timings[name] = wall
                report.timings[name + ", CPU"] = cpu
    print_report(report, as_json=args.json)
    sums = {r.checksum for r in report.results if r.checksum is not None}
    if len(sums) > 1:
        print("vmlab bench: engines disagree on the checksum!", file=sys.stderr)
        return 1
    return 0


def _ratio(ours: Result, other: Result) -> float:
    """vmlab's speed over another engine's: by CPU time when both have it, else wall time."""
    if ours.cpu_mips and other.cpu_mips:
        return ours.cpu_mips / other.cpu_mips
    return ours.mips / other.mips if other.mips else float("nan")


def print_report(report: Report, as_json: bool = False) -> None:
    ours = report.results[0]
    if as_json:
        print(json.dumps({"results": [dict(r.__dict__, mips=r.mips, cpu_mips=r.cpu_mips)
                                      for r in report.results],
                          "notes": report.notes, "timings": report.timings}, indent=2))
        return
    for note in report.notes:
        print(note)
    print(f"{'engine':10} {'instructions':>14} {'seconds':>9} {'MIPS':>9} {'CPU s':>8} "
          f"{'CPU MIPS':>9} {'vmlab/x':>8}  notes")
    for r in report.results:
        ratio = _ratio(ours, r)
        cpu_s = f"{r.cpu_seconds:8.3f}" if r.cpu_seconds else f"{'-':>8}"
        cpu_mips = f"{r.cpu_mips:9.1f}" if r.cpu_mips else f"{'-':>9}"
        print(f"{r.engine:10} {r.instructions:>14,} {r.seconds:>9.3f} {r.mips:>9.1f} {cpu_s} "
              f"{cpu_mips} {ratio:>7.2f}x  {r.note}")
    sums = {r.checksum for r in report.results if r.checksum is not None}
    if len(sums) == 1:
        print(f"checksum {sums.pop():#018x}: all engines agree")
    for name, seconds in report.timings.items():
        print(f"{name}: {seconds:.2f} s")
