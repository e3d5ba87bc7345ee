"""The A extension: LR/SC and the AMOs, done as one indivisible read-modify-write.

Harts take turns (see loop.py), so an AMO is atomic simply by running to the end before any
other hart moves.  An LR reservation is a physical address in ``cpu[h, RES_ADDR]``; it is
dropped by SC, by a trap, and when the hart's time slice ends on a multi-hart board (another
hart may then write the location) -- so an SC can fail spuriously, which the spec allows.
AMOs must be naturally aligned and in RAM.
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.bits import ltu, sext32
from vmlab.machine.bus import fault, ram_offset, read_ram, translate, write_ram
from vmlab.machine.layout import (
    ACC_LOAD, ACC_STORE, CAUSE_ILLEGAL, CAUSE_LOAD_ACCESS, CAUSE_MISALIGNED_LOAD,
    CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS, RES_ADDR, SATP, XREG,
)

LR, SC = 0x02, 0x03
AMOSWAP, AMOADD, AMOXOR, AMOAND, AMOOR = 0x01, 0x00, 0x04, 0x0C, 0x08
AMOMIN, AMOMAX, AMOMINU, AMOMAXU = 0x10, 0x14, 0x18, 0x1C


@jit
def amo_op(f5, old, src):
    """The new memory value of an AMO, or (False, 0) for an unknown funct5."""
    if f5 == AMOSWAP:
        return True, src
    if f5 == AMOADD:
        return True, old + src
    if f5 == AMOXOR:
        return True, old ^ src
    if f5 == AMOAND:
        return True, old & src
    if f5 == AMOOR:
        return True, old | src
    if f5 == AMOMIN:
        return True, old if old < src else src
    if f5 == AMOMAX:
        return True, old if old > src else src
    if f5 == AMOMINU:
        return True, old if ltu(old, src) else src
    if f5 == AMOMAXU:
        return True, src if ltu(old, src) else old
    return False, 0


@jit
def exec_amo(c, tlb, mem, ctl, h, w, vm, ctx):
    """Execute one LR/SC/AMO (funct3 2 = word, 3 = doubleword); faults go to ctl[C_FAULT]."""
    rd, f3, rs1, rs2, f5 = (w >> 7) & 31, (w >> 12) & 7, (w >> 15) & 31, (w >> 20) & 31, w >> 27
    r = c[XREG:XREG + 32]
    if f3 != 2 and f3 != 3 or (f5 == LR and rs2 != 0):
        fault(ctl, CAUSE_ILLEGAL, w)
        return
    ok, _ = amo_op(f5, 0, 0)
    if not ok and f5 != LR and f5 != SC:
        fault(ctl, CAUSE_ILLEGAL, w)
        return
    size = 4 if f3 == 2 else 8
    va = r[rs1]
    is_lr = f5 == LR
    if va & (size - 1):
        fault(ctl, CAUSE_MISALIGNED_LOAD if is_lr else CAUSE_MISALIGNED_STORE, va)
        return
    acc = ACC_LOAD if is_lr else ACC_STORE
    pa = translate(tlb, mem, ctl, h, c[SATP], va, acc, ctx, vm)
    if pa < 0:
        fault(ctl, -pa - 1, va)
        return
    off = ram_offset(ctl, pa, size)
    if off < 0:
        fault(ctl, CAUSE_LOAD_ACCESS if is_lr else CAUSE_STORE_ACCESS, va)
        return
    old = read_ram(mem, off, size)
    if size == 4:
        old = sext32(old)
    if is_lr:
        c[RES_ADDR] = pa
        result = old
    elif f5 == SC:
        result = 1
        if c[RES_ADDR] == pa:
            write_ram(mem, off, size, r[rs2])
            result = 0
        c[RES_ADDR] = -1
    else:
        src = sext32(r[rs2]) if size == 4 else r[rs2]
        _, new = amo_op(f5, old, src)
        write_ram(mem, off, size, new)
        result = old
    if rd != 0:
        r[rd] = result
