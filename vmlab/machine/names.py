"""Names for numbers: registers, CSRs, trap causes (for the Python API and statistics)."""
from __future__ import annotations

from vmlab.isa.causes import EXCEPTIONS, INTERRUPTS
from vmlab.isa.csrs import CSRS
from vmlab.isa.registers import xreg
from vmlab.machine.errors import MachineError

#: every CSR an RV64 hart can name (the RV32-only high halves are not registers here); the
#: machine reads the ones it does not implement as the spec lets it (0, or illegal)
CSR_NUMBERS: dict[str, int] = {c.name: c.number for c in CSRS if not c.rv32_only}

#: the one vocabulary of cause names (vmlab.isa.causes), by code: counters and traces use it
CAUSE_NAMES: dict[int, str] = {code: c.name for code, c in EXCEPTIONS.items()}
INTERRUPT_NAMES: dict[int, str] = {code: c.name for code, c in INTERRUPTS.items()}


def reg_number(name) -> int:
    """x-register number from an int, ``"a0"``, ``"x10"`` or ``"fp"``."""
    if isinstance(name, int):
        if 0 <= name < 32:
            return name
    else:
        n = xreg(str(name))
        if n is not None:
            return n
    raise MachineError(f"no register {name!r}")


def csr_number(name) -> int:
    """CSR number from an int or a name such as ``"mstatus"``."""
    if isinstance(name, int):
        if 0 <= name < 4096:
            return name
    elif str(name).lower() in CSR_NUMBERS:
        return CSR_NUMBERS[str(name).lower()]
    raise MachineError(f"no CSR {name!r}")
