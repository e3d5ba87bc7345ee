"""SYSTEM instructions: CSR access, ecall/ebreak, mret/sret, wfi, sfence.vma.

These change privilege, interrupt enables or translation, so the hot loop stops before each
one and the run loop calls :func:`exec_system` with all state written back; afterwards the
hot loop starts afresh and picks up the new mode, TLB context and pending interrupts.
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.isa.paging import HGATP_VMID_MASK, HGATP_VMID_SHIFT
from vmlab.machine.bits import srl
from vmlab.machine.csr import (VS_REDIRECT, csr_access, has_h, csr_read, csr_write, csr_written,
                               sensitive_read_leaks)
from vmlab.machine.layout import (
    C_INSTRET, MCOUNTINHIBIT, CAUSE_BREAKPOINT, CAUSE_ECALL_U, CAUSE_ILLEGAL, HWIP, MCYCLE, MIE, MINSTRET,
    MIP, MS_TSR, MS_TVM, MS_TW, MSTATUS, PC, PRIV, PRIV_M, PRIV_S, PRIV_U, WAITING, XREG,
    CAUSE_ECALL_VS, CAUSE_VIRTUAL, HGATP, HS_VTSR, HS_VTVM, HS_VTW, HSTATUS, VIRT,
)
from vmlab.machine.mmu import CTX_SPACE, CTX_VIRT, CTX_VMID_SHIFT, sfence_vma, tlb_flush
from vmlab.machine.trap import mret, sret, take_trap

ECALL, EBREAK, SRET, MRET, WFI = 0x00000073, 0x00100073, 0x10200073, 0x30200073, 0x10500073


@jit
def exec_csr(c, dev, ctl, h, w):
    """csrrw/csrrs/csrrc and their immediate forms; False means they trap (an illegal
    instruction; a virtual one in a guest: see csr_instruction)."""
    return csr_instruction(c, dev, ctl, h, w) == 0


@jit
def csr_instruction(c, dev, ctl, h, w):
    """exec_csr returning 0, or the exception the instruction raises.  In a guest (V=1) an
    S CSR with a VS copy means the copy (csr.VS_REDIRECT)."""
    f3, rd, rs1, num = (w >> 12) & 7, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 0xFFF
    src = c[XREG + rs1] if f3 < 4 else rs1
    kind = f3 & 3                        # 1 write, 2 set bits, 3 clear bits
    writes = kind == 1 or rs1 != 0
    cause = csr_access(c, num, writes)
    if cause != 0 and not sensitive_read_leaks(c, ctl, num, writes):
        return cause
    if c[VIRT] != 0:
        num = VS_REDIRECT[num]
    old = 0
    if kind != 1 or rd != 0:             # csrrw with rd=x0 does not read
        old = csr_read(c, dev, ctl, h, num)
    if writes:
        new = src if kind == 1 else (old | src if kind == 2 else old & ~src)
        csr_write(c, num, new)
    if rd != 0:
        c[XREG + rd] = old
    return 0


@jit
def exec_priv(c, tlb, h, w):
    """ecall, ebreak, mret, sret, wfi, sfence.vma and the HFENCEs: return (cause or -1, tval)."""
    priv, st, virt = c[PRIV], c[MSTATUS], c[VIRT] != 0
    pc = c[PC]
    if w == ECALL:
        return (CAUSE_ECALL_VS if virt and priv == PRIV_S else CAUSE_ECALL_U + priv), 0
    if w == EBREAK:
        return CAUSE_BREAKPOINT, pc
    if w == MRET:
        if priv != PRIV_M:               # (HS-mode cannot either: never a virtual one)
            return CAUSE_ILLEGAL, w
        mret(c)
        return -1, 0
    cause = priv_check(c, w)
    if cause >= 0:
        return cause, w
    if w == SRET:
        sret(c)
        return -1, 0
    if w == WFI:
        if ((c[MIP] | c[HWIP]) & c[MIE]) == 0:
            c[WAITING] = 1              # the run loop wakes us when an interrupt is pending
    elif (w >> 25) == 0x09:
        fence(c, tlb, h, w, virt)
    else:
        hfence(c, tlb, h, w)
    c[PC] = pc + 4
    return -1, 0


@jit
def priv_check(c, w):
    """-1 if sret, wfi, sfence.vma or an HFENCE may run here, else its exception: illegal
    where the mode can never run it (or mstatus's TSR/TW/TVM trap it to M), virtual where a
    guest tried one its hypervisor must see (VU-mode, or hstatus's VTSR/VTW/VTVM)."""
    priv, st, virt = c[PRIV], c[MSTATUS], c[VIRT] != 0
    hs = c[HSTATUS]
    is_fence, is_h = (w >> 25) == 0x09 and ((w >> 7) & 0x1F) == 0, is_hfence(w)
    if not (w == SRET or w == WFI or is_fence or (is_h and has_h(c))):
        return CAUSE_ILLEGAL
    if w == WFI and priv != PRIV_M and (st & MS_TW):
        return CAUSE_ILLEGAL
    if not virt:
        if priv == PRIV_U:
            return CAUSE_ILLEGAL
        if priv == PRIV_S and ((w == SRET and (st & MS_TSR)) or (is_fence and (st & MS_TVM))
                               or ((w >> 25) == 0x31 and (st & MS_TVM))):
            return CAUSE_ILLEGAL
        return -1
    if priv == PRIV_U or is_h:
        return CAUSE_VIRTUAL
    if (w == SRET and (hs & HS_VTSR)) or (w == WFI and (hs & HS_VTW)) or \
            (is_fence and (hs & HS_VTVM)):
        return CAUSE_VIRTUAL
    return -1


@jit(inline="always")
def is_hfence(w):
    """HFENCE.VVMA (funct7 0x11) or HFENCE.GVMA (0x31): SYSTEM, funct3 0, rd 0."""
    return ((w >> 25) == 0x11 or (w >> 25) == 0x31) and ((w >> 7) & 0x1F) == 0 \
        and ((w >> 12) & 7) == 0


@jit
def fence(c, tlb, h, w, virt):
    """sfence.vma: the host's own translations, or in a guest (V=1) the guest's -- those of
    its VMID, as HFENCE.VVMA would."""
    rs1, rs2 = (w >> 15) & 31, (w >> 20) & 31
    va, asid = c[XREG + rs1], c[XREG + rs2] & 0xFFFF
    if virt:
        tlb_flush(tlb, h, va, asid, rs1 == 0, rs2 == 0, current_space(c), CTX_SPACE)
    else:
        sfence_vma(tlb, h, va, asid, rs1 == 0, rs2 == 0)


@jit
def current_space(c):
    """The TLB context bits of the guest hgatp names: V=1 and its VMID."""
    return CTX_VIRT | ((srl(c[HGATP], HGATP_VMID_SHIFT) & HGATP_VMID_MASK) << CTX_VMID_SHIFT)


@jit
def hfence(c, tlb, h, w):
    """HFENCE.VVMA: the guest's (current VMID) VS-stage translations, by guest virtual
    address and ASID.  HFENCE.GVMA: by VMID (rs2) -- the TLB keeps only whole two-stage
    translations, so a guest-physical address (rs1) drops all of that VMID's entries."""
    rs1, rs2 = (w >> 15) & 31, (w >> 20) & 31
    if (w >> 25) == 0x11:
        tlb_flush(tlb, h, c[XREG + rs1], c[XREG + rs2] & 0xFFFF, rs1 == 0, rs2 == 0,
                  current_space(c), CTX_SPACE)
    elif rs2 == 0:
        tlb_flush(tlb, h, 0, 0, True, True, CTX_VIRT, CTX_VIRT)
    else:
        vmid = c[XREG + rs2] & HGATP_VMID_MASK
        tlb_flush(tlb, h, 0, 0, True, True, CTX_VIRT | (vmid << CTX_VMID_SHIFT), CTX_SPACE)


@jit
def exec_system(cpu, tlb, dev, ctl, h, word):
    """Execute the SYSTEM instruction the hot loop stopped at (word | length << 32).
    (HLV/HLVX/HSV, funct3 4, are loads and stores: the hot loop does them, hart.other.)"""
    c = cpu[h]
    w, length = word & 0xFFFFFFFF, word >> 32
    if (w >> 12) & 7 == 0:
        cause, tval = exec_priv(c, tlb, h, w)
    elif (w >> 12) & 7 == 4:
        cause, tval = CAUSE_ILLEGAL, w
    else:
        cause = csr_instruction(c, dev, ctl, h, w)
        tval = w
        if cause == 0:
            c[PC] += length
            cause = -1
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
