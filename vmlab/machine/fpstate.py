"""The floating-point state's bookkeeping: mstatus.FS and SD, and the fflags/frm/fcsr views.

mstatus.FS (bits 14:13) says whether the FP unit is Off (0: every F/D instruction and FP CSR
access is illegal), Initial (1), Clean (2) or Dirty (3).  Whatever changes FP state -- a
write to an f register or to fcsr -- makes it Dirty, so that an operating system knows which
tasks' FP registers it must save on a context switch.  SD (bit 63) is a read-only summary:
set exactly when FS (or VS/XS, which this hart does not have) is Dirty.

With the hypervisor extension a guest (V=1) has a second FS, in vsstatus, which its own kernel
manages as it would sstatus.FS on a bare hart, while the hypervisor's mstatus.FS still tracks
the hart's FP state as a whole: when V=1 both are in effect -- F/D is illegal if either is
Off -- and an FP change makes both Dirty (and SD in both), so that each level knows there is
FP state to save.  With V=0 vsstatus.FS plays no part.

fcsr lives in the cpu row's CSR slot 0x003: frm in bits 7:5, the accrued flags in 4:0.
fflags (0x001) and frm (0x002) are windows onto it, not separate registers.
"""
from __future__ import annotations

from vmlab.isa import fp
from vmlab.isa.csrs import field_mask, field_shift
from vmlab.machine.bits import i64
from vmlab.machine.jit import jit
from vmlab.machine.layout import FCSR, FFLAGS, FRM, MSTATUS, VIRT, VSSTATUS

FS_SHIFT = field_shift("mstatus", "FS")
FS_MASK = field_mask("mstatus", "FS")
FS_OFF, FS_INITIAL, FS_CLEAN, FS_DIRTY = (v << FS_SHIFT for v in (
    fp.FS_OFF, fp.FS_INITIAL, fp.FS_CLEAN, fp.FS_DIRTY))
SD = i64(field_mask("mstatus", "SD"))  # bit 63, as the int64 pattern the cpu row holds
FLAGS_MASK, FRM_SHIFT = fp.FFLAGS_MASK, fp.FRM_SHIFT  # fcsr: fflags in bits 4:0, frm in 7:5


@jit(inline="always")
def fp_enabled(c):
    """May F/D instructions run?  (FS = Off makes them illegal instructions: mstatus.FS, and
    in a guest (V=1) vsstatus.FS too.)"""
    if (c[MSTATUS] & FS_MASK) == FS_OFF:
        return False
    return c[VIRT] == 0 or (c[VSSTATUS] & FS_MASK) != FS_OFF


@jit(inline="always")
def mark_dirty(c):
    """FP state changed: FS Dirty and SD, in mstatus and, in a guest (V=1), in vsstatus."""
    c[MSTATUS] |= FS_DIRTY | SD
    if c[VIRT] != 0:
        c[VSSTATUS] |= FS_DIRTY | SD


@jit
def with_sd(mstatus):
    """mstatus with SD recomputed from FS: call after any write that may change FS."""
    if (mstatus & FS_MASK) == FS_DIRTY:
        return mstatus | SD
    return mstatus & ~SD


@jit
def is_fp_csr(num):
    return num == FFLAGS or num == FRM or num == FCSR


@jit
def fp_csr_read(c, num):
    v = c[FCSR]
    if num == FFLAGS:
        return v & FLAGS_MASK
    if num == FRM:
        return (v >> FRM_SHIFT) & 7
    return v & 0xFF


@jit
def fp_csr_write(c, num, v):
    """frm keeps any 3-bit value (an invalid one makes DYN instructions illegal later)."""
    old = c[FCSR]
    if num == FFLAGS:
        c[FCSR] = (old & ~FLAGS_MASK) | (v & FLAGS_MASK)
    elif num == FRM:
        c[FCSR] = (old & FLAGS_MASK) | ((v & 7) << FRM_SHIFT)
    else:
        c[FCSR] = v & 0xFF
    mark_dirty(c)
