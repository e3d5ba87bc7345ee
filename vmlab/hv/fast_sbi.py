"""SBI calls in compiled code: the ones a running kernel makes all the time.

A kernel started in vS calls the hypervisor (playing the firmware) with ``ecall``; the
Python twin is vmlab.hv.sbi, one small function per call.  The calls here change only the
calling vCPU's own row and hvstate, so they need nothing but arrays.
"""
from __future__ import annotations

from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_state import S_ID, S_SBI_TIME, S_SBI_TIMER, SBI_EXT_TIME, SBI_LEGACY_SET_TIMER
from vmlab.machine import layout as L

A0, A1, A6, A7 = 10, 11, 16, 17          # the SBI calling convention's registers


@jit
def sbi_set_timer(rows, st, pc):
    """An SBI call from vS that only sets the timer (TIME or legacy): sbi.set_timer."""
    row = rows[st[S_ID]]
    eid, fid = row[L.XREG + A7], row[L.XREG + A6]
    if eid == SBI_EXT_TIME and fid == 0:
        st[S_SBI_TIME] += 1                    # sbi_calls[TIME], drained by Python
        row[L.XREG + A1] = 0
    elif eid != SBI_LEGACY_SET_TIMER:
        return False
    st[S_SBI_TIMER] = row[L.XREG + A0]
    row[L.MIP] &= ~L.MIP_STIP                  # the spec: setting the timer clears STIP
    row[L.XREG + A0] = 0
    row[L.PC] = pc + 4
    return True
