"""Emulating the privileged instructions a deprivileged guest traps on.

In real U-mode every csr*, sret, mret, wfi and sfence.vma is an illegal instruction, and
the trap value holds its bits.  Each handler below runs the instruction on the vCPU's
*virtual* hart -- a row with the machine's own layout -- through the machine's own compiled
code (``exec_csr``, ``exec_priv``: the same privilege checks, WARL masks and sstatus/sie/sip
views as the bare machine).  If the virtual mode may not do it either, the illegal
instruction is reflected into the guest, exactly as the hardware would have raised it there.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.exit_types import Exit, reflect
from vmlab.machine import layout as L
from vmlab.machine.system import MRET, SRET, WFI

NO_TLB = np.zeros((1, 3, L.TLB_SETS, 4), dtype=np.int64)   # exec_priv's sfence needs one


def kind(insn: int) -> str:
    """Which handler an illegal-instruction exit goes to."""
    if insn & 0x7F != 0x73:
        return "reflect"
    f3 = (insn >> 12) & 7
    if f3 in (1, 2, 3, 5, 6, 7):
        return "csr"
    if f3 == 0 and insn in (SRET, MRET, WFI):
        return {SRET: "sret", MRET: "mret", WFI: "wfi"}[insn]
    if f3 == 0 and insn >> 25 == 0x09 and (insn >> 7) & 0x1F == 0:
        return "sfence.vma"
    return "reflect"


#: CSRs whose value comes from the virtual devices (interrupt lines, the clock)
LINE_CSRS = frozenset((L.MIP, L.SIP, L.TIME))


def emulate_csr(vcpu, ex: Exit) -> str:
    """csrrw/csrrs/csrrc and the immediate forms on the virtual CSR file."""
    if ex.insn >> 20 in LINE_CSRS:
        vcpu.update_lines()             # sip/mip/time must see the virtual device lines
    # the machine's exec_csr(row, dev, ctl, hart, insn) on the virtual hart and devices
    if not vcpu.exec_csr(ex.insn):
        return reflect(vcpu, ex, L.CAUSE_ILLEGAL, ex.insn)
    vcpu.w[L.XREG] = 0                  # (x0 stays zero whatever rd the instruction named)
    vcpu.set_pc(ex.pc + 4)
    return "csr"


def _priv_insn(vcpu, ex: Exit, name: str) -> str:
    """sret, mret, wfi: the machine's exec_priv on the virtual hart (it checks TSR, TW,
    the privilege needed, and changes mode, pc and the status stack)."""
    vcpu.update_lines()
    cause, tval = vcpu.exec_priv(ex.insn)
    if cause >= 0:
        return reflect(vcpu, ex, cause, tval)
    return name


def emulate_sret(vcpu, ex: Exit) -> str:
    return _priv_insn(vcpu, ex, "sret")


def emulate_mret(vcpu, ex: Exit) -> str:
    return _priv_insn(vcpu, ex, "mret")


def emulate_wfi(vcpu, ex: Exit) -> str:
    """Leaves the virtual hart WAITING when nothing is pending: vcpu.run() then idles it
    until a virtual interrupt is due instead of spinning the guest."""
    return _priv_insn(vcpu, ex, "wfi")


def emulate_sfence(vcpu, ex: Exit) -> str:
    """The guest changed its page tables: the shadow pager drops what it derived from them."""
    name = _priv_insn(vcpu, ex, "sfence.vma")
    if name == "sfence.vma":
        rs1, rs2 = (ex.insn >> 15) & 31, (ex.insn >> 20) & 31
        gva = int(vcpu.row[L.XREG + rs1]) if rs1 else None
        asid = int(vcpu.row[L.XREG + rs2]) & 0xFFFF if rs2 else None
        # (the pager flushes the real TLB of every leaf it drops, so nothing else is stale)
        vcpu.vm.shadow.sfence(vcpu, gva, asid)
    return name


SYSTEM_HANDLERS = {"csr": emulate_csr, "sret": emulate_sret, "mret": emulate_mret,
                   "wfi": emulate_wfi, "sfence.vma": emulate_sfence}


def dispatch(vcpu, ex: Exit) -> str:
    table = getattr(vcpu.vm, "system_handlers", None) or SYSTEM_HANDLERS  # vmlab.hv.hooks
    handler = table.get(kind(ex.insn))
    if handler is None:                 # a genuinely illegal instruction: the guest's problem
        return reflect(vcpu, ex, L.CAUSE_ILLEGAL, ex.tval)
    return handler(vcpu, ex)

