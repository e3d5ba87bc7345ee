"""The graded exercises of labs 01-03, one :class:`Assignment` per lab.

Each lab notebook shows the student's own instance (``lab01.exercises["factorial"].prompt(id)``)
and checks their work on the spot (:func:`vmlab.grading.selfcheck.check`, visible cases only);
``vmlab grade`` runs the same checkers, hidden cases included, on collected artifacts.
"""
from __future__ import annotations

import math

from vmlab.grading.checkers import AsmProgram, TraceNumbers
from vmlab.grading.exercise import Assignment, Case
from vmlab.grading.lab02 import lab02
from vmlab.grading.lab04 import lab04
from vmlab.grading.lab05 import lab05
from vmlab.grading.lab07 import lab07
from vmlab.grading.lab09 import lab09

lab01 = Assignment("lab01", title="Lab 01 -- the machine")
lab03 = Assignment("lab03", title="Lab 03 -- trap and emulate")
#: every lab's assignment by name; labs 04 on keep their exercises in modules of their own
ASSIGNMENTS = {a.name: a for a in (lab01, lab02, lab03, lab04, lab05, lab07, lab09)}


# ---- lab 01: n! mod a prime -------------------------------------------------------------------
def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _factorial_cases(params, rng):
    """0! (the edge case), the student's own n, then hidden n up to 3000.  (Not 1!: a
    program that does nothing would pass it, a0 = 1 being its own answer.)"""
    visible = [0, params["n"]]
    hidden = [rng.randrange(2, 3000) for _ in range(3)]
    return ([Case({"regs": {"a0": n}}, label=f"a0 = {n}") for n in visible]
            + [Case({"regs": {"a0": n}}, True, f"hidden case {i + 1}") for i, n in enumerate(hidden)])


def _factorial_expect(params, inputs):
    n, m = inputs["regs"]["a0"], params["modulus"]
    result = 1
    for k in range(2, n + 1):
        result = result * k % m
    return {"a0": result % m}


@lab01.exercise(points=6, checker=AsmProgram("answer", _factorial_cases, _factorial_expect,
                                             budget=200_000, max_size=256),
                prompt="Write a program that computes **`a0 = a0! mod {modulus}`** (so 0! = 1) "
                       "and then executes `ecall`. It is tested with `a0` = 0, {n} and with "
                       "hidden values up to 3000, and must fit in 256 bytes. Multiply step by step "
                       "and reduce with `remu` after each step, so nothing overflows.")
def factorial(rng):
    modulus = rng.randrange(1_000_003, 1 << 31, 2)
    while not is_prime(modulus):
        modulus += 2
    return {"modulus": modulus, "n": rng.randrange(5, 21)}


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
