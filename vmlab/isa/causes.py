"""Trap causes: the values of mcause/scause, and what mtval/stval hold for each.

When a hart takes a trap it writes ``xcause`` = (interrupt bit 63) | code, and ``xtval`` =
some extra information that depends on the cause (privileged spec 1.12, §3.1.15-16).
Exceptions are *synchronous* (caused by the instruction itself: its address, its bits, the
address it touched); interrupts are *asynchronous* (a timer, a device, another hart), so
their tval is always 0.  A hypervisor reads these to decide what to emulate.
"""
from __future__ import annotations

from dataclasses import dataclass

#: bit 63 of mcause/scause on RV64: set for interrupts
INTERRUPT_BIT = 1 << 63


@dataclass(frozen=True)
class Cause:
    code: int
    interrupt: bool
    #: short identifier (also the constant's name in lower case)
    name: str
    description: str
    #: what xtval holds: "0", "address" (the faulting virtual address), "instruction" (the
    #: instruction bits, or 0 if the hart does not report them), "pc" (the breakpoint address)
    tval: str

    @property
    def mcause(self) -> int:
        """The full value written to mcause/scause."""
        return self.code | (INTERRUPT_BIT if self.interrupt else 0)


_EXC = [
    (0, "misaligned_fetch", "Instruction address misaligned", "address"),
    (1, "fetch_access", "Instruction access fault", "address"),
    (2, "illegal_instruction", "Illegal instruction", "instruction"),
    (3, "breakpoint", "Breakpoint", "pc"),
    (4, "misaligned_load", "Load address misaligned", "address"),
    (5, "load_access", "Load access fault", "address"),
    (6, "misaligned_store", "Store/AMO address misaligned", "address"),
    (7, "store_access", "Store/AMO access fault", "address"),
    (8, "user_ecall", "Environment call from U-mode", "0"),
    (9, "supervisor_ecall", "Environment call from S-mode", "0"),
    (10, "virtual_supervisor_ecall", "Environment call from VS-mode (H extension)", "0"),
    (11, "machine_ecall", "Environment call from M-mode", "0"),
    (12, "fetch_page_fault", "Instruction page fault", "address"),
    (13, "load_page_fault", "Load page fault", "address"),
    (15, "store_page_fault", "Store/AMO page fault", "address"),
    (20, "fetch_guest_page_fault", "Instruction guest-page fault (H extension)", "address"),
    (21, "load_guest_page_fault", "Load guest-page fault (H extension)", "address"),
    (22, "virtual_instruction", "Virtual instruction (H extension)", "instruction"),
    (23, "store_guest_page_fault", "Store/AMO guest-page fault (H extension)", "address"),
]
_IRQ = [
    (1, "supervisor_software", "Supervisor software interrupt"),
    (2, "virtual_supervisor_software", "Virtual supervisor software interrupt (H extension)"),
    (3, "machine_software", "Machine software interrupt"),
    (5, "supervisor_timer", "Supervisor timer interrupt"),
    (6, "virtual_supervisor_timer", "Virtual supervisor timer interrupt (H extension)"),
    (7, "machine_timer", "Machine timer interrupt"),
    (9, "supervisor_external", "Supervisor external interrupt"),
    (10, "virtual_supervisor_external", "Virtual supervisor external interrupt (H extension)"),
    (11, "machine_external", "Machine external interrupt"),
    (12, "supervisor_guest_external", "Supervisor guest external interrupt (H extension)"),
    (13, "counter_overflow", "Counter overflow interrupt (Sscofpmf)"),
]

#: Exceptions by code.
EXCEPTIONS: dict[int, Cause] = {c: Cause(c, False, n, d, t) for c, n, d, t in _EXC}
#: Interrupts by code (the code is also the interrupt's bit in mip/mie).
INTERRUPTS: dict[int, Cause] = {c: Cause(c, True, n, d, "0") for c, n, d in _IRQ}
#: Every cause, exceptions first.
CAUSES: tuple[Cause, ...] = tuple(EXCEPTIONS.values()) + tuple(INTERRUPTS.values())
#: Causes by name.
CAUSE_BY_NAME: dict[str, Cause] = {c.name: c for c in CAUSES}


def exception_code(name: str) -> int:
    """The code of the exception called ``name`` (``"illegal_instruction"`` -> 2).

    Everything else -- the machine's layout, the page walker, the hypervisor -- takes its
    cause numbers from here, so a name and its number are written exactly once."""
    return _named(EXCEPTIONS, name)


def interrupt_code(name: str) -> int:
    """The code of the interrupt called ``name``; also its bit number in mip/mie."""
    return _named(INTERRUPTS, name)


def _named(table: dict[int, Cause], name: str) -> int:
    for cause in table.values():
        if cause.name == name:
            return cause.code
    raise KeyError(f"no cause named {name!r}")


def cause_name(code: int, interrupt: bool = False) -> str:
    """The one name of a cause for counters, traces and widgets (the code if undefined)."""
    cause = (INTERRUPTS if interrupt else EXCEPTIONS).get(code)
    return cause.name if cause is not None else str(code)


def cause_of(mcause: int) -> Cause | None:
    """The cause an mcause/scause value describes, or None if the code is not defined."""
    table = INTERRUPTS if mcause & INTERRUPT_BIT else EXCEPTIONS
    return table.get(mcause & ~INTERRUPT_BIT)
