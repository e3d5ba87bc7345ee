"""Exits: why the guest stopped running, and the table of the handlers that deal with it.

The guest runs in real U-mode, so everything privileged it does traps out of the machine's
run loop (vmlab.machine in hypervisor mode, ``F_TRAP_EXIT``).  :func:`dispatch` looks the
cause up in :data:`HANDLERS` and calls the handler:

==========================  ===================================================
illegal instruction         vmlab.hv.csr_emul.dispatch, by instruction:
                            csr*, sret, mret, wfi, sfence.vma -- else reflected
ecall                       :func:`ecall`: SBI (a kernel started in vS) or reflected
page fault                  :func:`page_fault`: the shadow pager's answer --
                            filled, reflected, MMIO (vmlab.hv.mmio), or a write
                            to a write-protected guest page table
anything else               reflected into the guest as the hardware would
==========================  ===================================================

Every exit is recorded in the VM's trace with the handler's name and a modelled cost in
simulated ns (:data:`COSTS`, in vmlab.hv.exit_types with the Exit record and
:func:`reflect`), which is added to the machine's clock: an exit really costs the guest
time, the same amount on every run.
"""
from __future__ import annotations

from vmlab.hv import csr_emul, mmio, sbi
from vmlab.hv.exit_types import COSTS, RETIRED, Exit, reflect, reflect_same  # noqa: F401
from vmlab.hv.trace import EXIT, INTERRUPT_FLAG
from vmlab.machine import layout as L
from vmlab.machine.system import ECALL


def ecall(vcpu, ex: Exit) -> str:
    """The real hart only ever sees "ecall from U"; what it means depends on the virtual mode.
    From vS with the hypervisor as firmware it is an SBI call; otherwise the guest's own
    handler gets it (via medeleg, as the hardware would route it)."""
    ex.cause = L.CAUSE_ECALL_U + vcpu.priv
    ex.insn = ECALL
    if ex.cause == L.CAUSE_ECALL_S and vcpu.vm.sbi_from_hv:
        getattr(vcpu.vm, "sbi_call", sbi.call)(vcpu)     # (a VM's own: vmlab.hv.hooks)
        vcpu.set_pc(ex.pc + 4)
        return "sbi"
    return reflect(vcpu, ex, ex.cause, 0)


def page_fault(vcpu, ex: Exit) -> str:
    """Ask the shadow pager what the fault was: a missing shadow entry (retry), the guest's
    own fault (reflect), a device access (emulate) or a write to a guarded page table."""
    vm = vcpu.vm
    f = vm.shadow.handle_fault(vcpu, ex.cause, ex.tval)
    if f.kind == "filled":
        return "fill"
    if f.kind == "guest":
        return reflect(vcpu, ex, f.cause, f.tval)
    if f.kind == "mmio":
        ex.gpa = f.gpa
        return mmio.emulate(vcpu, ex, f.gpa)
    if f.kind == "wp":
        ex.gpa = f.gpa
        return mmio.page_table_write(vcpu, ex, f.gpa)
    raise ValueError(f"shadow pager returned an unknown fault kind {f.kind!r}")


#: the handler of each cause the hypervisor treats specially (the rest: reflect_same)
HANDLERS = {
    L.CAUSE_ILLEGAL: csr_emul.dispatch,
    L.CAUSE_ECALL_U: ecall,
    L.CAUSE_FETCH_PAGE: page_fault,
    L.CAUSE_LOAD_PAGE: page_fault,
    L.CAUSE_STORE_PAGE: page_fault,
}


def dispatch(vcpu, cause: int, tval: int, pc: int) -> Exit:
    """Handle one trap of the real hart; record it and charge its cost to the clock."""
    vm = vcpu.vm
    ex = Exit("trap", cause, tval, pc, priv=vcpu.priv)
    if cause == L.CAUSE_ILLEGAL:
        ex.insn = tval & 0xFFFF_FFFF
    time = vm.time()
    table = getattr(vm, "exit_handlers", None) or HANDLERS    # a VM's own: vmlab.hv.hooks
    handler = table.get(cause, reflect_same)(vcpu, ex)
    if handler in RETIRED:
        vcpu.retire(ex.insn)
    ex.handler = handler
    ex.cost = cost = COSTS["switch"] + COSTS.get(handler, 0)
    # (positionally, on every exit: kind, time, vm, vcpu, cause, pc, insn, tval, handler, cost)
    vm.trace.record(EXIT, time, vm.id, vcpu.id, ex.cause, pc, ex.insn, tval, handler, cost)
    vm.charge(cost)
    return ex


def timer_exit(vcpu, irq: int, instructions: int) -> Exit:
    """The run ended at a virtual timer deadline: in a real hypervisor, a host timer
    interrupt.  Recorded as an exit; the interrupt is injected before the next entry."""
    vm = vcpu.vm
    ex = Exit("timer", INTERRUPT_FLAG | irq, 0, vcpu.pc, handler="timer", priv=vcpu.priv,
              cost=COSTS["switch"] + COSTS["timer"], instructions=instructions)
    vm.trace.record(EXIT, time=vm.time(), vm=vm.id, vcpu=vcpu.id, cause=ex.cause, pc=ex.pc,
                    handler="timer", cost=ex.cost)
    vm.charge(ex.cost)
    return ex
