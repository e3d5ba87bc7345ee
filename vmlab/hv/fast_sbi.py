"""SBI calls in compiled code: the ones a running kernel makes all the time.

A kernel started in vS calls the hypervisor (playing the firmware) with ``ecall``; the
Python twin is vmlab.hv.sbi, one small function per call.  Served here, where everything the
call touches is in arrays:

- TIME ``set_timer`` and the legacy set_timer: the vCPU's own SBI timer;
- the console: legacy putchar, DBCN ``console_write`` and ``console_write_byte``, into the
  VM's UART output ring -- the same buffer the UART's own output goes to, so the console
  sees bytes in the order the guest produced them, whichever path printed them;
- IPI ``send_ipi``: the targets' virtual SSIP, in their rows (a waiting target is woken by
  the VM's scheduler, which sees the pending interrupt: the run returns so it can look);
- RFENCE ``remote_fence_i`` (nothing to do: no instruction cache), and ``remote_sfence_vma``
  of one page whose only target is the caller itself, with no shadow leaf to drop -- the
  same work as the caller's own sfence.vma (vmlab.hv.fast_shadow.sfence).

Anything else -- another vCPU's shadow trees, a whole-space fence, console reads, a buffer
in a page never touched -- is left to Python before anything changed.
"""
from __future__ import annotations

from vmlab.hv.fast_guest import guest_bytes
from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_shadow import sfence_would_drop
from vmlab.hv.fast_state import (H_SHADOW_SFENCE, S_FLUSHES, S_ID, S_SBI_DBCN, S_SBI_IPI,
                                 S_SBI_RFENCE, S_SBI_TIME, S_SBI_TIMER, S_SFENCES,
                                 S_TLB_STALE, S_WRITE_PROTECT, S_YIELD, SBI_EXT_DBCN,
                                 SBI_EXT_IPI, SBI_EXT_RFENCE, SBI_EXT_TIME,
                                 SBI_LEGACY_PUTCHAR, SBI_LEGACY_SET_TIMER, SFENCE_EVENT)
from vmlab.hv.fast_vhart import record
from vmlab.hv.trace import SHADOW
from vmlab.isa.paging import PAGE_SIZE, SATP_ASID_MASK
from vmlab.machine import layout as L
from vmlab.machine.devices import output_byte

A0, A1, A2, A3, A4, A6, A7 = 10, 11, 12, 13, 14, 16, 17    # the calling convention's registers
SUCCESS, ERR_INVALID_PARAM = 0, -3                            # (as vmlab.hv.sbi)
DBCN_WRITE, DBCN_WRITE_BYTE = 0, 2
RFENCE_FENCE_I, RFENCE_SFENCE_VMA, RFENCE_SFENCE_VMA_ASID = 0, 1, 2
OUT_ROOM = L.OUT_BYTES - 4096     # what the console ring may hold before Python drains it


@jit
def reg(row, i):
    return row[L.XREG + i]


@jit
def ret(row, error, value):
    """sbi.call's return: a0 = error, a1 = value."""
    row[L.XREG + A0], row[L.XREG + A1] = error, value


# === TIME =====================================================================================
@jit
def set_timer(row, st):
    """sbi.set_timer: the deadline in mtime ticks; a pending timer interrupt is cleared."""
    st[S_SBI_TIMER] = reg(row, A0)
    row[L.MIP] &= ~L.MIP_STIP


# === the console ==============================================================================
@jit
def console_room(vctl):
    return OUT_ROOM - (vctl[L.C_OUT_HEAD] - vctl[L.C_OUT_TAIL])


@jit
def console_byte(vio, vctl, st, b):
    """devices.print_bytes of one byte: into the UART's output ring (its exit request, meant
    for the bare machine's loop, is left as it was); Python drains it after the run."""
    saved = vctl[L.C_EXIT]
    output_byte(vio, vctl, b)
    vctl[L.C_EXIT] = saved
    st[S_YIELD] = 1                  # console output: vm.run may be waiting for it


@jit
def backed(page_map, vctl, gpa, n):
    """Is every byte of [gpa, gpa + n) guest RAM in a page that has a frame?"""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or n < 0 or off + n > vctl[L.C_RAM_SIZE]:
        return False
    for page in range(off >> 12, (off + n + 4095) >> 12):
        if page_map[page] < 0:
            return False
    return True


@jit
def dbcn_write(mem, page_map, vio, vctl, st, row):
    """sbi.dbcn console_write(n, lo, hi): n bytes at guest-physical lo; False for Python."""
    n, gpa = reg(row, A0), reg(row, A1)
    if reg(row, A2) != 0 or n < 0 or n > console_room(vctl):
        return False                 # (a gpa past 2**64, or more than the ring holds)
    if not (0 <= gpa - vctl[L.C_RAM_BASE] and gpa - vctl[L.C_RAM_BASE] + max(n, 1)
            <= vctl[L.C_RAM_SIZE]):
        ret(row, ERR_INVALID_PARAM, 0)   # (mem.contains says no)
        return True
    if not backed(page_map, vctl, gpa, n):
        return False                 # a page never touched: the memory manager decides
    for k in range(n):
        console_byte(vio, vctl, st, guest_bytes(mem, page_map, vctl, gpa + k, 1))
    ret(row, SUCCESS, n)
    return True


@jit
def console(mem, page_map, vio, vctl, st, row, eid, fid):
    """Legacy putchar and DBCN writes; False (untouched) for anything else."""
    if eid == SBI_LEGACY_PUTCHAR:
        if console_room(vctl) < 1:
            return False
        console_byte(vio, vctl, st, reg(row, A0))
        row[L.XREG + A0] = 0         # (a legacy call returns a0 alone)
        return True
    if eid != SBI_EXT_DBCN or console_room(vctl) < 1:
        return False
    if fid == DBCN_WRITE_BYTE:
        console_byte(vio, vctl, st, reg(row, A0))
        ret(row, SUCCESS, 0)
    elif fid != DBCN_WRITE or not dbcn_write(mem, page_map, vio, vctl, st, row):
        return False
    st[S_SBI_DBCN] += 1
    return True


# === IPI and RFENCE ===========================================================================
@jit
def target_set(vctl, mask, base):
    """sbi.targets as a bit set of vCPU ids (-1: a hart that does not exist, the caller's
    ERR_INVALID_PARAM).  base all ones means every vCPU."""
    n = vctl[L.C_HARTS]
    if base == -1:
        return (1 << n) - 1
    chosen = 0
    for i in range(64):
        if (mask >> i) & 1:
            if base < 0 or base >= n or base + i >= n:
                return -1
            chosen |= 1 << (base + i)
    return chosen


@jit
def send_ipi(rows, vctl, st, row):
    """sbi.ipi: the targets' virtual SSIP."""
    chosen = target_set(vctl, reg(row, A0), reg(row, A1))
    if chosen < 0:
        ret(row, ERR_INVALID_PARAM, 0)
        return
    for h in range(vctl[L.C_HARTS]):
        if (chosen >> h) & 1:
            rows[h, L.MIP] |= L.MIP_SSIP
            if h != st[S_ID]:
                st[S_YIELD] = 1      # another vCPU may wake: the scheduler decides next
    ret(row, SUCCESS, 0)


@jit
def remote_sfence(mem, st, roots, supers, log, row, fid, chosen, now):
    """sbi.rfence's remote sfence.vma of one page when the caller is its only target and
    the shadow trees hold nothing to drop for it; False (untouched) otherwise."""
    gva, asid = reg(row, A2), reg(row, A4) & SATP_ASID_MASK
    one_asid = fid == RFENCE_SFENCE_VMA_ASID
    if chosen != 1 << st[S_ID] or reg(row, A3) != PAGE_SIZE:
        return False                 # other vCPUs' trees, or a whole-space fence: Python
    wp = st[S_WRITE_PROTECT] != 0
    if not wp and sfence_would_drop(mem, roots, supers, gva, asid, one_asid):
        return False
    st[S_SFENCES] += 1
    if not wp:
        st[S_FLUSHES] += 1
    record(log, st, SHADOW, now, SFENCE_EVENT, row[L.PC], 0, gva, H_SHADOW_SFENCE, 0)
    st[S_TLB_STALE] = 1              # (sbi.rfence: target.tlb_stale)
    return True


@jit
def rfence(mem, vctl, st, roots, supers, log, row, fid, now):
    """sbi.rfence for what needs no other vCPU's state; False (untouched) otherwise."""
    if fid > RFENCE_SFENCE_VMA_ASID or fid < 0:
        return False
    chosen = target_set(vctl, reg(row, A0), reg(row, A1))
    if chosen < 0:
        ret(row, ERR_INVALID_PARAM, 0)
    elif fid != RFENCE_FENCE_I and chosen != 0:
        if not remote_sfence(mem, st, roots, supers, log, row, fid, chosen, now):
            return False
        ret(row, SUCCESS, 0)
    else:
        ret(row, SUCCESS, 0)
    st[S_SBI_RFENCE] += 1
    return True


# === the dispatcher (sbi.call) =================================================================
@jit(inline="always")
def sbi_call(mem, page_map, rows, vio, vctl, st, roots, supers, log, pc, now):
    """An SBI call from vS: True when served here (a0/a1 and the pc set, as sbi.call and
    exits.ecall do), False (nothing touched) for Python."""
    row = rows[st[S_ID]]
    eid, fid = reg(row, A7), reg(row, A6)
    if eid == SBI_LEGACY_SET_TIMER or (eid == SBI_EXT_TIME and fid == 0):
        set_timer(row, st)
        if eid == SBI_EXT_TIME:
            st[S_SBI_TIME] += 1
            ret(row, SUCCESS, 0)
        else:
            row[L.XREG + A0] = 0
    elif eid == SBI_EXT_IPI and fid == 0:
        send_ipi(rows, vctl, st, row)
        st[S_SBI_IPI] += 1
    elif eid == SBI_EXT_RFENCE:
        if not rfence(mem, vctl, st, roots, supers, log, row, fid, now):
            return False
    elif not console(mem, page_map, vio, vctl, st, row, eid, fid):
        return False
    row[L.PC] = pc + 4
    return True
