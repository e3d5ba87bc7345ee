"""What every exit handler shares: the Exit record, the modelled costs, and reflection.

Kept apart from the exit table (vmlab.hv.exits) so that the handlers in csr_emul, mmio and
sbi can use these without importing the table that names them -- and the table can name
the real handlers when it is built.
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.hv.trace import INJECT
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.trap import take_trap

#: simulated ns: leaving the guest and entering it again, plus what each handler does
COSTS = {
    "switch": 300,       # save and load guest registers, reload satp (every exit pays it)
    "csr": 50, "sret": 60, "mret": 60, "wfi": 40, "sfence.vma": 200,
    "sbi": 150, "mmio": 250, "fill": 200, "pt-write": 300,
    "reflect": 100,      # enter the guest's own trap handler
    "timer": 0,          # the host timer that ends a slice at a virtual deadline
    # the hw backend (vmlab.hv.hw_exits): a G-stage fill finds the page's host frame and
    # writes one leaf (and at most two new intermediate tables) -- a shadow fill's work
    # without its walk of the guest's own table, which the hart does itself under hw
    "g-fill": 150,
}

#: handlers that complete the guest's instruction (the others reflect a trap, retry it, or,
#: for SBI, play the firmware the ecall trapped into)
RETIRED = {"csr", "sret", "mret", "wfi", "sfence.vma", "mmio", "pt-write"}


@dataclass(slots=True)
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


def reflect(vcpu, ex: Exit, cause: int, tval: int) -> str:
    """Deliver the trap into the guest: the machine's own take_trap on the *virtual* hart,
    so delegation, xepc/xcause/xtval, the status stack and xtvec follow the spec exactly."""
    vcpu.set_pc(ex.pc)
    deliver = getattr(vcpu.vm, "deliver_trap", None)      # a student's (vmlab.hv.hooks)
    if deliver is not None:
        deliver(vcpu, ex, cause, tval)
    else:
        take_trap(vcpu.row, vcpu.vm.devices.ctl, i64(cause), i64(tval), False)
    vcpu.row[L.RES_ADDR] = -1
    vcpu.vm.trace.record(INJECT, time=vcpu.vm.time(), vm=vcpu.vm.id, vcpu=vcpu.id, cause=cause,
                         pc=ex.pc, insn=ex.insn, tval=tval, handler="exception")
    return "reflect"


def reflect_same(vcpu, ex: Exit) -> str:
    """A trap the guest itself must handle (breakpoint, misaligned access, ...)."""
    return reflect(vcpu, ex, ex.cause, ex.tval)


