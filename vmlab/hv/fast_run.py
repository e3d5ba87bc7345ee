"""The compiled run loop: enter the guest, run it, and handle the hot exits without leaving.

:func:`fast_run` is the compiled twin of the loop in VCpu.run: it runs the guest (the
machine's own run loop in hypervisor mode) and, when the guest traps, asks "can I finish
this exit here?" (:func:`handle_trap`).  If yes, it does what the Python handler would have
done, charges the same modelled cost, injects a pending virtual interrupt, enters the guest
again and goes on.  If no, it returns with the trap for Python, having changed nothing for
it.  It also returns whenever Python should get its turn (:func:`yields`), when the budget
is spent, and before its record log fills up.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.fast_args import shape1, shape2, shape4, view
from vmlab.hv.fast_csr import emulate_system
from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_mmio import device_access
from vmlab.hv.fast_sbi import sbi_call
from vmlab.hv.fast_shadow import fill, find_root
from vmlab.hv.fast_state import (COST_BASE, H_FILL, H_INTERRUPT, H_MMIO, H_ROOT_SWITCH, H_SBI,
                                 H_TIMER, HANDLED, K_CSR, K_MMIO, K_REFLECT, K_SBI, K_SWITCH,
                                 K_TIMER, LOG_ROOM, R_REAL_SATP, R_SATP, R_TAG, RESUME,
                                 ROOT_SWITCH_EVENT, S_DEADLINE, S_DEADLINE_IRQ, S_ENTERS,
                                 S_HART, S_ID, S_LOG_N, S_NOW, S_ONE_EXIT, S_YIELD, S_ROOT,
                                 S_SBI_FROM_HV, S_TLB_STALE)
from vmlab.hv.fast_vhart import (charge, due_interrupt, next_deadline, now_ns, record,
                                 update_lines)
from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG, SHADOW
from vmlab.machine import layout as L
from vmlab.machine.fpstate import FS_CLEAN, FS_DIRTY, FS_MASK, SD
from vmlab.machine.loop import run_flat
from vmlab.machine.system import ECALL, WFI, exec_csr
from vmlab.machine.trap import pending_interrupt, take_trap

NOT_FS_SD = ~FS_MASK & ~SD
#: run_between's answer when a virtual interrupt is due before the entry (beside the machine's
#: EXIT_* codes and the fast path's HANDLED/RESUME): Python injects it and calls again
DUE = 102
REAL_COUNTEREN = 7                # CY, TM, IR (VCpu._counters_allowed)


# === the world switch (VCpu._enter / _leave) ===============================================
@jit
def counters_allowed(row):
    """Which counters the guest may read without an exit in its virtual mode."""
    priv = row[L.PRIV]
    if priv == L.PRIV_M:
        return REAL_COUNTEREN
    allowed = row[L.MCOUNTEREN] & REAL_COUNTEREN
    return allowed if priv == L.PRIV_S else allowed & row[L.SCOUNTEREN]


@jit(inline="always")
def load_hart(c, row):
    """The virtual hart's registers, counters and FP state onto real hart ``c``.

    The real hart always runs the guest in U-mode with interrupts off.  Of cycle/time/
    instret, the guest may read without an exit those its virtual mode may read
    (counters_allowed); the others trap and are emulated or reflected, as on hardware.
    The virtual FS decides about FP: Off -> the real FS is Off, so any F/D instruction or
    fcsr access traps as illegal and is reflected (the guest's kernel saves FP state lazily
    on that); otherwise the f registers and fcsr go onto the real hart, whose FS is set
    Clean so that after the run a Dirty FS says exactly "the guest changed FP state".
    RES_ADDR is -1 after a reflected trap, so an sc across it fails."""
    for k in range(L.XREG, L.XREG + 33):           # x0..x31 and the pc
        c[k] = row[k]
    c[L.MCYCLE], c[L.MINSTRET] = row[L.MCYCLE], row[L.MINSTRET]
    c[L.RES_ADDR], c[L.MCOUNTINHIBIT] = row[L.RES_ADDR], row[L.MCOUNTINHIBIT]
    c[L.PRIV], c[L.MIE], c[L.WAITING] = L.PRIV_U, 0, 0
    allowed = counters_allowed(row)
    c[L.MCOUNTEREN], c[L.SCOUNTEREN], c[L.MENVCFG] = allowed, allowed, 0
    real = c[L.MSTATUS] & NOT_FS_SD
    if row[L.MSTATUS] & FS_MASK:
        for k in range(L.FREG, L.FREG + 32):
            c[k] = row[k]
        c[L.FCSR] = row[L.FCSR]
        real |= FS_CLEAN
    c[L.MSTATUS] = real


@jit(inline="always")
def enter_hart(cpu, tlb, row, st, real_satp):
    """VCpu._enter once the pager chose the root: the registers and the shadow root onto
    the real hart; its TLB emptied if another context may have left entries there."""
    load_hart(cpu[st[S_HART]], row)
    cpu[st[S_HART], L.SATP] = real_satp
    if st[S_TLB_STALE]:
        tlb[st[S_HART], :, :, L.TLB_TAG] = L.TLB_EMPTY
        st[S_TLB_STALE] = 0


@jit(inline="always")
def enter(cpu, tlb, row, st, roots, log, now):
    """Load the guest onto the real hart; False (nothing changed) if its root is not built."""
    i = find_root(roots, row)
    if i < 0:
        return False
    st[S_ENTERS] += 1
    if i != st[S_ROOT]:
        st[S_ROOT] = i
        record(log, st, SHADOW, now, ROOT_SWITCH_EVENT, row[L.PC], roots[i, R_TAG],
               roots[i, R_SATP], H_ROOT_SWITCH, 0)
    enter_hart(cpu, tlb, row, st, roots[i, R_REAL_SATP])
    return True


@jit(inline="always")
def leave(cpu, row, st):
    """The real hart's registers back into the virtual hart.  Only a run that dirtied the
    real FS copies FP state back (most exits do not), and it makes the *virtual* FS Dirty
    and SD set, as the hart would have."""
    c = cpu[st[S_HART]]
    for k in range(L.XREG, L.XREG + 33):
        row[k] = c[k]
    row[L.MCYCLE], row[L.MINSTRET], row[L.RES_ADDR] = c[L.MCYCLE], c[L.MINSTRET], c[L.RES_ADDR]
    if (c[L.MSTATUS] & FS_MASK) == FS_DIRTY:
        for k in range(L.FREG, L.FREG + 32):
            row[k] = c[k]
        row[L.FCSR] = c[L.FCSR]
        row[L.MSTATUS] |= FS_DIRTY | SD


# === one exit (exits.dispatch) ===============================================================
@jit
def exit_cost(st, kind):
    """exits.dispatch's cost: the world switch plus the handler's own (K_* follow H_*)."""
    return st[COST_BASE + K_SWITCH] + st[COST_BASE + kind]


@jit(inline="always")
def handle_trap(mem, page_map, rows, vdev, vio, vctl, notlb, rvc, st, roots, supers, log, fills,
                bt_pages, cause, tval, pc, now):
    """exits.dispatch for the exits handled here: the cost charged, or -1 (nothing changed:
    Python handles it)."""
    row = rows[st[S_ID]]
    if cause == L.CAUSE_ILLEGAL:
        insn = tval & 0xFFFFFFFF
        kind = emulate_system(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, pc,
                              now)
        if kind < 0:
            return -1
        cost = exit_cost(st, K_CSR + kind)
        record(log, st, EXIT, now, cause, pc, insn, tval, kind, cost)
        return cost
    if cause == L.CAUSE_ECALL_U and row[L.PRIV] == L.PRIV_S and st[S_SBI_FROM_HV]:
        if not sbi_call(mem, page_map, rows, vio, vctl, st, roots, supers, log, pc, now):
            return -1
        cost = exit_cost(st, K_SBI)
        record(log, st, EXIT, now, L.CAUSE_ECALL_S, pc, ECALL, tval, H_SBI, cost)
        return cost
    word = device_access(mem, page_map, rows, vdev, vio, vctl, rvc, st, roots, log, cause, tval,
                         pc, now)
    if word >= 0:
        cost = exit_cost(st, K_MMIO)
        record(log, st, EXIT, now, cause, pc, word, tval, H_MMIO, cost)
        return cost
    cost = fill(mem, page_map, vctl, st, roots, fills, bt_pages, cause, tval, pc, row, log, now)
    if cost >= 0:
        record(log, st, EXIT, now, cause, pc, 0, tval, H_FILL, cost)
    return cost


@jit(inline="always")
def inject(rows, vdev, vctl, st, log, dev, ctl):
    """VCpu.inject: deliver the highest-priority pending, enabled virtual interrupt."""
    now = now_ns(dev, ctl)
    update_lines(rows, vdev, vctl, st, now)
    row = rows[st[S_ID]]
    irq = pending_interrupt(row)
    if irq < 0:
        return
    row[L.WAITING] = 0
    take_trap(row, vctl, irq, 0, True)
    row[L.RES_ADDR] = -1
    cost = st[COST_BASE + K_REFLECT]
    record(log, st, INJECT, now, INTERRUPT_FLAG | irq, row[L.PC], 0, 0, H_INTERRUPT, cost)
    charge(dev, cost)


# === the loop ================================================================================
@jit
def yields(code, ctl, st):
    """Exits after which Python gets its turn at once: a wfi (the guest has nothing to do:
    the scheduler decides, as after the Python handler, so a vCPU idling in a wfi loop does
    not spin through its slice while another has work); console output (vm.run looks
    there for what it waits for); another vCPU woken (the scheduler decides who runs);
    and every exit while Python asks for that (typed input waiting to be fed, a tohost word
    to watch, a scheduler that decides between exits: VCpu.each_exit)."""
    if st[S_ONE_EXIT] or st[S_YIELD]:
        st[S_YIELD] = 0
        return True
    return (code == L.EXIT_TRAP and ctl[L.C_TRAP_CAUSE] == L.CAUSE_ILLEGAL
            and ctl[L.C_TRAP_TVAL] & 0xFFFFFFFF == WFI)


@jit(inline="always")
def run_guest(cpu, mem, tlb, tlbf, dev, io, ctl, rvc, st, limit):
    """VCpu._run_real: the machine's run loop in hypervisor mode; (exit code, steps).
    (``tlbf``: the TLB flat, made once per fast_run call.)"""
    ctl[L.C_FLAGS] = L.F_TRAP_EXIT
    ctl[L.C_CUR_HART] = st[S_HART]
    ctl[L.C_BUDGET] = limit
    code = run_flat(cpu, mem, tlb, tlbf, dev, io, ctl, rvc)
    return code, limit - ctl[L.C_BUDGET]


@jit
def run_between(cpu, mem, tlb, dev, io, ctl, rvc, rows, vdev, vctl, st, real_satp, now, left):
    """The Python path's compiled steps between two exits, as one call (each call from
    Python costs about a microsecond before it does anything): the virtual interrupt check
    (VCpu.inject's question: if one is due, return DUE at once, and Python injects it), the
    next virtual timer deadline (VCpu.next_deadline), the world switch in (enter_hart, onto
    the root the pager chose: ``real_satp``), the machine's run loop, the switch out (leave).
    Returns (exit code or DUE, steps); the entry time and the deadline are left in st[S_NOW],
    st[S_DEADLINE]."""
    if due_interrupt(rows, vdev, vctl, st, now) >= 0:
        return DUE, 0
    row = rows[st[S_ID]]
    deadline = next_deadline(rows, vdev, st)
    st[S_NOW], st[S_DEADLINE] = now, deadline
    limit = max(1, min(left, deadline - now) if deadline > now else left)
    enter_hart(cpu, tlb, row, st, real_satp)
    code, steps = run_guest(cpu, mem, tlb, tlb.reshape(tlb.size), dev, io, ctl, rvc, st, limit)
    leave(cpu, row, st)
    return code, steps


@jit
def run_between_t(t, real_satp, now, left):
    """run_between with its eleven arrays described by one table (fast_args: the Python
    path calls this on every exit, and an array argument costs more than the table)."""
    i8, u1 = np.int64, np.uint8
    return run_between(view(t[0, 0], shape2(t, 0), i8),      # cpu
                       view(t[1, 0], shape1(t, 1), u1),      # mem
                       view(t[2, 0], shape4(t, 2), i8),      # tlb
                       view(t[3, 0], shape1(t, 3), i8),      # dev
                       view(t[4, 0], shape1(t, 4), u1),      # io
                       view(t[5, 0], shape1(t, 5), i8),      # ctl
                       view(t[6, 0], shape1(t, 6), i8),      # rvc
                       view(t[7, 0], shape2(t, 7), i8),      # rows
                       view(t[8, 0], shape1(t, 8), i8),      # vdev
                       view(t[9, 0], shape1(t, 9), i8),      # vctl
                       view(t[10, 0], shape1(t, 10), i8),    # st
                       real_satp, now, left)


@jit
def exec_csr_t(t, hart, insn):
    """The machine's exec_csr(row, dev, ctl, hart, insn) with its arrays in a table."""
    i8 = np.int64
    return exec_csr(view(t[0, 0], shape1(t, 0), i8),
                    view(t[1, 0], shape1(t, 1), i8),
                    view(t[2, 0], shape1(t, 2), i8), hart, insn)


@jit(inline="always")
def prepare(rows, vdev, vctl, cpu, tlb, st, roots, log, dev, ctl, left):
    """Everything VCpu.run does before a run: inject, deadline, enter.  The run's
    instruction limit, or -1 where Python must go on (after the injection)."""
    inject(rows, vdev, vctl, st, log, dev, ctl)
    row = rows[st[S_ID]]
    if row[L.WAITING]:
        return -1
    now = now_ns(dev, ctl)
    deadline = next_deadline(rows, vdev, st)
    if not enter(cpu, tlb, row, st, roots, log, now):
        return -1
    st[S_NOW], st[S_DEADLINE] = now, deadline
    limit = min(left, deadline - now) if deadline > now else left
    return max(1, limit)


@jit
def timer_due(code, st, now):
    """The run ended at the virtual timer deadline (exits.timer_exit's case)."""
    return code == L.EXIT_BUDGET and st[S_DEADLINE] > st[S_NOW] and now >= st[S_DEADLINE]


@jit
def fast_run(cpu, mem, tlb, dev, io, ctl, rvc, rows, vdev, vio, vctl, page_map, notlb, st,
             roots, supers, log, fills, bt_pages, limit, budget):
    """Run the entered guest and handle hot exits until one needs Python, the budget
    (``budget`` instructions in all) is spent, or the log is nearly full.

    Returns (code, steps): a machine EXIT_* code for Python to handle as VCpu.run does
    (EXIT_TRAP: the trap in ctl[C_TRAP_*], registers already on the row), HANDLED, or RESUME.
    """
    done = 0
    row = rows[st[S_ID]]
    tlbf = tlb.reshape(tlb.size)
    while True:
        code, steps = run_guest(cpu, mem, tlb, tlbf, dev, io, ctl, rvc, st, limit)
        leave(cpu, row, st)
        done += steps
        now = now_ns(dev, ctl)
        if code == L.EXIT_TRAP:
            cost = handle_trap(mem, page_map, rows, vdev, vio, vctl, notlb, rvc, st, roots,
                               supers, log, fills, bt_pages, ctl[L.C_TRAP_CAUSE],
                               ctl[L.C_TRAP_TVAL], ctl[L.C_TRAP_PC], now)
            if cost < 0:
                return code, done
        elif timer_due(code, st, now):
            cost = exit_cost(st, K_TIMER)
            record(log, st, EXIT, now, INTERRUPT_FLAG | st[S_DEADLINE_IRQ], row[L.PC], 0, 0,
                   H_TIMER, cost)
        else:
            return code, done
        charge(dev, cost)
        if done >= budget or st[S_LOG_N] + LOG_ROOM > log.shape[0] or yields(code, ctl, st):
            return HANDLED, done
        limit = prepare(rows, vdev, vctl, cpu, tlb, st, roots, log, dev, ctl, budget - done)
        if limit < 0:
            return RESUME, done
