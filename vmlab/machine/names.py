"""Names for numbers: registers, CSRs, trap causes (for the Python API and statistics)."""
from __future__ import annotations

from vmlab.isa.registers import xreg
from vmlab.machine import layout as L
from vmlab.machine.errors import MachineError

CSR_NUMBERS: dict[str, int] = {
    "cycle": L.CYCLE, "time": L.TIME, "instret": L.INSTRET,
    "sstatus": L.SSTATUS, "sie": L.SIE, "stvec": L.STVEC, "scounteren": L.SCOUNTEREN,
    "senvcfg": L.SENVCFG, "sscratch": L.SSCRATCH, "sepc": L.SEPC, "scause": L.SCAUSE,
    "stval": L.STVAL, "sip": L.SIP, "stimecmp": L.STIMECMP, "satp": L.SATP,
    "mvendorid": L.MVENDORID, "marchid": L.MARCHID, "mimpid": L.MIMPID, "mhartid": L.MHARTID,
    "mconfigptr": L.MCONFIGPTR, "mstatus": L.MSTATUS, "misa": L.MISA, "medeleg": L.MEDELEG,
    "mideleg": L.MIDELEG, "mie": L.MIE, "mtvec": L.MTVEC, "mcounteren": L.MCOUNTEREN,
    "menvcfg": L.MENVCFG, "mcountinhibit": L.MCOUNTINHIBIT, "tselect": L.TSELECT,
    "tdata1": L.TDATA1, "tdata2": L.TDATA2, "tdata3": L.TDATA3, "tinfo": L.TINFO, "mscratch": L.MSCRATCH, "mepc": L.MEPC, "mcause": L.MCAUSE,
    "mtval": L.MTVAL, "mip": L.MIP, "mcycle": L.MCYCLE, "minstret": L.MINSTRET,
}
CSR_NUMBERS.update({f"pmpcfg{i}": L.PMPCFG0 + i for i in range(0, 16, 2)})
CSR_NUMBERS.update({f"pmpaddr{i}": L.PMPADDR0 + i for i in range(64)})

CAUSE_NAMES = {
    0: "instruction_misaligned", 1: "instruction_access_fault", 2: "illegal_instruction",
    3: "breakpoint", 4: "load_misaligned", 5: "load_access_fault", 6: "store_misaligned",
    7: "store_access_fault", 8: "ecall_u", 9: "ecall_s", 11: "ecall_m",
    12: "instruction_page_fault", 13: "load_page_fault", 15: "store_page_fault",
}
INTERRUPT_NAMES = {1: "s_software", 3: "m_software", 5: "s_timer", 7: "m_timer",
                   9: "s_external", 11: "m_external"}


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
