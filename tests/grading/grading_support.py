"""What the grading tests share (a module of its own name: a test that imported ``conftest``
could get another directory's conftest.py, whichever pytest loaded first)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def factorial_program(modulus: int, zero_ok: bool = True) -> str:
    """A correct n! mod m program (or, with zero_ok=False, one that gets 0! wrong)."""
    guard = "beqz    a0, 2f" if zero_ok else "nop                     # forgot 0! = 1"
    return f"""
_start: li      t0, 1
        li      t2, {modulus}
        {guard}
1:      mul     t0, t0, a0
        remu    t0, t0, t2
        addi    a0, a0, -1
        bgtz    a0, 1b
2:      remu    a0, t0, t2
        ecall
"""
