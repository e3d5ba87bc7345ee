"""Benchmark: ``vmlab asm`` on a generated 10,000-line file (``python -m vmlab.asm.bench``).

Reports the time of a whole ``vmlab asm`` run in a fresh process (start-up and imports
included, as a user sees it; wall clock and CPU time, which stays put on a busy machine) and
of :func:`assemble` alone.  A measurement, not a test.
"""
from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BODY = [
    "addi a{r}, a{s}, {imm}", "add t{t}, t{t}, a{r}", "lw a{r}, {off4}(sp)", "sd s{r}, {off8}(sp)",
    "li a{r}, {big}", "beqz a{r}, 1f", "bne a{r}, a{s}, 2b", "slli a{r}, a{r}, {sh}",
    "mul a{r}, a{s}, a{r}", "csrr t{t}, mstatus", "la a{r}, data{d}", "j 1f", "call func{f}",
    "amoadd.w a{r}, a{s}, (a{r})", "mv s{r}, a{s}", "sw a{r}, {off4}(a{s})", "ret",
]


def generate(lines: int = 10_000, seed: int = 1) -> str:
    """A realistic mix: instructions, pseudo-instructions, labels, branches, data."""
    rnd = random.Random(seed)
    out = ["    .text", "    .globl _start", "_start:", "2:"]
    funcs = 0
    while len(out) < lines - 60:
        if rnd.random() < 0.05:
            out.append(f"func{funcs}:")
            funcs += 1
            out.append("1:")
        tpl = rnd.choice(_BODY)
        out.append("    " + tpl.format(r=rnd.randrange(8), s=rnd.randrange(8), t=rnd.randrange(7),
                                       imm=rnd.randrange(-2048, 2048), off4=4 * rnd.randrange(64),
                                       off8=8 * rnd.randrange(64), big=rnd.getrandbits(40),
                                       sh=rnd.randrange(64), d=rnd.randrange(10), f=rnd.randrange(max(funcs, 1))))
    out.append("1: 2: ret")
    out.append("    .data")
    for d in range(10):
        out += [f"data{d}:", f"    .dword {d}, {d * 3}", "    .word 1, 2, 3", '    .asciz "x"', "    .balign 8"]
    while len(out) < lines:
        out.append("    .byte 0")
    return "\n".join(out) + "\n"


def main() -> int:
    from vmlab.asm import assemble
    src = generate()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "bench.s")
        path.write_text(src)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vmlab", "asm", str(path), "-o", str(Path(tmp, "b.elf"))],
                       check=True)
        cli = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time does not grow when other programs share the cores; wall time does
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        prog = assemble(src)
        runs.append(time.perf_counter() - start)
    print(f"{src.count(chr(10))} lines, {len(prog.image)} bytes of image")
    print(f"vmlab asm (whole process): {cli:.3f} s wall, {cpu:.3f} s CPU")
    print(f"assemble() best of 3:      {min(runs):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
