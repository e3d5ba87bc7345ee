"""Every lab's graded exercises by name (:data:`ASSIGNMENTS`); lab 03's are here, the other
labs keep theirs in modules of their own (``vmlab.grading.labNN``).

Each lab notebook shows the student's own instance (``lab01.exercises["factorial"].prompt(id)``)
and checks their work on the spot (:func:`vmlab.grading.selfcheck.check`, visible cases only);
``vmlab grade`` runs the same checkers, hidden cases included, on collected artifacts.
"""
from __future__ import annotations

from vmlab.grading.checkers import TraceNumbers
from vmlab.grading.exercise import Assignment
from vmlab.grading.lab00 import lab00
from vmlab.grading.lab01 import lab01
from vmlab.grading.lab02 import lab02
from vmlab.grading.lab04 import lab04
from vmlab.grading.lab05 import lab05
from vmlab.grading.lab07 import lab07
from vmlab.grading.lab09 import lab09
from vmlab.grading.lab10 import lab10
from vmlab.grading.lab11 import lab11

lab03 = Assignment("lab03", title="Lab 03 -- trap and emulate")
#: every lab's assignment by name; labs other than 03 keep their exercises in modules of their own
ASSIGNMENTS = {a.name: a for a in (lab00, lab01, lab02, lab03, lab04, lab05, lab07, lab09, lab10,
                                   lab11)}


# ---- lab 03: exits of a generated guest ----------------------------------------------------------
EXIT_KEYS = ("illegal_instruction", "supervisor_ecall", "load_page_fault", "store_page_fault")


def exit_guest_source(params) -> str:
    """A small virtual-S-mode guest: CSR accesses, SBI calls and UART accesses, in loops."""
    return f"""
        .equ UART, 0x10000000
_start: li      s0, {params['csr_loops']}
1:      csrr    t0, sscratch            # privileged: the deprivileged guest traps
        addi    t0, t0, 1
        csrw    sscratch, t0
        addi    s0, s0, -1
        bnez    s0, 1b
        li      s1, {params['sbi_calls']}
2:      li      a7, 1                   # SBI legacy console putchar
        li      a0, '.'
        ecall
        addi    s1, s1, -1
        bnez    s1, 2b
        li      t1, UART
        li      s2, {params['uart_polls']}
3:      lbu     t2, 5(t1)               # the UART's line status register
        addi    s2, s2, -1
        bnez    s2, 3b
        li      t2, '!'
        li      s3, {params['uart_writes']}
4:      sb      t2, 0(t1)               # the UART's transmit register
        addi    s3, s3, -1
        bnez    s3, 4b
        li      a7, 8                   # SBI legacy shutdown
        ecall
"""


def run_exit_guest(params) -> dict:
    """Run the guest under the hypervisor; its exit counts by cause name."""
    from vmlab.asm import assemble
    from vmlab.hv import Hypervisor
    from vmlab.isa.causes import CAUSE_BY_NAME
    program = assemble(exit_guest_source(params), 0x8000_0000, filename="exits.s")
    vm = Hypervisor().create_vm(ram_size=16 << 20)
    vm.boot(kernel=program.elf)
    vm.run(2_000_000)
    counts = vm.trace.by_cause()
    return {k: int(counts.get(CAUSE_BY_NAME[k].code, 0)) for k in EXIT_KEYS}


@lab03.exercise(points=4, checker=TraceNumbers("exit_counts", run_exit_guest, lambda p: EXIT_KEYS),
                prompt=lambda p: ("This guest runs in virtual S-mode under the hypervisor. "
                                  "**Predict** how many exits of each cause it makes, then run "
                                  "it and read the counts off the trace:\n\n```\n"
                                  + exit_guest_source(p).strip("\n") + "\n```"))
def exit_counts(rng):
    return {"csr_loops": rng.randrange(2, 9), "sbi_calls": rng.randrange(1, 6),
            "uart_polls": rng.randrange(1, 6), "uart_writes": rng.randrange(2, 8)}
