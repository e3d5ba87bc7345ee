"""The exits of the hw backend: the traps the hart still sends to HS-mode, and their handlers.

==========================  ===================================================
guest-page fault 20/21/23   guest RAM: fill the G-stage from the VM's GPA -> HPA
                            map ("g-fill", one exit per guest page, ever); else a
                            device: emulate the access ("mmio")
ecall from VS (10)          an SBI call: the same handlers as under shadow ("sbi")
virtual instruction (22)    wfi under hstatus.VTW ("wfi": idle until the next
                            virtual interrupt), a stimecmp access if henvcfg.STCE
                            is off (emulated, "csr"; the backend turns it on, the
                            guest's timer is then its vstimecmp); anything else is
                            an illegal instruction for the guest ("reflect")
host timer                  the run reached a virtual timer deadline ("timer"):
                            VSTIP goes up in hvip, the guest takes it itself
==========================  ===================================================

Everything else -- the guest's system calls, its own page faults, its CSRs, sret, sfence.vma,
its interrupts -- never leaves the guest: hedeleg and hideleg hand it to VS-mode.  Each exit
is recorded in the VM's trace as under shadow (cause, pc, handler, modelled cost).
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.hv import mmio, sbi
from vmlab.hv.exit_types import COSTS, RETIRED, Exit, reflect
from vmlab.hv.trace import EXIT, INTERRUPT_FLAG
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64

GUEST_PAGE_FAULTS = (L.CAUSE_FETCH_GUEST_PAGE, L.CAUSE_LOAD_GUEST_PAGE, L.CAUSE_STORE_GUEST_PAGE)
WFI = 0x10500073
CSR_OPCODE = 0x73


@dataclass(frozen=True)
class HsTrap:
    """What HS-mode got: scause, stval (a guest virtual address or instruction bits), the
    guest-physical address (htval << 2), htinst, sepc."""

    cause: int
    tval: int
    gpa: int
    tinst: int
    pc: int


def dispatch(vcpu, trap: HsTrap) -> Exit:
    """Handle one exit; record it and charge its cost to the clock."""
    vm = vcpu.vm
    ex = Exit("trap", trap.cause, trap.tval, trap.pc, priv=vcpu.priv)
    time = vm.time()
    handler = HANDLERS.get(trap.cause, _reflect_same)(vcpu, ex, trap)
    if handler in RETIRED:
        vcpu.retire(ex.insn)
    ex.handler = handler
    ex.cost = COSTS["switch"] + COSTS.get(handler, 0)
    vm.trace.record(EXIT, time=time, vm=vm.id, vcpu=vcpu.id, cause=ex.cause, pc=ex.pc,
                    insn=ex.insn, tval=trap.tval, handler=handler, cost=ex.cost)
    vm.charge(ex.cost)
    return ex


def guest_page_fault(vcpu, ex: Exit, trap: HsTrap) -> str:
    """The G-stage has no entry for this guest-physical address: guest RAM is mapped now
    (the hart retries the access); a device is emulated; anything else is the guest's
    access fault, as on a board with nothing there."""
    vm = vcpu.vm
    gpa = trap.gpa | (trap.tval & 3)
    ex.gpa = gpa
    if vm.hw.gstage.fill(gpa, write=trap.cause == L.CAUSE_STORE_GUEST_PAGE):
        return "g-fill"
    access_fault = {L.CAUSE_FETCH_GUEST_PAGE: L.CAUSE_FETCH_ACCESS,
                    L.CAUSE_LOAD_GUEST_PAGE: L.CAUSE_LOAD_ACCESS}.get(trap.cause,
                                                                      L.CAUSE_STORE_ACCESS)
    # htinst with bit 0 clear but not 0: a pseudoinstruction, the fault of the hart's own
    # VS-stage walk -- the guest's page table is not in guest RAM
    implicit = trap.tinst != 0 and not trap.tinst & 1
    if trap.cause == L.CAUSE_FETCH_GUEST_PAGE or implicit:
        return reflect(vcpu, ex, access_fault, trap.tval)
    return emulate_mmio(vcpu, ex, trap, gpa, access_fault)


def emulate_mmio(vcpu, ex: Exit, trap: HsTrap, gpa: int, access_fault: int) -> str:
    """The device access: the instruction from htinst when the hart gave a transformed one,
    else read at sepc through the guest's translation; then the same device models."""
    word = trap.tinst | 2 if trap.tinst & 1 else mmio.fetch_insn(vcpu, trap.pc)
    acc = mmio.decode_access(word) if word is not None else None
    if acc is None:
        return reflect(vcpu, ex, access_fault, trap.tval)
    if trap.tinst & 1:                      # transformed: bit 1 says 32-bit or compressed
        acc = type(acc)(acc.store, acc.size, acc.signed, acc.reg, 4 if trap.tinst & 2 else 2)
    ex.insn = word                          # (ex.pc and ex.tval are the trap's sepc and stval)
    return mmio.device_access(vcpu, ex, acc, gpa, access_fault, access_fault)


def vs_ecall(vcpu, ex: Exit, trap: HsTrap) -> str:
    """An SBI call from the guest kernel: the hypervisor is its firmware."""
    getattr(vcpu.vm, "sbi_call", sbi.call)(vcpu)
    vcpu.set_pc(trap.pc + 4)
    return "sbi"


def virtual_instruction(vcpu, ex: Exit, trap: HsTrap) -> str:
    """Something VS/VU may not do itself, though HS could: emulate what a guest on its own
    hart would see, else it is an illegal instruction for the guest."""
    word = trap.tval & 0xFFFF_FFFF
    ex.insn = word
    if word == WFI:
        vcpu.row[L.WAITING] = 1             # the VM's loop wakes it at an interrupt
        vcpu.set_pc(trap.pc + 4)
        return "wfi"
    if word & 0x7F == CSR_OPCODE and word >> 20 == L.STIMECMP and (word >> 12) & 3:
        return _stimecmp(vcpu, word, trap.pc)
    return reflect(vcpu, ex, L.CAUSE_ILLEGAL, word)


def _csr_op(vcpu, word: int, old: int) -> tuple[int, bool]:
    """The value csrrw/csrrs/csrrc (or an immediate form) writes over ``old``, and whether
    it writes at all (csrrs/csrrc with x0 or 0 only read)."""
    f3, rs1 = (word >> 12) & 7, (word >> 15) & 31
    src = rs1 if f3 & 4 else vcpu.reg(rs1)
    op = f3 & 3
    new = src if op == 1 else old | src if op == 2 else old & ~src
    return new & MASK64, op == 1 or rs1 != 0


def _stimecmp(vcpu, word: int, pc: int) -> str:
    """csrrw/csrrs/csrrc (and their immediate forms) on stimecmp while henvcfg.STCE is off:
    the guest's timer deadline, kept where the SBI timer's is."""
    old = vcpu.sbi_timer
    new, writes = _csr_op(vcpu, word, old)
    if writes:
        vcpu.sbi_timer = new
    vcpu.set_reg((word >> 7) & 31, old)
    vcpu.set_pc(pc + 4)
    return "csr"


def _reflect_same(vcpu, ex: Exit, trap: HsTrap) -> str:
    """A trap the hypervisor did not delegate but the guest must handle itself."""
    return reflect(vcpu, ex, trap.cause, trap.tval)


HANDLERS = {L.CAUSE_FETCH_GUEST_PAGE: guest_page_fault, L.CAUSE_LOAD_GUEST_PAGE: guest_page_fault,
            L.CAUSE_STORE_GUEST_PAGE: guest_page_fault, L.CAUSE_ECALL_VS: vs_ecall,
            L.CAUSE_VIRTUAL: virtual_instruction}


def timer_exit(vcpu, instructions: int) -> Exit:
    """The run reached the guest's timer deadline: the host timer's interrupt, an exit.
    VSTIP goes up in hvip before the next entry and the guest takes it itself."""
    vm = vcpu.vm
    ex = Exit("timer", INTERRUPT_FLAG | L.IRQ_STI, 0, vcpu.pc, handler="timer", priv=vcpu.priv,
              cost=COSTS["switch"] + COSTS["timer"], instructions=instructions)
    vm.trace.record(EXIT, time=vm.time(), vm=vm.id, vcpu=vcpu.id, cause=ex.cause, pc=ex.pc,
                    handler="timer", cost=ex.cost)
    vm.charge(ex.cost)
    return ex
