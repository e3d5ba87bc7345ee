"""Taking traps, choosing interrupts, and returning from them (mret/sret).

A trap goes to M-mode unless the hart runs in S or U and the cause is delegated (medeleg for
exceptions, mideleg for interrupts): then it goes to S-mode -- HS-mode, with the hypervisor
extension -- and if a guest was running (V=1) and hedeleg/hideleg delegate it further, on to
the guest's own VS-mode, as if the guest ran on the hart alone.  Either way the hart saves where
it was (xepc), why (xcause, xtval), its old privilege and interrupt enable (xPP, xPIE), turns
interrupts off at the new level and jumps to xtvec (plus 4*cause for a vectored interrupt).
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.layout import (
    C_EXC_H, C_FAULT_GPA, C_FAULT_TINST, CAUSE_FETCH_GUEST_PAGE, CAUSE_LOAD_GUEST_PAGE, CAUSE_STORE_GUEST_PAGE,
    HEDELEG, HIDELEG, HS_GVA, HS_SPV, HS_SPVP, HSTATUS, HTINST, HTVAL, MIP_VS_BITS, MS_GVA,
    MS_MPV, MTINST, MTVAL2, VIRT, VSCAUSE, VSEPC, VSSTATUS, VSTVAL, VSTVEC,
    C_EXC, C_EXIT, C_FLAGS, C_INT, C_TRAP_CAUSE, C_TRAP_IRQ, C_TRAP_PC, C_TRAP_TVAL,
    EXIT_TRAP, F_TRAP_EXIT, HWIP, MCAUSE, MEPC, MIDELEG, MIE, MIP, MEDELEG, MS_MIE, MS_MPIE,
    MS_MPP, MS_MPP_SHIFT, MS_MPRV, MS_SIE, MS_SPIE, MS_SPP, MSTATUS, MTVAL, MTVEC, PC, PRIV, PRIV_M,
    PRIV_S, PRIV_U, RES_ADDR, SCAUSE, SEPC, STVAL, STVEC,
)

INTERRUPT_BIT = -(1 << 63)   # bit 63 of xcause, as an int64


@jit
def take_trap(c, ctl, cause, tval, interrupt):
    """Enter the trap handler for ``cause``; c[PC] is the pc to save in xepc.  A trap taken
    while a guest runs (V=1) that writes an address to xtval reports a guest virtual one."""
    enter_trap(c, ctl, cause, tval, interrupt, c[VIRT] != 0)


@jit
def enter_trap(c, ctl, cause, tval, interrupt, guest_va):
    """Take the trap to M, HS or VS mode.  ``guest_va``: an address in tval is a guest
    virtual address (a trap from V=1, or a fault of HLV/HLVX/HSV in HS-mode)."""
    if ctl[C_FLAGS] & F_TRAP_EXIT:
        trap_exit(c, ctl, cause, tval, interrupt)
        return
    count_trap(ctl, cause, interrupt)
    target = trap_target(c, cause, interrupt)
    code = cause | INTERRUPT_BIT if interrupt else cause
    gva = guest_va and not interrupt and _tval_is_address(cause)
    gpa = tinst = 0
    if _is_guest_page_fault(cause) and not interrupt:
        gpa, tinst = ctl[C_FAULT_GPA], ctl[C_FAULT_TINST]
        if cause == CAUSE_FETCH_GUEST_PAGE and tinst == 0:
            gpa |= tval & 0xFFF  # a fetch translates its page: the instruction's offset back
        gpa >>= 2
    if target == PRIV_M:
        trap_to_m(c, code, tval, gva, gpa, tinst)
        vec = c[MTVEC]
    elif target == PRIV_S:
        trap_to_hs(c, code, tval, gva, gpa, tinst)
        vec = c[STVEC]
    else:
        if interrupt:
            code -= 1            # a VS interrupt arrives in the guest as its S interrupt
        trap_to_vs(c, code, tval)
        vec = c[VSTVEC]
    base = vec & ~3
    if interrupt and (vec & 3) == 1:
        base += 4 * (code & 63)
    c[PC] = base
    c[RES_ADDR] = -1          # a trap breaks any LR/SC pair


@jit(inline="always")
def count_trap(ctl, cause, interrupt):
    """Count the trap: exceptions 0-15 and interrupts in C_EXC/C_INT, causes 16-23 in C_EXC_H
    (layout.trap_counter says the same for Python)."""
    if interrupt:
        ctl[C_INT + (cause & 15)] += 1
    elif cause < 16:
        ctl[C_EXC + cause] += 1
    else:
        ctl[C_EXC_H + (cause & 7)] += 1


@jit(inline="always")
def _tval_is_address(cause):
    """Causes whose tval is a (virtual) address: misaligned, access and page faults, breakpoints."""
    return cause <= 7 and cause != 2 or cause == 12 or cause == 13 or cause == 15 \
        or _is_guest_page_fault(cause)


@jit(inline="always")
def _is_guest_page_fault(cause):
    return cause == CAUSE_FETCH_GUEST_PAGE or cause == CAUSE_LOAD_GUEST_PAGE \
        or cause == CAUSE_STORE_GUEST_PAGE


@jit
def trap_target(c, cause, interrupt):
    """Where a trap goes: M unless medeleg/mideleg hand it to HS (never from M itself); from
    a guest (V=1), on to VS if hedeleg/hideleg hand it further.  PRIV_M, PRIV_S or -1 (VS)."""
    priv = c[PRIV]
    if interrupt:
        deleg, hdeleg = c[MIDELEG] | MIP_VS_BITS, c[HIDELEG]
    else:
        deleg, hdeleg = c[MEDELEG], c[HEDELEG]
    if priv == PRIV_M or not (deleg >> cause) & 1:
        return PRIV_M
    if c[VIRT] != 0 and (hdeleg >> cause) & 1:
        return -1
    return PRIV_S


@jit
def trap_to_m(c, code, tval, gva, gpa, tinst):
    """M-mode's side of a trap: mepc, mcause, mtval, mtval2 (a guest-physical address >> 2),
    mtinst (0, or a VS-stage table read's pseudoinstruction: no transformed instructions),
    MPP, MPIE, MPV, GVA; V becomes 0."""
    st, priv = c[MSTATUS], c[PRIV]
    c[MEPC] = c[PC]
    c[MCAUSE] = code
    c[MTVAL] = tval
    c[MTVAL2] = gpa
    c[MTINST] = tinst
    mpie = MS_MPIE if st & MS_MIE else 0
    st = (st & ~(MS_MPIE | MS_MIE | MS_MPP | MS_MPV | MS_GVA)) | mpie | (priv << MS_MPP_SHIFT)
    if c[VIRT] != 0:
        st |= MS_MPV
    if gva:
        st |= MS_GVA
    c[MSTATUS] = st
    c[PRIV] = PRIV_M
    c[VIRT] = 0


@jit
def trap_to_hs(c, code, tval, gva, gpa, tinst):
    """HS-mode's side: sepc, scause, stval, SPP, SPIE, and hstatus's SPV, SPVP (only when
    leaving a guest), GVA; htval (a guest-physical address >> 2), htinst (as mtinst); V
    becomes 0."""
    st, priv = c[MSTATUS], c[PRIV]
    c[SEPC] = c[PC]
    c[SCAUSE] = code
    c[STVAL] = tval
    c[HTVAL] = gpa
    c[HTINST] = tinst
    spie = MS_SPIE if st & MS_SIE else 0
    spp = MS_SPP if priv == PRIV_S else 0
    c[MSTATUS] = (st & ~(MS_SPIE | MS_SIE | MS_SPP)) | spie | spp
    hs = c[HSTATUS] & ~(HS_SPV | HS_GVA)
    if c[VIRT] != 0:
        hs = (hs & ~HS_SPVP) | HS_SPV | (HS_SPVP if priv == PRIV_S else 0)
    c[HSTATUS] = hs | (HS_GVA if gva else 0)
    c[PRIV] = PRIV_S
    c[VIRT] = 0


@jit
def trap_to_vs(c, code, tval):
    """The guest's own trap, all in its VS CSRs (vsstatus's SPP/SPIE/SIE); V stays 1."""
    st, priv = c[VSSTATUS], c[PRIV]
    c[VSEPC] = c[PC]
    c[VSCAUSE] = code
    c[VSTVAL] = tval
    spie = MS_SPIE if st & MS_SIE else 0
    spp = MS_SPP if priv == PRIV_S else 0
    c[VSSTATUS] = (st & ~(MS_SPIE | MS_SIE | MS_SPP)) | spie | spp
    c[PRIV] = PRIV_S


@jit
def trap_exit(c, ctl, cause, tval, interrupt):
    """Hypervisor mode: leave the hart exactly as it was (pc at the trapping instruction) and
    hand the trap to the hypervisor, which emulates it or reflects it into the guest."""
    count_trap(ctl, cause, interrupt)
    ctl[C_TRAP_CAUSE] = cause
    ctl[C_TRAP_TVAL] = tval
    ctl[C_TRAP_PC] = c[PC]
    ctl[C_TRAP_IRQ] = 1 if interrupt else 0
    ctl[C_EXIT] = EXIT_TRAP


# Interrupt priority (privileged spec 3.1.9; the H extension's after them, 8.4.3): MEI, MSI,
# MTI, SEI, SSI, STI, SGEI, VSEI, VSSI, VSTI.
_ORDER = (11, 3, 7, 9, 1, 5, 12, 10, 2, 6)


@jit
def pending_interrupt(c):
    """The interrupt the hart should take now, or -1: pending, enabled, and allowed by mode.

    Each interrupt belongs to the level it is delegated to -- M, HS (mideleg; the VS ones
    always), VS (hideleg) -- and is taken when the hart runs below that level, or at it with
    that level's interrupts on (MIE, SIE, vsstatus.SIE).  A guest (V=1) is below HS."""
    pend = (c[MIP] | c[HWIP]) & c[MIE]
    if pend == 0:
        return -1
    priv, virt = c[PRIV], c[VIRT] != 0
    st = c[MSTATUS]
    m_on = priv < PRIV_M or (st & MS_MIE) != 0
    hs_on = virt or priv < PRIV_S or (priv == PRIV_S and (st & MS_SIE) != 0)
    vs_on = virt and (priv < PRIV_S or (c[VSSTATUS] & MS_SIE) != 0)
    deleg = c[MIDELEG] | MIP_VS_BITS
    hdeleg = c[HIDELEG] & MIP_VS_BITS
    ready = 0
    if m_on:
        ready |= pend & ~deleg
    if hs_on:
        ready |= pend & deleg & ~hdeleg
    if vs_on:
        ready |= pend & hdeleg
    if ready == 0:
        return -1
    for irq in _ORDER:
        if (ready >> irq) & 1:
            return irq
    return -1


@jit
def mret(c):
    """Return from an M-mode trap: back to MPP (and into the guest if MPV says it was one),
    MIE restored from MPIE."""
    st = c[MSTATUS]
    new = (st & MS_MPP) >> MS_MPP_SHIFT
    virt = 1 if new != PRIV_M and (st & MS_MPV) else 0
    st = st & ~(MS_MIE | MS_MPP | MS_MPV)
    if st & MS_MPIE:
        st |= MS_MIE
    st |= MS_MPIE                      # MPIE=1, MPP=U (least privileged mode)
    if new != PRIV_M:
        st &= ~MS_MPRV
    c[MSTATUS] = st
    c[PRIV] = new
    c[VIRT] = virt
    c[PC] = c[MEPC]


@jit
def sret(c):
    """Return from an S-mode trap: back to SPP, SIE restored from SPIE.  In HS-mode V becomes
    hstatus.SPV (so this is how a hypervisor enters its guest); in VS-mode the guest returns
    from its own trap, all in vsstatus and vsepc."""
    if c[VIRT] != 0:
        c[VSSTATUS], new = _sret_status(c[VSSTATUS])
        c[MSTATUS] &= ~MS_MPRV
        c[PRIV] = new
        c[PC] = c[VSEPC]
        return
    c[MSTATUS], new = _sret_status(c[MSTATUS])
    c[MSTATUS] &= ~MS_MPRV
    c[VIRT] = 1 if c[HSTATUS] & HS_SPV else 0
    c[HSTATUS] &= ~HS_SPV
    c[PRIV] = new
    c[PC] = c[SEPC]


@jit(inline="always")
def _sret_status(st):
    """An sstatus-shaped value after sret, and the privilege to return to (SPP)."""
    new = PRIV_S if st & MS_SPP else PRIV_U
    st = st & ~(MS_SIE | MS_SPP)
    if st & MS_SPIE:
        st |= MS_SIE
    return st | MS_SPIE, new
