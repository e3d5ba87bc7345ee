"""The A extension: every AMO on words and doublewords, LR/SC success and failure."""
from __future__ import annotations

import pytest

from machine_asm import U64, run_asm

W_MASK = 0xFFFFFFFF


def sext32(v):
    v &= W_MASK
    return v - (1 << 32) if v >> 31 else v


CASES = {   # name: (new memory value from old, src), signed/unsigned
    "amoswap": lambda a, b, s: b,
    "amoadd": lambda a, b, s: a + b,
    "amoxor": lambda a, b, s: a ^ b,
    "amoand": lambda a, b, s: a & b,
    "amoor": lambda a, b, s: a | b,
    "amomin": lambda a, b, s: min(s(a), s(b)),
    "amomax": lambda a, b, s: max(s(a), s(b)),
    "amominu": lambda a, b, s: min(a, b),
    "amomaxu": lambda a, b, s: max(a, b),
}


@pytest.mark.parametrize("width", ["w", "d"])
@pytest.mark.parametrize("name", list(CASES))
def test_amo(name, width):
    old, src = 0x80000001_fffffff0, 0x7fffffff_00000020
    bits = 32 if width == "w" else 64
    mask = (1 << bits) - 1
    signed = (lambda v: sext32(v)) if width == "w" else (lambda v: v - (1 << 64) if v >> 63 else v)
    m, syms = run_asm(f"""
        la t0, data
        li t1, {old:#x}
        sd t1, 0(t0)
        li t2, {src:#x}
        {name}.{width} a0, t2, (t0)
        ld a1, 0(t0)
    """, extra=".balign 8\ndata: .dword 0")
    a, b = old & mask, src & mask
    new = CASES[name](a, b, signed) & mask
    expect_rd = (sext32(a) if width == "w" else a) & U64
    assert m.reg("a0") == expect_rd
    expect_mem = new if width == "d" else (old & ~W_MASK & U64) | new
    assert m.reg("a1") == expect_mem


def test_lr_sc_success_failure_and_reservation_loss():
    m, _ = run_asm("""
        la t0, data
        lr.d a0, (t0)
        li t1, 42
        sc.d a1, t1, (t0)           # succeeds: 0
        sc.d a2, t1, (t0)           # no reservation any more: 1
        lr.w a3, (t0)
        ecall                       # a trap drops the reservation
        sc.w a4, t1, (t0)
        ld a5, 0(t0)
    """, extra=".balign 8\ndata: .dword 7")
    assert (m.reg("a0"), m.reg("a1"), m.reg("a2")) == (7, 0, 1)
    assert (m.reg("a3"), m.reg("a4"), m.reg("a5")) == (42, 1, 42)


def test_amo_needs_write_permission_under_translation():
    from test_sv39 import run_paged, VA_DATA, V, R, A
    m = run_paged(f"li t1, {VA_DATA:#x}\n amoor.d a0, a1, (t1)", tables={"data_flags": V | R | A})
    assert m.reg("s2") == 15
