"""Taking traps, choosing interrupts, and returning from them (mret/sret).

A trap goes to M-mode unless the hart runs in S or U and the cause is delegated (medeleg for
exceptions, mideleg for interrupts): then it goes to S-mode.  Either way the hart saves where
it was (xepc), why (xcause, xtval), its old privilege and interrupt enable (xPP, xPIE), turns
interrupts off at the new level and jumps to xtvec (plus 4*cause for a vectored interrupt).
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.layout import (
    C_EXC, C_EXIT, C_FLAGS, C_INT, C_TRAP_CAUSE, C_TRAP_IRQ, C_TRAP_PC, C_TRAP_TVAL,
    EXIT_TRAP, F_TRAP_EXIT, HWIP, MCAUSE, MEPC, MIDELEG, MIE, MIP, MEDELEG, MS_MIE, MS_MPIE,
    MS_MPP, MS_MPP_SHIFT, MS_MPRV, MS_SIE, MS_SPIE, MS_SPP, MSTATUS, MTVAL, MTVEC, PC, PRIV, PRIV_M,
    PRIV_S, PRIV_U, RES_ADDR, SCAUSE, SEPC, STVAL, STVEC,
)

INTERRUPT_BIT = -(1 << 63)   # bit 63 of xcause, as an int64


@jit
def take_trap(c, ctl, cause, tval, interrupt):
    """Enter the trap handler for ``cause``; c[PC] is the pc to save in xepc."""
    if ctl[C_FLAGS] & F_TRAP_EXIT:
        trap_exit(c, ctl, cause, tval, interrupt)
        return
    priv = c[PRIV]
    deleg = c[MIDELEG] if interrupt else c[MEDELEG]
    code = cause | INTERRUPT_BIT if interrupt else cause
    ctl[(C_INT if interrupt else C_EXC) + (cause & 15)] += 1
    st = c[MSTATUS]
    if priv <= PRIV_S and (deleg >> cause) & 1:
        c[SEPC] = c[PC]
        c[SCAUSE] = code
        c[STVAL] = tval
        spie = MS_SPIE if st & MS_SIE else 0
        spp = MS_SPP if priv == PRIV_S else 0
        c[MSTATUS] = (st & ~(MS_SPIE | MS_SIE | MS_SPP)) | spie | spp
        c[PRIV] = PRIV_S
        vec = c[STVEC]
    else:
        c[MEPC] = c[PC]
        c[MCAUSE] = code
        c[MTVAL] = tval
        mpie = MS_MPIE if st & MS_MIE else 0
        c[MSTATUS] = (st & ~(MS_MPIE | MS_MIE | MS_MPP)) | mpie | (priv << MS_MPP_SHIFT)
        c[PRIV] = PRIV_M
        vec = c[MTVEC]
    base = vec & ~3
    if interrupt and (vec & 3) == 1:
        base += 4 * cause
    c[PC] = base
    c[RES_ADDR] = -1          # a trap breaks any LR/SC pair


@jit
def trap_exit(c, ctl, cause, tval, interrupt):
    """Hypervisor mode: leave the hart exactly as it was (pc at the trapping instruction) and
    hand the trap to the hypervisor, which emulates it or reflects it into the guest."""
    ctl[(C_INT if interrupt else C_EXC) + (cause & 15)] += 1
    ctl[C_TRAP_CAUSE] = cause
    ctl[C_TRAP_TVAL] = tval
    ctl[C_TRAP_PC] = c[PC]
    ctl[C_TRAP_IRQ] = 1 if interrupt else 0
    ctl[C_EXIT] = EXIT_TRAP


# Interrupt priority (privileged spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI.
_ORDER = (11, 3, 7, 9, 1, 5)


@jit
def pending_interrupt(c):
    """The interrupt the hart should take now, or -1: pending, enabled, and allowed by mode."""
    pend = (c[MIP] | c[HWIP]) & c[MIE]
    if pend == 0:
        return -1
    priv = c[PRIV]
    st = c[MSTATUS]
    m_on = priv < PRIV_M or (st & MS_MIE) != 0
    s_on = priv < PRIV_S or (priv == PRIV_S and (st & MS_SIE) != 0)
    deleg = c[MIDELEG]
    ready = 0
    if m_on:
        ready |= pend & ~deleg
    if s_on:
        ready |= pend & deleg
    if ready == 0:
        return -1
    for irq in _ORDER:
        if (ready >> irq) & 1:
            return irq
    return -1


@jit
def mret(c):
    """Return from an M-mode trap: back to MPP, MIE restored from MPIE."""
    st = c[MSTATUS]
    new = (st & MS_MPP) >> MS_MPP_SHIFT
    st = st & ~(MS_MIE | MS_MPP)
    if st & MS_MPIE:
        st |= MS_MIE
    st |= MS_MPIE                      # MPIE=1, MPP=U (least privileged mode)
    if new != PRIV_M:
        st &= ~MS_MPRV
    c[MSTATUS] = st
    c[PRIV] = new
    c[PC] = c[MEPC]


@jit
def sret(c):
    """Return from an S-mode trap: back to SPP, SIE restored from SPIE."""
    st = c[MSTATUS]
    new = PRIV_S if st & MS_SPP else PRIV_U
    st = st & ~(MS_SIE | MS_SPP | MS_MPRV)
    if st & MS_SPIE:
        st |= MS_SIE
    st |= MS_SPIE
    c[MSTATUS] = st
    c[PRIV] = new
    c[PC] = c[SEPC]
