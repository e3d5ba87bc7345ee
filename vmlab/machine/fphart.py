"""F and D in the hart: the one call the hot loop makes for any floating-point instruction.

:func:`exec_float` takes every word with a floating-point opcode -- LOAD-FP, STORE-FP, OP-FP
and the four fused multiply-adds -- and leaves an exception, if any, in ``ctl[C_FAULT]`` as
the other out-of-line instructions do (see atomics.py).  Keeping all of it out of the loop's
body costs the integer instructions nothing; an F/D instruction pays one function call.

- With mstatus.FS = Off every one of them is an illegal instruction (so an operating system
  can switch FP off and save FP registers only for tasks that use them).
- Anything that may change FP state -- an f register or the accrued flags -- sets FS to Dirty.
- FP loads and stores go through the same translation, access checks and misaligned handling
  as the integer ones (bus.load_slow/store_slow).  flw NaN-boxes the loaded single; fsw stores
  the low 32 bits whatever the upper ones hold.  The virtio window, which Python completes
  into an *integer* register, answers FP accesses with an access fault.
"""
from __future__ import annotations

from vmlab.machine.bits import sext
from vmlab.machine.bus import fault, load_slow, store_slow
from vmlab.machine.fpexec import OK, exec_fp
from vmlab.machine.fpformat import BOX
from vmlab.machine.fpstate import fp_enabled, mark_dirty
from vmlab.machine.fpwide import add64
from vmlab.machine.jit import jit
from vmlab.machine.layout import (ACC_LOAD, C_EXIT, C_FAULT, CAUSE_ILLEGAL, CAUSE_LOAD_ACCESS,
                                  CAUSE_STORE_ACCESS, EXIT_MMIO, EXIT_NONE, FCSR, FREG, SATP,
                                  XREG)

LOAD_FP, STORE_FP = 0x07, 0x27
FLW_FLD = (2, 3)  # funct3 of the word and doubleword forms


@jit(inline="always")
def is_float(op):
    """LOAD-FP, STORE-FP, OP-FP or one of fmadd/fmsub/fnmsub/fnmadd (0x43, 47, 4B, 4F)."""
    return op == LOAD_FP or op == STORE_FP or op == 0x53 or (op & 0x73) == 0x43


@jit
def no_virtio(ctl, va, cause):
    """A virtio register reached by an FP access: undo the exit, raise an access fault."""
    if ctl[C_EXIT] == EXIT_MMIO and ctl[C_FAULT] < 0:
        ctl[C_EXIT] = EXIT_NONE
        fault(ctl, cause, va)
        return True
    return False


@jit
def fp_load(c, tlb, mem, dev, io, ctl, h, w, vm, ctx):
    f3, rd = (w >> 12) & 7, (w >> 7) & 31
    va = add64(c[XREG + ((w >> 15) & 31)], sext(w >> 20, 12))
    v = load_slow(tlb, mem, dev, io, ctl, h, c[SATP], va, 4 if f3 == 2 else 8, ACC_LOAD, ctx, vm)
    if ctl[C_FAULT] >= 0 or no_virtio(ctl, va, CAUSE_LOAD_ACCESS):
        return
    c[FREG + rd] = (v & 0xFFFFFFFF) | BOX if f3 == 2 else v
    mark_dirty(c)


@jit
def fp_store(c, tlb, mem, dev, io, ctl, h, w, vm, ctx):
    f3 = (w >> 12) & 7
    va = add64(c[XREG + ((w >> 15) & 31)], sext(((w >> 25) << 5) | ((w >> 7) & 31), 12))
    v = c[FREG + ((w >> 20) & 31)]
    store_slow(tlb, mem, dev, io, ctl, h, c[SATP], va, 4 if f3 == 2 else 8, v, ctx, vm)
    no_virtio(ctl, va, CAUSE_STORE_ACCESS)


@jit
def exec_float(c, tlb, mem, dev, io, ctl, h, w, vm, ctx):
    """Execute the F/D instruction ``w`` on hart h (row c); faults go to ctl[C_FAULT]."""
    op, f3 = w & 0x7F, (w >> 12) & 7
    if not fp_enabled(c):
        fault(ctl, CAUSE_ILLEGAL, w)
    elif op == LOAD_FP or op == STORE_FP:
        if f3 != FLW_FLD[0] and f3 != FLW_FLD[1]:
            fault(ctl, CAUSE_ILLEGAL, w)  # (other widths are H, Q or vector: none here)
        elif op == LOAD_FP:
            fp_load(c, tlb, mem, dev, io, ctl, h, w, vm, ctx)
        else:
            fp_store(c, tlb, mem, dev, io, ctl, h, w, vm, ctx)
    elif exec_fp(c, w, FREG, XREG, FCSR) == OK:
        mark_dirty(c)
    else:
        fault(ctl, CAUSE_ILLEGAL, w)
