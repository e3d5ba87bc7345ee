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
    MS_SIE, MS_MIE, MS_SPIE, MS_MPIE, MS_SPP,
)



# misa: MXL=2 (RV64) and the extensions A, C, D, F, I, M, S, U (RV64IMAFDC, S and U modes).
MISA_VALUE = i64((2 << 62) | sum(1 << (ord(e) - ord("A")) for e in "ACDFIMSU"))
#: misa's M bit: a board built without the M extension clears it at reset (hart.py then
#: makes mul/div/rem illegal, so that a trap handler can emulate them, as lab 01 asks)
MISA_M = 1 << (ord("M") - ord("A"))

MSTATUS_WRITABLE = (MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_MPRV | MS_SUM
                    | MS_MXR | MS_TVM | MS_TW | MS_TSR | FS_MASK)
SSTATUS_VIEW = i64(MS_SIE | MS_SPIE | MS_SPP | MS_SUM | MS_MXR | (3 << 32) | (1 << 63) | (3 << 13))
SSTATUS_WRITABLE = MS_SIE | MS_SPIE | MS_SPP | MS_SUM | MS_MXR | FS_MASK
MEDELEG_WRITABLE = 0xB3FF          # causes 0-9, 12, 13, 15 (not ecall from M, not reserved)
INT_S_BITS = 0x222                 # SSIP, STIP, SEIP
MIE_WRITABLE = 0xAAA               # SSIE MSIE STIE MTIE SEIE MEIE
STCE = i64(1 << 63)                    # menvcfg: Sstc's stimecmp enabled
MENVCFG_WRITABLE = STCE | 1        # STCE, FIOM
PMPADDR_MASK = (1 << 54) - 1
PMPCFG_MASK = i64(0x9F9F9F9F9F9F9F9F)   # R W X A L in each byte; bits 5-6 are reserved zero


def _implemented() -> np.ndarray:
    """A table of the CSR numbers this hart implements (all others trap as illegal)."""
    t = np.zeros(4096, dtype=np.uint8)
    for n in (FFLAGS, FRM, FCSR, CYCLE, TIME, INSTRET, SSTATUS, SIE, STVEC, SCOUNTEREN, SENVCFG, SSCRATCH, SEPC,
              SCAUSE, STVAL, SIP, STIMECMP, SATP, MVENDORID, MARCHID, MIMPID, MHARTID,
              MCONFIGPTR, MSTATUS, MISA, MEDELEG, MIDELEG, MIE, MTVEC, MCOUNTEREN, MENVCFG,
              MSCRATCH, MEPC, MCAUSE, MTVAL, MIP, MCYCLE, MINSTRET, MCOUNTINHIBIT,
              TSELECT, TDATA1, TDATA2, TDATA3, TINFO):
        t[n] = 1
    for i in range(0, 16, 2):      # on RV64 only the even pmpcfg registers exist
        t[PMPCFG0 + i] = 1
    for i in range(64):
        t[PMPADDR0 + i] = 1
    return t


IMPLEMENTED = _implemented()


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


@jit
def csr_allowed(c, num, write):
    """May the hart, at its current privilege, access CSR ``num``?  (False: illegal insn.)"""
    if IMPLEMENTED[num] == 0:
        return False
    priv = c[PRIV]
    if priv < ((num >> 8) & 3):
        return False
    if write and (num >> 10) == 3:
        return False                              # read-only CSR
    if num == SATP and priv == PRIV_S and (c[MSTATUS] & MS_TVM):
        return False
    if num >= CYCLE and num <= INSTRET:           # Zicntr, gated by the counter-enables
        bit = 1 << (num - CYCLE)
        if priv < PRIV_M and not (c[MCOUNTEREN] & bit):
            return False
        if priv == PRIV_U and not (c[SCOUNTEREN] & bit):
            return False
    if is_fp_csr(num) and not fp_enabled(c):
        return False                              # FS = Off
    if num == STIMECMP and priv == PRIV_S:
        if not (c[MENVCFG] & STCE) or not (c[MCOUNTEREN] & 2):
            return False
    return True


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
    if is_fp_csr(num):
        return fp_csr_read(c, num)
    if num == SIE:
        return c[MIE] & c[MIDELEG]
    if num == MIP:
        return c[MIP] | c[HWIP]
    if num == SIP:
        return (c[MIP] | c[HWIP]) & c[MIDELEG]
    if num == TIME:
        return mtime_now(dev, ctl)
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
def _legal_mstatus(old, v):
    """mstatus keeps its writable bits; MPP=2 (reserved) keeps the previous MPP."""
    new = with_sd((old & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE) | MS_UXL_SXL)
    if (new & MS_MPP) == (2 << 11):
        new = (new & ~MS_MPP) | (old & MS_MPP)
    return new


@jit
def csr_write(c, num, v):
    """Write ``v`` to CSR ``num`` following its WARL rules."""
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
        w = INT_S_BITS
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
    elif num == MTVEC or num == STVEC:
        if (v & 3) >= 2:            # reserved mode: keep the old mode
            v = (v & ~3) | (c[num] & 3)
        c[num] = v
    elif num == MEPC or num == SEPC:
        c[num] = v & ~1
    elif num == SATP:
        mode = srl(v, SATP_MODE_SHIFT)
        if mode == SATP_MODE_BARE or mode == SATP_MODE_SV39:  # others leave satp unchanged
            c[SATP] = v
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
    elif num == MISA or (num >= TSELECT and num <= TINFO):
        pass                        # WARL: extensions cannot be switched off; no triggers
    else:                           # mscratch, sscratch, m/scause, m/stval, mcycle, ...
        c[num] = v


def reset_csrs(c: np.ndarray) -> None:
    """Reset values: M-mode, interrupts off, timers far in the future."""
    c[MSTATUS] = MS_UXL_SXL
    c[MISA] = MISA_VALUE
    c[STIMECMP] = -1
    c[PRIV] = PRIV_M
