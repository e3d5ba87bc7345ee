"""The run loop: harts take turns in time slices; interrupts are taken between instructions.

Simulated time is counted in nanoseconds, one per instruction: hart 0 runs SLICE
(``ctl[C_SLICE_LEN]``) instructions, then hart 1 runs SLICE, ... and when every hart has had its turn the clock
(``dev[D_TICKS]``) moves on by SLICE -- the harts run "in parallel" at 1 GHz.  ``mtime``
is that clock divided by 100 (10 MHz).  Nothing depends on the host's clock, so the same
inputs always give the same run, however it is cut into calls.

Before each stretch of instructions the loop recomputes the hart's device-driven interrupt
bits and takes an interrupt if one is pending and enabled; the stretch ends early at the next
timer deadline, so timer interrupts arrive at exactly the instruction they are due.  A hart
in ``wfi`` with nothing pending sits out; when every hart waits, the clock jumps to the next
timer deadline (or the loop returns EXIT_IDLE if none is armed).
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.devices import next_timer_ns, update_hwip
from vmlab.machine.hart import exec_hart
from vmlab.machine.layout import (
    C_BUDGET, C_CUR_HART, C_EXIT, C_FLAGS, C_HARTS, C_IDLE_NS, C_SLICE_POS, C_SYS_INSN,
    D_TICKS, EXIT_BUDGET, EXIT_IDLE, EXIT_NONE, F_TRAP_EXIT, HWIP, MIE, MIP, PRIV, PRIV_U,
    RES_ADDR, WAITING, C_SLICE_LEN,
)
from vmlab.machine.system import exec_system
from vmlab.machine.trap import take_trap, pending_interrupt


@jit
def wants_wake(c):
    """wfi ends when any interrupt is pending and enabled in mie, whatever mstatus says."""
    return ((c[MIP] | c[HWIP]) & c[MIE]) != 0


@jit
def lines_unread(c, ctl):
    """Can nothing read hart ``c``'s device-driven mip bits before its next trap?  So in
    hypervisor mode only (a trap exits): the hart in U-mode (mip traps there) with no
    interrupt enabled (nothing to take) and not waiting (nothing to wake it) -- as the
    hypervisor runs every shadow-paged guest.  Recomputing them then (update_hwip) was a
    few per cent of each exit's time, for a value nobody looks at."""
    return ((ctl[C_FLAGS] & F_TRAP_EXIT) != 0 and c[PRIV] == PRIV_U and c[MIE] == 0
            and c[WAITING] == 0)


@jit
def all_idle_until(cpu, dev, ctl):
    """If every hart waits with nothing pending: the ns of the next timer deadline (or -1
    for none armed).  Otherwise 0."""
    first = 1 << 62
    for h in range(ctl[C_HARTS]):
        update_hwip(cpu, dev, ctl, h)
        c = cpu[h]
        if c[WAITING] == 0 or wants_wake(c):
            return 0
        t = next_timer_ns(cpu, dev, h)
        if t > dev[D_TICKS]:             # a deadline already passed cannot wake anyone
            first = min(first, t)
    return -1 if first >= (1 << 62) else first


@jit
def next_slice(cpu, dev, ctl):
    """Pass the turn to the next hart; after the last one, advance the clock."""
    h = ctl[C_CUR_HART]
    harts = ctl[C_HARTS]
    SLICE = ctl[C_SLICE_LEN]
    if harts > 1:
        cpu[h, RES_ADDR] = -1
    h += 1
    ctl[C_SLICE_POS] = 0
    if h == harts:
        h = 0
        dev[D_TICKS] += SLICE
    ctl[C_CUR_HART] = h
    if h == 0:
        until = all_idle_until(cpu, dev, ctl)
        if until < 0:
            return EXIT_IDLE
        if until > dev[D_TICKS] + SLICE:            # skip whole idle rounds
            skip = (until - dev[D_TICKS]) // SLICE * SLICE
            dev[D_TICKS] += skip
            ctl[C_IDLE_NS] += skip
    return EXIT_NONE


@jit
def run(cpu, mem, tlb, dev, io, ctl, rvc):
    """Run until the budget in ctl[C_BUDGET] is spent or something needs Python.

    Returns the exit reason (also left in ctl[C_EXIT]).
    """
    return run_flat(cpu, mem, tlb, tlb.reshape(tlb.size), dev, io, ctl, rvc)


@jit
def run_flat(cpu, mem, tlb, tlbf, dev, io, ctl, rvc):
    """:func:`run` with the TLB also given flat (``tlbf``, hart.fast_offset's view).  A caller
    that enters the loop once per exit (the hypervisor's compiled fast path) makes the view
    once: reshaping it on every entry was 4 % of an exit's CPU time."""
    ctl[C_EXIT] = EXIT_NONE
    SLICE = ctl[C_SLICE_LEN]
    while True:
        if ctl[C_BUDGET] <= 0:
            ctl[C_EXIT] = EXIT_BUDGET
            return EXIT_BUDGET
        pos = ctl[C_SLICE_POS]
        if pos >= SLICE:
            if next_slice(cpu, dev, ctl) == EXIT_IDLE:
                ctl[C_EXIT] = EXIT_IDLE
                return EXIT_IDLE
            continue
        h = ctl[C_CUR_HART]
        c = cpu[h]
        unread = lines_unread(c, ctl)
        if not unread:
            update_hwip(cpu, dev, ctl, h)
        now = dev[D_TICKS] + pos
        if c[WAITING]:
            if not wants_wake(c):
                # sit out until the timer is due (if within this slice) or the slice ends
                t = next_timer_ns(cpu, dev, h)
                stop = SLICE if t >= dev[D_TICKS] + SLICE or t <= now else t - dev[D_TICKS]
                ctl[C_IDLE_NS] += stop - pos
                ctl[C_SLICE_POS] = stop
                continue
            c[WAITING] = 0
        irq = -1 if unread else pending_interrupt(c)      # (unread: none can be taken)
        if irq >= 0:
            take_trap(c, ctl, irq, 0, True)
            if ctl[C_EXIT] != EXIT_NONE:                 # hypervisor mode: the trap exits
                return ctl[C_EXIT]
        limit = min(SLICE - pos, ctl[C_BUDGET])
        t = next_timer_ns(cpu, dev, h)
        if t > now:
            limit = min(limit, t - now)
        ctl[C_SYS_INSN] = 0
        n = exec_hart(cpu, mem, tlb, tlbf, dev, io, ctl, rvc, h, limit)
        ctl[C_BUDGET] -= n
        if ctl[C_SYS_INSN] != 0 and ctl[C_EXIT] == EXIT_NONE:
            exec_system(cpu, tlb, dev, ctl, h, ctl[C_SYS_INSN])
            ctl[C_SYS_INSN] = 0
            ctl[C_SLICE_POS] += 1
            ctl[C_BUDGET] -= 1
        if ctl[C_EXIT] != EXIT_NONE:
            return ctl[C_EXIT]
