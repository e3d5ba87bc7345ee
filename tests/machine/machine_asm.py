"""Assemble small test programs and run them on a fresh machine.

Programs are assembled with ``vmlab.asm``; set ``ASSEMBLER = "gnu"`` to use GNU as/ld
instead (binutils-riscv64-unknown-elf) -- the one line to change if either misbehaves.

:func:`run_asm` wraps a body in a harness: M-mode, ``mtvec`` pointing at a handler that
counts traps in ``gp``, leaves mcause in ``s10``, mtval in ``s11``, the trap's mepc in ``s9``
and the privilege it came from (MPP) in ``s8``.  An interrupt is masked in ``mie`` (so it
is taken once) and the handler returns to where it hit; an exception resumes after the faulting instruction
(or at ``ra`` for instruction-fetch faults).  An ``ecall`` from S or U returns in M-mode,
so a test can drop to a lower mode, do something, and ``ecall`` back.  The body ends by falling into ``pass``, which
powers off through sifive_test.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from vmlab.machine import Machine

ASSEMBLER = "vmlab"
RAM = 0x8000_0000

HARNESS = r"""
    .globl _start
_start:
    la      t0, m_trap
    csrw    mtvec, t0
    li      gp, 0
{body}
pass:
    li      t6, 0x100000
    li      t5, 0x5555
    sw      t5, 0(t6)
1:  j       1b

    .balign 4
m_trap:
    csrr    s10, mcause
    csrr    s11, mtval
    csrr    s9, mepc
    csrr    s8, mstatus
    srli    s8, s8, 11
    andi    s8, s8, 3
    addi    gp, gp, 1
    bgez    s10, 5f
    li      t5, 1                   # interrupt: mask it in mie, resume where it hit
    sll     t5, t5, s10
    csrc    mie, t5
    mret
5:
    li      t5, 1
    beq     s10, t5, 8f             # fetch faults: resume at ra
    li      t5, 12
    beq     s10, t5, 8f
    addi    t5, s10, -8             # ecall from U or S: come back in M-mode
    li      t4, 1
    bgtu    t5, t4, 6f
    li      t5, 0x1800
    csrs    mstatus, t5
6:  csrr    t6, mepc
    lhu     t5, 0(t6)
    andi    t5, t5, 3
    li      t4, 3
    addi    t6, t6, 2
    bne     t5, t4, 7f
    addi    t6, t6, 2
7:  csrw    mepc, t6
9:  mret
8:  csrw    mepc, ra
    mret
{extra}
"""


def assemble_elf(source: str, base: int = RAM) -> tuple[bytes, dict[str, int]]:
    """(ELF bytes, symbols) of ``source`` linked at ``base``."""
    if ASSEMBLER == "vmlab":
        from vmlab.asm import assemble
        prog = assemble(source, base=base)
        return bytes(prog.elf), dict(prog.symbols)
    return _gnu(source, base)


def _gnu(source: str, base: int) -> tuple[bytes, dict[str, int]]:
    from elftools.elf.elffile import ELFFile
    with tempfile.TemporaryDirectory() as tmp:
        s, o, e = (Path(tmp) / n for n in ("t.s", "t.o", "t.elf"))
        s.write_text(source)
        subprocess.run([shutil.which("riscv64-unknown-elf-as"), "-march=rv64imac_zicsr_zifencei",
                        "-o", str(o), str(s)], check=True)
        subprocess.run([shutil.which("riscv64-unknown-elf-ld"), f"-Ttext={base:#x}", "-e", "_start",
                        "-o", str(e), str(o)], check=True)
        data = e.read_bytes()
        with open(e, "rb") as f:
            symtab = ELFFile(f).get_section_by_name(".symtab")
            syms = {x.name: x["st_value"] for x in symtab.iter_symbols() if x.name}
    return data, syms


def machine_for(source: str, ram_size: int = 4 << 20, harts: int = 1) -> tuple[Machine, dict]:
    elf, syms = assemble_elf(source)
    m = Machine(ram_size=ram_size, harts=harts)
    entry = m.load_elf(elf)
    for h in m.harts:
        h.pc = entry
    return m, syms


def run_asm(body: str, extra: str = "", budget: int = 1_000_000, harts: int = 1):
    """Run ``body`` inside the harness until it powers off; return (machine, symbols)."""
    m, syms = machine_for(HARNESS.format(body=body, extra=extra), harts=harts)
    r = m.run(instructions=budget)
    assert r.reason == "halt", f"stopped with {r.reason} at {r.pc:#x}"
    return m, syms


U64 = (1 << 64) - 1


def s(v: int) -> int:
    """An unsigned 64-bit register value as signed."""
    return v - (1 << 64) if v >> 63 else v
