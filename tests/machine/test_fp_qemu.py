"""Differential test against a current QEMU: random F/D programs, no adjustments at all.

unicorn's QEMU (test_fp_unicorn.py) predates NaN-boxing and the 2.2 fmin/fmax, so that test
applies those rules around it.  Here the same kind of programs run on ``qemu-system-riscv64``
(QEMU 7.2, which implements both): one bare-metal ELF, assembled with GNU as, loads each
program's registers and frm, runs its words, stores every register and fcsr, and finally
prints all the stored words in hex on the UART.  exec_fp must produce the same, bit for bit.

``VMLAB_FP_QEMU_PROGRAMS`` sets the number of programs (default 300).
"""
from __future__ import annotations

import os
import random
import subprocess

import fpgen
from oracles import PRINT_WORDS_AND_EXIT, need_tool, qemu_words

PROGRAMS = int(os.environ.get("VMLAB_FP_QEMU_PROGRAMS", "300"))
LENGTH = 24
SLOTS = 65  # f0..f31, x0..x31, fcsr


def load_state(i):
    """Load program i's inputs: fcsr first (through x1), then f, then x, t6 (x31) last."""
    lines = [f"    la t6, in_{i}", f"    ld x1, {64 * 8}(t6)", "    csrw fcsr, x1"]
    lines += [f"    fld f{r}, {r * 8}(t6)" for r in range(32)]
    lines += [f"    ld x{r}, {(32 + r) * 8}(t6)" for r in range(1, 32)]
    return lines


def store_state(i):
    """Store every register and fcsr into out_i (t6 parked in mscratch meanwhile)."""
    lines = ["    csrw mscratch, t6", f"    la t6, out_{i}"]
    lines += [f"    sd x{r}, {(32 + r) * 8}(t6)" for r in range(1, 31)]
    lines += ["    csrr x1, mscratch", f"    sd x1, {(32 + 31) * 8}(t6)"]
    lines += [f"    fsd f{r}, {r * 8}(t6)" for r in range(32)]
    lines += ["    csrr x1, fcsr", f"    sd x1, {64 * 8}(t6)"]
    return lines




def assembly(programs):
    text = ["    .option norvc", "    .option norelax", "    .text", "    .globl _start", "_start:",
            "    li t0, 0x6000", "    csrs mstatus, t0"]  # FS = Dirty: F/D instructions allowed
    data = ["    .data", "    .balign 8"]
    outs = []  # all out_i together after the inputs: the printer reads them as one array
    for i, (words, f, x, frm) in enumerate(programs):
        text += load_state(i) + [f"    .word {w:#010x}" for w in words] + store_state(i)
        data += [f"in_{i}:"] + [f"    .dword {v:#x}" for v in f + x + [frm << 5]]
        outs += [f"out_{i}:", f"    .zero {SLOTS * 8}"]
    data += outs
    text.append(PRINT_WORDS_AND_EXIT.format(count=len(programs) * SLOTS))
    return "\n".join(text + data) + "\n"


def run_qemu(tmp_path, programs):
    gas = need_tool("riscv64-unknown-elf-as", "binutils-riscv64-unknown-elf")
    ld = need_tool("riscv64-unknown-elf-ld", "binutils-riscv64-unknown-elf")
    (tmp_path / "fp.s").write_text(assembly(programs))
    subprocess.run([gas, "-march=rv64gc", "-o", tmp_path / "fp.o", tmp_path / "fp.s"], check=True)
    subprocess.run([ld, "-Ttext=0x80000000", "-o", tmp_path / "fp.elf", tmp_path / "fp.o"], check=True)
    words = qemu_words(tmp_path / "fp.elf")
    assert len(words) == len(programs) * SLOTS, "QEMU printed every register of every program"
    return [words[i * SLOTS:(i + 1) * SLOTS] for i in range(len(programs))]


def test_random_fd_programs_match_qemu(tmp_path):
    rng = random.Random(7)
    programs = []
    for _ in range(PROGRAMS):
        words = [fpgen.random_word(rng) for _ in range(LENGTH)]
        programs.append((words, *fpgen.random_state(rng)))
    failures = []
    for n, (theirs, (words, f, x, frm)) in enumerate(zip(run_qemu(tmp_path, programs), programs)):
        fr, xr, fcsr = fpgen.run_exec_fp(words, f, x, frm)
        ours = fr + xr + [fcsr]
        bad = [k for k in range(SLOTS) if ours[k] != theirs[k]]
        if bad:
            names = [f"f{k}" if k < 32 else f"x{k - 32}" if k < 64 else "fcsr" for k in bad]
            failures.append(f"program {n}: {', '.join(names)} differ; words "
                            + " ".join(f"{w:08x}" for w in words))
    assert not failures, f"{len(failures)}/{PROGRAMS} programs differ:\n" + "\n".join(failures[:5])
