"""Exits: why the guest stopped running, and the table of small handlers that deal with it.

The guest runs in real U-mode, so everything privileged it does traps out of the machine's
run loop (vmlab.machine in hypervisor mode, ``F_TRAP_EXIT``).  :func:`dispatch` looks the
cause up in :data:`HANDLERS` and calls one small function:

==========================  ===================================================
illegal instruction         sub-dispatched by instruction (vmlab.hv.csr_emul):
                            csr*, sret, mret, wfi, sfence.vma -- else reflected
ecall                       SBI (a kernel started in vS) or reflected
page fault                  the shadow pager: filled, reflected, MMIO, or a
                            write to a write-protected guest page table
anything else               reflected into the guest as the hardware would
==========================  ===================================================

Every exit is recorded in the VM's trace with the handler's name and a modelled cost in
simulated ns (:data:`COSTS`), which is added to the machine's clock: an exit really costs
the guest time, the same amount on every run.
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG
from vmlab.machine import layout as L
from vmlab.machine.system import ECALL
from vmlab.machine.trap import take_trap

#: simulated ns: leaving the guest and entering it again, plus what each handler does
COSTS = {
    "switch": 300,       # save and load guest registers, reload satp (every exit pays it)
    "csr": 50, "sret": 60, "mret": 60, "wfi": 40, "sfence.vma": 200,
    "sbi": 150, "mmio": 250, "fill": 200, "pt-write": 300,
    "reflect": 100,      # enter the guest's own trap handler
    "timer": 0,          # the host timer that ends a slice at a virtual deadline
}

#: handlers that complete the guest's instruction (the others reflect a trap, retry it, or,
#: for SBI, play the firmware the ecall trapped into)
RETIRED = {"csr", "sret", "mret", "wfi", "sfence.vma", "mmio", "pt-write"}


@dataclass
class Exit:
    """One exit, after the hypervisor handled it (what ``vcpu.run()`` returns).

    ``reason``: "trap" (the guest trapped), "timer" (a virtual timer deadline ended the
    run), "budget", "halt"/"reset" (the guest wrote sifive_test or called SBI SRST), "idle"
    (the vCPU waits in wfi with nothing pending), "stopped" (HSM: not started).
    ``cause`` is what the trap means *for the guest* (an ecall from vS is 9 although the
    real hart, in U-mode, raised 8); interrupts have :data:`INTERRUPT_FLAG` set.
    """

    reason: str
    cause: int = -1
    tval: int = 0
    pc: int = 0              # guest-virtual pc of the trapping instruction
    insn: int = 0            # its bits, when the handler needed them
    handler: str = ""
    cost: int = 0
    priv: int = 0            # virtual privilege the guest was in
    instructions: int = 0    # guest instructions executed in this run() call
    gpa: int | None = None   # for MMIO: the device address


# ------------------------------------------------------------------------------------------
# handlers shared by several causes
# ------------------------------------------------------------------------------------------
def reflect(vcpu, ex: Exit, cause: int, tval: int) -> str:
    """Deliver the trap into the guest: the machine's own take_trap on the *virtual* hart,
    so delegation, xepc/xcause/xtval, the status stack and xtvec follow the spec exactly."""
    vcpu.row[L.PC] = ex.pc
    take_trap(vcpu.row, vcpu.vm.devices.ctl, cause, tval, False)
    vcpu.row[L.RES_ADDR] = -1
    vcpu.vm.trace.record(INJECT, time=vcpu.vm.time(), vm=vcpu.vm.id, vcpu=vcpu.id, cause=cause,
                         pc=ex.pc, insn=ex.insn, tval=tval, handler="exception")
    return "reflect"


def reflect_same(vcpu, ex: Exit) -> str:
    """A trap the guest itself must handle (breakpoint, misaligned access, ...)."""
    return reflect(vcpu, ex, ex.cause, ex.tval)


def ecall(vcpu, ex: Exit) -> str:
    """The real hart only ever sees "ecall from U"; what it means depends on the virtual mode.
    From vS with the hypervisor as firmware it is an SBI call; otherwise the guest's own
    handler gets it (via medeleg, as the hardware would route it)."""
    from vmlab.hv import sbi
    ex.cause = L.CAUSE_ECALL_U + vcpu.priv
    ex.insn = ECALL
    if ex.cause == L.CAUSE_ECALL_S and vcpu.vm.sbi_from_hv:
        sbi.call(vcpu)
        vcpu.row[L.PC] = ex.pc + 4
        return "sbi"
    return reflect(vcpu, ex, ex.cause, 0)


def page_fault(vcpu, ex: Exit) -> str:
    """Ask the shadow pager what the fault was: a missing shadow entry (retry), the guest's
    own fault (reflect), a device access (emulate) or a write to a guarded page table."""
    from vmlab.hv import mmio
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


def illegal(vcpu, ex: Exit) -> str:
    from vmlab.hv import csr_emul
    return csr_emul.dispatch(vcpu, ex)


HANDLERS = {
    L.CAUSE_ILLEGAL: illegal,
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
    handler = HANDLERS.get(cause, reflect_same)(vcpu, ex)
    if handler in RETIRED:
        vcpu.retire(ex.insn)
    ex.handler = handler
    ex.cost = COSTS["switch"] + COSTS.get(handler, 0)
    vm.trace.record(EXIT, time=time, vm=vm.id, vcpu=vcpu.id, cause=ex.cause, pc=pc,
                    insn=ex.insn, tval=tval, handler=handler, cost=ex.cost)
    vm.charge(ex.cost)
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
