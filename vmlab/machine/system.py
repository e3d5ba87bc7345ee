"""SYSTEM instructions: CSR access, ecall/ebreak, mret/sret, wfi, sfence.vma.

These change privilege, interrupt enables or translation, so the hot loop stops before each
one and the run loop calls :func:`exec_system` with all state written back; afterwards the
hot loop starts afresh and picks up the new mode, TLB context and pending interrupts.
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.csr import csr_allowed, csr_read, csr_write, csr_written, sensitive_read_leaks
from vmlab.machine.layout import (
    C_INSTRET, MCOUNTINHIBIT, CAUSE_BREAKPOINT, CAUSE_ECALL_U, CAUSE_ILLEGAL, HWIP, MCYCLE, MIE, MINSTRET,
    MIP, MS_TSR, MS_TVM, MS_TW, MSTATUS, PC, PRIV, PRIV_M, PRIV_S, PRIV_U, WAITING, XREG,
)
from vmlab.machine.mmu import sfence_vma
from vmlab.machine.trap import mret, sret, take_trap

ECALL, EBREAK, SRET, MRET, WFI = 0x00000073, 0x00100073, 0x10200073, 0x30200073, 0x10500073


@jit
def exec_csr(c, dev, ctl, h, w):
    """csrrw/csrrs/csrrc and their immediate forms; False means illegal instruction."""
    f3, rd, rs1, num = (w >> 12) & 7, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 0xFFF
    src = c[XREG + rs1] if f3 < 4 else rs1
    kind = f3 & 3                        # 1 write, 2 set bits, 3 clear bits
    writes = kind == 1 or rs1 != 0
    if not csr_allowed(c, num, writes) and not sensitive_read_leaks(c, ctl, num, writes):
        return False
    old = 0
    if kind != 1 or rd != 0:             # csrrw with rd=x0 does not read
        old = csr_read(c, dev, ctl, h, num)
    if writes:
        new = src if kind == 1 else (old | src if kind == 2 else old & ~src)
        csr_write(c, num, new)
    if rd != 0:
        c[XREG + rd] = old
    return True


@jit
def exec_priv(c, tlb, h, w):
    """ecall, ebreak, mret, sret, wfi, sfence.vma: return (cause or -1, tval)."""
    priv, st = c[PRIV], c[MSTATUS]
    pc = c[PC]
    if w == ECALL:
        return CAUSE_ECALL_U + priv, 0
    if w == EBREAK:
        return CAUSE_BREAKPOINT, pc
    if w == MRET:
        if priv != PRIV_M:
            return CAUSE_ILLEGAL, w
        mret(c)
        return -1, 0
    if w == SRET:
        if priv == PRIV_U or (priv == PRIV_S and (st & MS_TSR)):
            return CAUSE_ILLEGAL, w
        sret(c)
        return -1, 0
    if w == WFI:
        if priv == PRIV_U or (priv == PRIV_S and (st & MS_TW)):
            return CAUSE_ILLEGAL, w
        if ((c[MIP] | c[HWIP]) & c[MIE]) == 0:
            c[WAITING] = 1              # the run loop wakes us when an interrupt is pending
        c[PC] = pc + 4
        return -1, 0
    if (w >> 25) == 0x09 and ((w >> 7) & 0x1F) == 0:
        if priv == PRIV_U or (priv == PRIV_S and (st & MS_TVM)):
            return CAUSE_ILLEGAL, w
        rs1, rs2 = (w >> 15) & 31, (w >> 20) & 31
        sfence_vma(tlb, h, c[XREG + rs1], c[XREG + rs2] & 0xFFFF, rs1 == 0, rs2 == 0)
        c[PC] = pc + 4
        return -1, 0
    return CAUSE_ILLEGAL, w


@jit
def exec_system(cpu, tlb, dev, ctl, h, word):
    """Execute the SYSTEM instruction the hot loop stopped at (word | length << 32)."""
    c = cpu[h]
    w, length = word & 0xFFFFFFFF, word >> 32
    if (w >> 12) & 7 == 0:
        cause, tval = exec_priv(c, tlb, h, w)
    elif (w >> 12) & 7 == 4:
        cause, tval = CAUSE_ILLEGAL, w
    elif exec_csr(c, dev, ctl, h, w):
        c[PC] += length
        cause, tval = -1, 0
    else:
        cause, tval = CAUSE_ILLEGAL, w
    # A csrw to minstret/mcycle sets the value the *next* instruction reads: the writing
    # instruction's own increment is suppressed (as riscv-tests' instret_overflow checks).
    inhibit = c[MCOUNTINHIBIT]
    written = csr_written(w)
    if cause >= 0:
        take_trap(c, ctl, cause, tval, False)
    else:
        ctl[C_INSTRET] += 1
        if not (inhibit & 4) and written != MINSTRET:
            c[MINSTRET] += 1
    if not (inhibit & 1) and not (cause < 0 and written == MCYCLE):
        c[MCYCLE] += 1
    c[XREG] = 0
