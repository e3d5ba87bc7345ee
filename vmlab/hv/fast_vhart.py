"""The pieces every compiled handler shares: the clock, the virtual hart's interrupt lines and
timer deadline, retiring an emulated instruction, and appending trace records.

Each is the compiled twin of a VCpu method (named in its docstring), working on the same
arrays: ``rows`` (the VM's virtual harts), ``vdev``/``vctl`` (the VM's virtual devices) and
``st``, the vCPU's hvstate row (vmlab.hv.fast_state).
"""
from __future__ import annotations

from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_state import (G_CAUSE, G_COST, G_HANDLER, G_INSN, G_KIND, G_PC, G_TIME,
                                 G_TVAL, G_VCPU, G_VM, H_BASE, S_DEADLINE_IRQ, S_ID, S_LOG_N,
                                 S_SBI_TIMER, S_VM, TIMER_LIMIT, FAR)
from vmlab.machine import layout as L
from vmlab.machine.csr import csr_written
from vmlab.machine.devices import next_timer_ns, update_hwip
from vmlab.machine.trap import pending_interrupt

NS_PER_TICK = 100                 # mtime ticks at 10 MHz: the machine's clock is in ns


@jit
def now_ns(dev, ctl):
    """The machine's clock, as VM.time() reads it."""
    return dev[L.D_TICKS] + ctl[L.C_SLICE_POS]


@jit
def charge(dev, ns):
    """VM.charge: an exit's modelled cost is time the guest loses."""
    dev[L.D_TICKS] += ns


@jit
def sbi_timer_set(st):
    """Is an SBI timer deadline programmed?  (Values past TIMER_LIMIT mean "none".)"""
    return 0 <= st[S_SBI_TIMER] < TIMER_LIMIT


@jit(inline="always")
def update_lines(rows, vdev, vctl, st, now):
    """VCpu.update_lines: the virtual hart's device-driven mip bits, and the SBI timer's STIP."""
    vdev[L.D_TICKS] = now
    vctl[L.C_SLICE_POS] = 0
    h = st[S_ID]
    update_hwip(rows, vdev, vctl, h)
    if sbi_timer_set(st) and now // NS_PER_TICK >= st[S_SBI_TIMER]:
        rows[h, L.MIP] |= L.MIP_STIP


@jit(inline="always")
def next_deadline(rows, vdev, st):
    """VCpu.next_deadline: simulated ns of the next virtual timer event (FAR for none);
    remembers which interrupt it is, for the timer exit's record."""
    h = st[S_ID]
    t = next_timer_ns(rows, vdev, h)
    irq = L.IRQ_STI
    if t < FAR and t == vdev[L.D_MTIMECMP + h] * NS_PER_TICK:
        irq = L.IRQ_MTI
    if sbi_timer_set(st) and st[S_SBI_TIMER] * NS_PER_TICK < t:
        t, irq = st[S_SBI_TIMER] * NS_PER_TICK, L.IRQ_STI
    st[S_DEADLINE_IRQ] = irq
    return t


@jit
def retire(row, insn):
    """VCpu.retire: an emulated instruction completed (one that wrote minstret itself is
    not counted, as on the bare hart)."""
    if (row[L.MCOUNTINHIBIT] & 4) == 0 and csr_written(insn) != L.MINSTRET:
        row[L.MINSTRET] += 1


@jit
def record(log, st, kind, time, cause, pc, insn, tval, handler, cost):
    """Trace.record: append one record (the loop keeps LOG_ROOM free, so it always fits)."""
    n = st[S_LOG_N]
    if n >= log.shape[0]:
        return
    r = log[n]
    r[G_KIND], r[G_TIME], r[G_VM], r[G_VCPU], r[G_CAUSE] = kind, time, st[S_VM], st[S_ID], cause
    r[G_PC], r[G_INSN], r[G_TVAL] = pc, insn & 0xFFFFFFFF, tval
    r[G_HANDLER], r[G_COST] = st[H_BASE + handler], cost
    st[S_LOG_N] = n + 1


@jit
def due_interrupt(rows, vdev, vctl, st, now):
    """VCpu.inject's question: with the lines up to date, the virtual interrupt to take
    now (-1: none pending and enabled)."""
    update_lines(rows, vdev, vctl, st, now)
    return pending_interrupt(rows[st[S_ID]])
