"""Privileged instructions in compiled code: csr*, sret, mret, wfi and sfence.vma.

The guest runs in real U-mode, so each of these traps as an illegal instruction.  The Python
twin is vmlab.hv.csr_emul; both run the instruction on the *virtual* hart's row with the
machine's own compiled ``exec_csr`` / ``exec_priv`` -- the same WARL masks, the same trap
rules -- so the two paths cannot disagree about what an instruction does.  An instruction
that would trap in the guest (an illegal CSR, sret from vU, ...) is left to Python, which
reflects it.
"""
from __future__ import annotations

from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_shadow import sfence
from vmlab.hv.fast_state import H_CSR, H_MRET, H_SFENCE, H_SRET, H_WFI, S_ID
from vmlab.hv.fast_vhart import retire, update_lines
from vmlab.machine import layout as L
from vmlab.machine.system import MRET, SRET, WFI, exec_csr, exec_priv

OP_SYSTEM = 0x73
FUNCT7_SFENCE_VMA = 0x09


@jit
def system_kind(insn):
    """csr_emul.kind as a handler number; -1 for what only Python handles."""
    if insn & 0x7F != OP_SYSTEM:
        return -1
    f3 = (insn >> 12) & 7
    if f3 != 0 and f3 != 4:
        return H_CSR
    if insn == SRET:
        return H_SRET
    if insn == MRET:
        return H_MRET
    if insn == WFI:
        return H_WFI
    if insn >> 25 == FUNCT7_SFENCE_VMA and (insn >> 7) & 0x1F == 0:
        return H_SFENCE
    return -1


@jit(inline="always")
def emulate_csr(rows, vdev, vctl, st, insn, pc, now):
    """csr_emul.emulate_csr: True when done (the pc advanced), False to leave it to Python."""
    h = st[S_ID]
    row = rows[h]
    num = insn >> 20
    if num == L.MIP or num == L.SIP or num == L.TIME:
        update_lines(rows, vdev, vctl, st, now)      # device-driven bits come from devices
    if not exec_csr(row, vdev, vctl, h, insn):
        return False
    row[L.XREG] = 0
    row[L.PC] = pc + 4
    return True


@jit(inline="always")
def emulate_system(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, pc, now):
    """A csr*/sret/mret/wfi/sfence.vma on the virtual hart; the handler number, or -1
    (untouched).  ``notlb``: a TLB array of its own for exec_priv's sfence (as csr_emul's)."""
    kind = system_kind(insn)
    if kind < 0:
        return -1
    if kind == H_SFENCE:
        return sfence(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, now)
    row = rows[st[S_ID]]
    if kind == H_CSR:
        if not emulate_csr(rows, vdev, vctl, st, insn, pc, now):
            return -1
    else:
        update_lines(rows, vdev, vctl, st, now)      # wfi asks: is an interrupt pending?
        cause, _ = exec_priv(row, notlb, 0, insn)
        if cause >= 0:
            return -1
    retire(row, insn)
    return kind
