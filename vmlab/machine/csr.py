"""Control and status registers: which exist, who may touch them, and their WARL rules.

Each CSR is stored at ``cpu[h, number]``.  A few are *views* computed on access:
``sstatus`` (a mask of mstatus), ``sie``/``sip`` (mie/mip masked by mideleg), ``mip`` (software
bits or'ed with the device-driven bits in ``HWIP``), ``time``/``cycle``/``instret``.

WARL ("write any, read legal") rules live in :func:`csr_write`: a write keeps only the
bits our hart implements, and a reserved value (mtvec mode 2, MPP=2, an unknown satp mode) is
replaced by the previous legal one.
"""
from __future__ import annotations

import numpy as np

from vmlab.isa.paging import SATP_MODE_BARE, SATP_MODE_SHIFT, SATP_MODE_SV39
from vmlab.machine.bits import i64, srl
from vmlab.machine.fpstate import FS_MASK, fp_csr_read, fp_csr_write, fp_enabled, is_fp_csr, with_sd
from vmlab.machine.jit import jit
from vmlab.machine.layout import (
    FCSR, FFLAGS, FRM,
    CYCLE, D_TICKS, HWIP, INSTRET, MARCHID, MCAUSE, MCONFIGPTR, MCOUNTEREN, MCYCLE, MEDELEG,
    MENVCFG, MEPC, MHARTID, MIDELEG, MIE, MIMPID, MINSTRET, MIP, MISA, MS_MPP, MS_MPRV,
    MS_MXR, MS_SUM, MS_TSR, MS_TVM, MS_TW, MS_UXL_SXL, MSCRATCH, MSTATUS, MTVAL, MTVEC,
    MVENDORID, MCOUNTINHIBIT, PMPADDR0, TSELECT, TDATA1, TDATA2, TDATA3, TINFO, PMPCFG0, PRIV, PRIV_M, PRIV_S, PRIV_U, SATP, SCAUSE, SCOUNTEREN,
    SENVCFG, SEPC, SIE, SIP, SSCRATCH, SSTATUS, STIMECMP, STVAL, STVEC, TIME, C_SLICE_POS,
    C_QUIRKS, Q_SENSITIVE_READ,
    MS_SIE, MS_MIE, MS_SPIE, MS_MPIE, MS_SPP, MS_GVA, MS_MPV,
    CAUSE_ILLEGAL, CAUSE_VIRTUAL, VIRT,
    HSTATUS, HEDELEG, HIDELEG, HIE, HTIMEDELTA, HCOUNTEREN, HGEIE, HTVAL, HIP, HVIP, HTINST,
    HGATP, HENVCFG, HGEIP, VSSTATUS, VSIE, VSTVEC, VSSCRATCH, VSEPC, VSCAUSE, VSTVAL, VSIP,
    VSATP, MTVAL2, MTINST, VSTIMECMP, HS_GVA, HS_SPV, HS_SPVP, HS_HU, HS_VTVM, HS_VTW, HS_VTSR, HS_VSXL,
    MIP_VS_BITS, MIP_VSSIP,
)
from vmlab.isa.paging import HGATP_MODE_BARE, HGATP_MODE_SHIFT, HGATP_MODE_SV39X4



# misa: MXL=2 (RV64) and the extensions A, C, D, F, H, I, M, S, U (RV64IMAFDCH, S and U
# modes, and the hypervisor extension's VS and VU).
MISA_H = 1 << (ord("H") - ord("A"))
MISA_VALUE = i64((2 << 62) | sum(1 << (ord(e) - ord("A")) for e in "ACDFHIMSU"))
#: misa's M bit: a board built without the M extension clears it at reset (hart.py then
#: makes mul/div/rem illegal, so that a trap handler can emulate them, as lab 01 asks)
MISA_M = 1 << (ord("M") - ord("A"))

MSTATUS_WRITABLE = (MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_MPRV | MS_SUM
                    | MS_MXR | MS_TVM | MS_TW | MS_TSR | FS_MASK | MS_GVA | MS_MPV)
SSTATUS_VIEW = i64(MS_SIE | MS_SPIE | MS_SPP | MS_SUM | MS_MXR | (3 << 32) | (1 << 63) | (3 << 13))
SSTATUS_WRITABLE = MS_SIE | MS_SPIE | MS_SPP | MS_SUM | MS_MXR | FS_MASK
H_CAUSES = (1 << 10) | (0xF << 20)  # ecall from VS, guest-page faults, virtual instruction
# causes 0-9, 12, 13, 15 and, with H, 10 and 20-23 (not ecall from M, not reserved)
MEDELEG_WRITABLE = 0xB3FF | H_CAUSES
INT_S_BITS = 0x222                 # SSIP, STIP, SEIP
MIE_WRITABLE = 0xAAA | MIP_VS_BITS  # SSIE MSIE STIE MTIE SEIE MEIE, VSSIE VSTIE VSEIE
# hedeleg: what HS-mode may hand on to its guest -- not the ecalls from HS, VS or M, nor the
# guest-page faults and virtual instructions, which are the hypervisor's own business
HEDELEG_WRITABLE = 0xB1FF
HSTATUS_WRITABLE = HS_GVA | HS_SPV | HS_SPVP | HS_HU | HS_VTVM | HS_VTW | HS_VTSR
HGATP_VMID_PPN = i64((((1 << 14) - 1) << 44) | ((1 << 44) - 4))   # PPN bits 1:0 read as zero
# When V=1 a guest's S CSRs are its VS CSRs: csrr sstatus in VS-mode reads vsstatus, and so on
# (the hart keeps HS-mode's own S CSRs untouched meanwhile: nothing to swap on entry or exit).
_VS_OF = ((SSTATUS, VSSTATUS), (SIE, VSIE), (STVEC, VSTVEC), (SSCRATCH, VSSCRATCH),
          (SEPC, VSEPC), (SCAUSE, VSCAUSE), (STVAL, VSTVAL), (SIP, VSIP), (SATP, VSATP),
          (STIMECMP, VSTIMECMP))
STCE = i64(1 << 63)                    # menvcfg: Sstc's stimecmp enabled
MENVCFG_WRITABLE = STCE | 1        # STCE, FIOM
PMPADDR_MASK = (1 << 54) - 1
PMPCFG_MASK = i64(0x9F9F9F9F9F9F9F9F)   # R W X A L in each byte; bits 5-6 are reserved zero


#: the CSRs of the hypervisor extension (a hart with misa.H clear has none of them)
H_CSRS = (HSTATUS, HEDELEG, HIDELEG, HIE, HTIMEDELTA, HCOUNTEREN, HGEIE, HTVAL, HIP, HVIP,
          HTINST, HGATP, HENVCFG, HGEIP, VSSTATUS, VSIE, VSTVEC, VSSCRATCH, VSEPC, VSCAUSE,
          VSTVAL, VSIP, VSATP, MTVAL2, MTINST, VSTIMECMP)


def _implemented() -> np.ndarray:
    """A table of the CSR numbers this hart implements (all others trap as illegal)."""
    t = np.zeros(4096, dtype=np.uint8)
    for n in (FFLAGS, FRM, FCSR, CYCLE, TIME, INSTRET, SSTATUS, SIE, STVEC, SCOUNTEREN, SENVCFG, SSCRATCH, SEPC,
              SCAUSE, STVAL, SIP, STIMECMP, SATP, MVENDORID, MARCHID, MIMPID, MHARTID,
              MCONFIGPTR, MSTATUS, MISA, MEDELEG, MIDELEG, MIE, MTVEC, MCOUNTEREN, MENVCFG,
              MSCRATCH, MEPC, MCAUSE, MTVAL, MIP, MCYCLE, MINSTRET, MCOUNTINHIBIT,
              TSELECT, TDATA1, TDATA2, TDATA3, TINFO, *H_CSRS):
        t[n] = 1
    for i in range(0, 16, 2):      # on RV64 only the even pmpcfg registers exist
        t[PMPCFG0 + i] = 1
    for i in range(64):
        t[PMPADDR0 + i] = 1
    return t


IMPLEMENTED = _implemented()


def _h_only() -> np.ndarray:
    """The CSRs that exist only with the hypervisor extension (misa.H): a hart whose misa has
    H clear -- a vCPU of the shadow hypervisor, which cannot run a guest of its own in VS-mode
    -- traps them as illegal, as a hart built without H would."""
    t = np.zeros(4096, dtype=np.uint8)
    t[list(H_CSRS)] = 1
    return t


H_ONLY = _h_only()


def _vs_redirect() -> np.ndarray:
    """CSR number -> the number it means when V=1 (itself for all but the S CSRs with a VS copy)."""
    t = np.arange(4096, dtype=np.int64)
    for s_num, vs_num in _VS_OF:
        t[s_num] = vs_num
    return t


VS_REDIRECT = _vs_redirect()


@jit
def csr_written(w):
    """The CSR number a Zicsr instruction ``w`` writes, or -1 if it writes none.

    csrrw/csrrwi always write; csrrs/csrrc and their immediate forms only when rs1/uimm is not
    zero (so ``csrr`` is a pure read).  Used where a write changes what happens next, such as
    a write to minstret suppressing the writer's own increment -- by the hart and by the
    hypervisor when it emulates the instruction.
    """
    f3 = (w >> 12) & 7
    if (w & 0x7F) != 0x73 or f3 == 0 or f3 == 4:
        return -1
    if (f3 & 3) == 1 or ((w >> 15) & 31) != 0:
        return (w >> 20) & 0xFFF
    return -1


@jit(inline="always")
def has_h(c):
    """Does this hart (its misa) have the hypervisor extension?"""
    return (c[MISA] & MISA_H) != 0


@jit
def csr_allowed(c, num, write):
    """May the hart, at its current privilege, access CSR ``num``?  (False: it traps.)"""
    return csr_access(c, num, write) == 0


@jit
def csr_access(c, num, write):
    """0 if the hart may access CSR ``num`` now, else the exception the access raises: an
    illegal instruction, or (a guest's access the hypervisor should see) a virtual one."""
    if IMPLEMENTED[num] == 0 or (H_ONLY[num] != 0 and not has_h(c)):
        return CAUSE_ILLEGAL
    priv, level = c[PRIV], (num >> 8) & 3
    if write and (num >> 10) == 3:
        return CAUSE_ILLEGAL                      # read-only CSR
    if c[VIRT] != 0:
        return _guest_access(c, num, priv, level)
    if priv < (PRIV_S if level == 2 else level):   # hypervisor CSRs: HS-mode and M-mode
        return CAUSE_ILLEGAL
    if num == SATP and priv == PRIV_S and (c[MSTATUS] & MS_TVM):
        return CAUSE_ILLEGAL
    return _common_access(c, num, priv)


@jit
def _guest_access(c, num, priv, level):
    """V=1: M CSRs are illegal; hypervisor and VS CSRs, and S CSRs from VU-mode, are virtual
    instructions (HS-mode could have done the access, so the hypervisor may emulate it)."""
    if level == 3:
        return CAUSE_ILLEGAL
    if level == 2 or (level == 1 and priv == PRIV_U):
        return CAUSE_VIRTUAL
    if num == SATP and (c[HSTATUS] & HS_VTVM):
        return CAUSE_VIRTUAL
    return _common_access(c, num, priv)


@jit
def _common_access(c, num, priv):
    """The checks HS- and VS-level accesses share: counter enables, FP on, Sstc."""
    if num >= CYCLE and num <= INSTRET:           # Zicntr, gated by the counter-enables
        bit = 1 << (num - CYCLE)
        if priv < PRIV_M and not (c[MCOUNTEREN] & bit):
            return CAUSE_ILLEGAL
        if c[VIRT] != 0 and not (c[HCOUNTEREN] & bit):
            return CAUSE_VIRTUAL                  # allowed by M, not by the hypervisor
        if priv == PRIV_U and not (c[SCOUNTEREN] & bit):
            return CAUSE_VIRTUAL if c[VIRT] != 0 else CAUSE_ILLEGAL
    if is_fp_csr(num) and not fp_enabled(c):
        return CAUSE_ILLEGAL                      # FS = Off
    if (num == STIMECMP or num == VSTIMECMP) and priv == PRIV_S:
        if not (c[MENVCFG] & STCE) or not (c[MCOUNTEREN] & 2):
            return CAUSE_ILLEGAL                  # Sstc off for S-mode, or time not allowed
        if c[VIRT] != 0 and (not (c[HENVCFG] & STCE) or not (c[HCOUNTEREN] & 2)):
            return CAUSE_VIRTUAL                  # not for this guest: the hypervisor emulates
    return 0


@jit
def sensitive_read_leaks(c, ctl, num, write):
    """The Popek-Goldberg quirk (off unless ``ctl[C_QUIRKS]`` has Q_SENSITIVE_READ): a
    U-mode *read* of sstatus does not trap but returns the real value, as x86's PUSHF and
    SMSW read privileged state at user level.  The instruction is then sensitive (its
    result depends on the real mode) without being privileged (it does not trap), so a
    trap-and-emulate hypervisor never sees it: the ISA stops being classically
    virtualizable.  Only asked after csr_allowed said no, so the default costs nothing."""
    return ((ctl[C_QUIRKS] & Q_SENSITIVE_READ) != 0 and num == SSTATUS and not write
            and c[PRIV] == PRIV_U)


@jit
def mtime_now(dev, ctl):
    """mtime ticks at 10 MHz: one tick per 100 ns of simulated time (one ns per instruction)."""
    return (dev[D_TICKS] + ctl[C_SLICE_POS]) // 100


@jit
def csr_read(c, dev, ctl, h, num):
    """The value a csrr of ``num`` returns (access already checked by csr_allowed)."""
    if num == SSTATUS:
        return c[MSTATUS] & SSTATUS_VIEW
    if num == VSSTATUS:
        return c[VSSTATUS] & SSTATUS_VIEW
    if is_fp_csr(num):
        return fp_csr_read(c, num)
    if num == SIE:
        return c[MIE] & c[MIDELEG]
    if num == MIP:
        return c[MIP] | c[HWIP]
    if num == SIP:
        return (c[MIP] | c[HWIP]) & c[MIDELEG]
    if num == TIME:
        return mtime_now(dev, ctl) + (c[HTIMEDELTA] if c[VIRT] != 0 else 0)
    if ((num >> 8) & 3 == 2 or num == MIDELEG) and has_h(c):
        return _h_read(c, num)
    if num == CYCLE:
        return c[MCYCLE]
    if num == INSTRET:
        return c[MINSTRET]
    if num == MHARTID:
        return h
    if num == TINFO:
        return 1                    # trigger type 0: "no trigger here"
    if num >= TSELECT and num <= TDATA3:
        return 0                    # the trigger module exists but has no triggers
    return c[num]


@jit
def _h_read(c, num):
    """The hypervisor extension's views: the VS interrupt bits live in mip/mie (hvip is mip's
    VS bits, hie mie's), and a guest sees those its hypervisor delegated as its own S bits."""
    pend = c[MIP] | c[HWIP]
    if num == MIDELEG:
        return c[MIDELEG] | MIP_VS_BITS           # VS interrupts always go to HS at least
    if num == HIE:
        return c[MIE] & MIP_VS_BITS
    if num == HIP:
        return pend & MIP_VS_BITS
    if num == HVIP:
        return c[MIP] & MIP_VS_BITS
    if num == VSIE:
        return (c[MIE] & c[HIDELEG] & MIP_VS_BITS) >> 1
    if num == VSIP:
        return (pend & c[HIDELEG] & MIP_VS_BITS) >> 1
    if num == HENVCFG:
        return c[HENVCFG] & (c[MENVCFG] | ~STCE)  # STCE reads 0 while menvcfg's is 0
    return c[num]


@jit
def _h_write(c, num, v):
    """WARL rules of the hypervisor extension's CSRs (see _h_read for the interrupt views)."""
    if num == HSTATUS:
        c[HSTATUS] = (v & HSTATUS_WRITABLE) | HS_VSXL
    elif num == HEDELEG:
        c[HEDELEG] = v & HEDELEG_WRITABLE
    elif num == HIDELEG:
        c[HIDELEG] = v & MIP_VS_BITS
    elif num == HIE or num == HVIP:               # the VS bits of mie, or of mip
        reg = MIE if num == HIE else MIP
        c[reg] = (c[reg] & ~MIP_VS_BITS) | (v & MIP_VS_BITS)
    elif num == HIP:                              # only VSSIP is writable through hip
        c[MIP] = (c[MIP] & ~MIP_VSSIP) | (v & MIP_VSSIP)
    elif num == VSIE or num == VSIP:              # a guest's sie/sip: delegated bits only
        reg = MIE if num == VSIE else MIP
        d = c[HIDELEG] & (MIP_VS_BITS if num == VSIE else MIP_VSSIP)
        c[reg] = (c[reg] & ~d) | ((v << 1) & d)
    elif num == VSSTATUS:
        c[VSSTATUS] = with_sd((c[VSSTATUS] & ~SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE))
    elif num == HGATP:
        mode = srl(v, HGATP_MODE_SHIFT)
        if mode == HGATP_MODE_BARE or mode == HGATP_MODE_SV39X4:  # others: no effect
            c[HGATP] = (v & HGATP_VMID_PPN) | (mode << HGATP_MODE_SHIFT)
    elif num == HCOUNTEREN:
        c[num] = v & 7
    elif num == HENVCFG:                          # FIOM; STCE only if menvcfg has it
        c[num] = v & (1 | (c[MENVCFG] & STCE))
    elif num == HGEIE or num == HTINST:
        c[num] = 0                                # no guest external interrupts (GEILEN 0);
                                                  # htinst holds only what traps write (WARL)
    else:                                         # htval, htimedelta, vsscratch, vscause ...
        c[num] = v


@jit
def _legal_mstatus(old, v):
    """mstatus keeps its writable bits; MPP=2 (reserved) keeps the previous MPP."""
    new = with_sd((old & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE) | MS_UXL_SXL)
    if (new & MS_MPP) == (2 << 11):
        new = (new & ~MS_MPP) | (old & MS_MPP)
    return new


@jit
def _without_h(num, v):
    """``v`` with the bits that only the hypervisor extension makes writable cleared."""
    if num == MSTATUS:
        return v & ~(MS_GVA | MS_MPV)
    if num == MIE or num == MIP:
        return v & ~MIP_VS_BITS
    if num == MEDELEG:
        return v & ~H_CAUSES
    return v


@jit
def csr_write(c, num, v):
    """Write ``v`` to CSR ``num`` following its WARL rules."""
    if not has_h(c):                # without H: no GVA/MPV, no VS interrupts, no causes 20-23
        v = _without_h(num, v)
    if num == MSTATUS:
        c[MSTATUS] = _legal_mstatus(c[MSTATUS], v)
    elif num == SSTATUS:
        c[MSTATUS] = with_sd((c[MSTATUS] & ~SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE))
    elif is_fp_csr(num):
        fp_csr_write(c, num, v)
    elif num == MIE:
        c[MIE] = v & MIE_WRITABLE
    elif num == SIE:
        d = c[MIDELEG] & INT_S_BITS
        c[MIE] = (c[MIE] & ~d) | (v & d)
    elif num == MIP:
        w = INT_S_BITS | MIP_VSSIP
        if c[MENVCFG] & STCE:
            w &= ~(1 << 5)          # with Sstc, STIP follows stimecmp and is read-only
        c[MIP] = (c[MIP] & ~w) | (v & w)
    elif num == SIP:
        d = c[MIDELEG] & 2          # only SSIP is writable through sip
        c[MIP] = (c[MIP] & ~d) | (v & d)
    elif num == MEDELEG:
        c[MEDELEG] = v & MEDELEG_WRITABLE
    elif num == MIDELEG:
        c[MIDELEG] = v & INT_S_BITS
    elif num == MTVEC or num == STVEC or num == VSTVEC:
        if (v & 3) >= 2:            # reserved mode: keep the old mode
            v = (v & ~3) | (c[num] & 3)
        c[num] = v
    elif num == MEPC or num == SEPC or num == VSEPC:
        c[num] = v & ~1
    elif num == SATP or num == VSATP:
        mode = srl(v, SATP_MODE_SHIFT)
        if mode == SATP_MODE_BARE or mode == SATP_MODE_SV39:  # others leave satp unchanged
            c[num] = v
    elif (num >> 8) & 3 == 2:       # the hypervisor extension's CSRs
        _h_write(c, num, v)
    elif num == MCOUNTEREN or num == SCOUNTEREN:
        c[num] = v & 7
    elif num == MCOUNTINHIBIT:
        c[num] = v & 5              # CY and IR (there is no TM bit, and no hpmcounters)
    elif num == MENVCFG:
        c[MENVCFG] = v & MENVCFG_WRITABLE
    elif num == SENVCFG:
        c[SENVCFG] = v & 1
    elif num >= PMPADDR0 and num < PMPADDR0 + 64:
        c[num] = v & PMPADDR_MASK
    elif num >= PMPCFG0 and num < PMPCFG0 + 16:
        c[num] = v & PMPCFG_MASK
    elif num == MTINST:
        c[num] = 0                  # (as htinst: only what traps write -- 0 from software)
    elif num == MISA or (num >= TSELECT and num <= TINFO):
        pass                        # WARL: extensions cannot be switched off; no triggers
    else:                           # mscratch, sscratch, m/scause, m/stval, mcycle, ...
        c[num] = v


def reset_csrs(c: np.ndarray) -> None:
    """Reset values: M-mode (V=0), interrupts off, timers far in the future."""
    c[MSTATUS] = MS_UXL_SXL
    c[VSSTATUS] = MS_UXL_SXL & (3 << 32)          # UXL: VU-mode is 64-bit
    c[HSTATUS] = HS_VSXL
    c[VIRT] = 0
    c[MISA] = MISA_VALUE
    c[STIMECMP] = -1
    c[VSTIMECMP] = -1
    c[PRIV] = PRIV_M
