"""Control and status registers (CSRs): number, name, privilege, and field layouts.

A CSR number is 12 bits and carries two facts in its top bits (privileged spec 1.12, §2.1):

- bits 11:10 == ``0b11`` means the CSR is **read-only** (writing it is an illegal instruction);
- bits 9:8 give the **lowest privilege** that may access it (0 = U, 1 = S, 2 = HS/hypervisor,
  3 = M).  An access from below that level is an illegal instruction, which is how a
  hypervisor running its guest deprivileged gets to emulate the guest's CSR accesses.

So :attr:`Csr.priv` and :attr:`Csr.read_only` are computed from the number, never written down.

The table names every CSR the way ``objdump`` prints it, including the extensions binutils
knows (hypervisor, vector, debug, AIA, ...) and the RV32-only high halves (``cycleh``), because
a disassembler has to name them all even though vmlab's RV64 machine implements only some.
``ext`` says where each comes from; ``since``/``until`` say in which privileged-spec versions
binutils knows the name (an ELF built for spec 1.11 gets no names for CSRs added in 1.12).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vmlab.isa.causes import interrupt_code

#: privilege level names by the 2-bit code used in CSR numbers, mstatus.MPP and elsewhere
PRIV_NAMES = {0: "U", 1: "S", 2: "H", 3: "M"}


@dataclass(frozen=True)
class CsrField:
    """A named bit range of a CSR: bits ``lsb`` .. ``msb`` inclusive."""

    name: str
    msb: int
    lsb: int
    #: what the field does and what the hardware may do with writes (WARL/WPRI notes)
    note: str = ""

    @property
    def mask(self) -> int:
        return ((1 << (self.msb - self.lsb + 1)) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value & self.mask) >> self.lsb

    def set(self, value: int, x: int) -> int:
        return (value & ~self.mask) | ((x << self.lsb) & self.mask)


@dataclass(frozen=True)
class Csr:
    number: int
    name: str
    #: where the CSR is defined: "priv" (privileged spec), "unpriv" (counters, F), or an
    #: extension name ("H", "V", "Sdtrig", "Smaia", "Smstateen", "Sstc", "Zkr", ...)
    ext: str
    #: exists only on RV32 (the upper halves of 64-bit registers)
    rv32_only: bool = False
    #: privileged spec versions in which binutils names it (inclusive; None = open end)
    since: str = "1.10"
    until: str | None = None
    fields: tuple[CsrField, ...] = field(default=(), compare=False)

    @property
    def priv(self) -> int:
        """Lowest privilege level that may access the CSR (bits 9:8 of its number)."""
        return (self.number >> 8) & 3

    @property
    def read_only(self) -> bool:
        """Bits 11:10 == 0b11 mark a read-only CSR."""
        return (self.number >> 10) & 3 == 3

    def field(self, name: str) -> CsrField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    def unpack(self, value: int) -> dict[str, int]:
        """Each field's value in ``value`` (for showing a register in a widget)."""
        return {f.name: f.get(value) for f in self.fields}


def _fl(*specs: tuple) -> tuple[CsrField, ...]:
    """Fields from ``(name, msb, lsb, note)`` or ``(name, bit, note)`` tuples."""
    out = []
    for s in specs:
        if isinstance(s[2], int):
            out.append(CsrField(s[0], s[1], s[2], s[3] if len(s) > 3 else ""))
        else:
            out.append(CsrField(s[0], s[1], s[1], s[2]))
    return tuple(out)


# --- field layouts (RV64, privileged spec 1.12) -------------------------------------------------

#: mstatus; sstatus is a restricted view of the same register (its fields are a subset)
MSTATUS_FIELDS = _fl(
    ("SIE", 1, "S-mode interrupts enabled"),
    ("MIE", 3, "M-mode interrupts enabled"),
    ("SPIE", 5, "SIE before the last trap into S-mode"),
    ("UBE", 6, "U-mode data accesses are big-endian (WARL; 0 on little-endian harts)"),
    ("MPIE", 7, "MIE before the last trap into M-mode"),
    ("SPP", 8, "privilege before the last trap into S-mode (0 = U, 1 = S)"),
    ("VS", 10, 9, "vector unit state: Off/Initial/Clean/Dirty"),
    ("MPP", 12, 11, "privilege before the last trap into M-mode (WARL: 0 U, 1 S, 3 M)"),
    ("FS", 14, 13, "floating-point unit state: Off/Initial/Clean/Dirty (0 while F is absent)"),
    ("XS", 16, 15, "summary of other extensions' state (read-only)"),
    ("MPRV", 17, "loads and stores use the translation and protection of MPP"),
    ("SUM", 18, "S-mode may access U-mode pages"),
    ("MXR", 19, "loads from execute-only pages succeed"),
    ("TVM", 20, "trap S-mode satp accesses and sfence.vma (for hypervisors)"),
    ("TW", 21, "trap wfi in modes below M (after an implementation-defined time)"),
    ("TSR", 22, "trap sret in S-mode"),
    ("UXL", 33, 32, "XLEN of U-mode (WARL; 2 = 64 bits)"),
    ("SXL", 35, 34, "XLEN of S-mode (WARL; 2 = 64 bits)"),
    ("SBE", 36, "S-mode data accesses are big-endian (WARL)"),
    ("MBE", 37, "M-mode data accesses are big-endian (WARL)"),
    ("GVA", 38, "H: mtval holds a guest virtual address (set by the trap into M-mode)"),
    ("MPV", 39, "H: the virtualization mode V before the last trap into M-mode"),
    ("SD", 63, "some of FS/VS/XS is Dirty (read-only summary)"),
)
SSTATUS_FIELDS = tuple(f for f in MSTATUS_FIELDS
                       if f.name in ("SIE", "SPIE", "UBE", "SPP", "VS", "FS", "XS", "SUM", "MXR",
                                     "UXL", "SD"))

MISA_FIELDS = (CsrField("Extensions", 25, 0, "one bit per letter, A = bit 0 ... Z = bit 25 (WARL)"),
               CsrField("MXL", 63, 62, "native XLEN: 1 = 32, 2 = 64, 3 = 128 (WARL)"))

#: interrupt bits shared by mip/mie (pending/enabled) and mideleg; sip/sie see the S bits.
#: An interrupt's bit is its cause code (vmlab.isa.causes), so only the short names live here.
_INTERRUPT_BITS = tuple((short, interrupt_code(name), name.replace("_", " ") + " interrupt")
                        for short, name in (("SSI", "supervisor_software"),
                                            ("VSSI", "virtual_supervisor_software"),
                                            ("MSI", "machine_software"),
                                            ("STI", "supervisor_timer"),
                                            ("VSTI", "virtual_supervisor_timer"),
                                            ("MTI", "machine_timer"),
                                            ("SEI", "supervisor_external"),
                                            ("VSEI", "virtual_supervisor_external"),
                                            ("MEI", "machine_external"),
                                            ("SGEI", "supervisor_guest_external")))


def _irq_fields(prefix: str, only_s: bool = False, only_h: bool = False) -> tuple[CsrField, ...]:
    """Interrupt bits: all of them (mip/mie), the S ones (sip/sie, mideleg's writable bits) or
    the hypervisor's (hip/hie/hideleg/hvip: VS software, timer, external and guest external)."""
    return tuple(CsrField(prefix + name, bit, bit, note) for name, bit, note in _INTERRUPT_BITS
                 if (not only_s or name[0] == "S" and name != "SGEI")
                 and (not only_h or name.startswith("VS") or name == "SGEI"))


def _tvec_fields():
    return _fl(("MODE", 1, 0, "0 = Direct (all traps to BASE), 1 = Vectored (interrupts to "
                              "BASE + 4 x cause); WARL"),
               ("BASE", 63, 2, "trap vector base address, 4-byte aligned (WARL)"))


def _cause_fields():
    return _fl(("Code", 62, 0, "exception or interrupt code (WLRL); see vmlab.isa.causes"),
               ("Interrupt", 63, "1 = interrupt, 0 = exception"))


def _counteren_fields():
    return _fl(("CY", 0, "lower privilege may read cycle"),
               ("TM", 1, "lower privilege may read time"),
               ("IR", 2, "lower privilege may read instret"),
               ("HPM", 31, 3, "lower privilege may read hpmcounter3..31 (one bit each)"))


SATP_FIELDS = _fl(("PPN", 43, 0, "physical page number of the root page table"),
                  ("ASID", 59, 44, "address-space identifier (WARL: may have fewer bits)"),
                  ("MODE", 63, 60, "0 = Bare (no translation), 8 = Sv39, 9 = Sv48, 10 = Sv57 "
                                   "(WARL: unsupported values leave satp unchanged)"))

_ENVCFG_COMMON = (("FIOM", 0, "fence of I/O implies memory (WARL)"),
                  ("CBIE", 5, 4, "cbo.inval behaviour (Zicbom; WARL)"),
                  ("CBCFE", 6, "cbo.clean/flush enabled (Zicbom)"),
                  ("CBZE", 7, "cbo.zero enabled (Zicboz)"))
SENVCFG_FIELDS = _fl(*_ENVCFG_COMMON)
MENVCFG_FIELDS = _fl(*_ENVCFG_COMMON,
                     ("PBMTE", 62, "Svpbmt page-based memory types enabled for S/U"),
                     ("STCE", 63, "Sstc stimecmp enabled for S-mode"))

#: hstatus (H extension, RV64): the hypervisor's view of the guest it runs
HSTATUS_FIELDS = _fl(
    ("VSBE", 5, "VS-mode data accesses are big-endian (WARL; 0 here)"),
    ("GVA", 6, "stval holds a guest virtual address (set by a trap into HS-mode)"),
    ("SPV", 7, "V before the last trap into HS-mode: sret returns into the guest if set"),
    ("SPVP", 8, "the guest's privilege at that trap (0 VU, 1 VS); HLV/HSV use it"),
    ("HU", 9, "U-mode may execute HLV/HLVX/HSV"),
    ("VGEIN", 17, 12, "which guest external interrupt is VS-level external (WLRL: 0..GEILEN)"),
    ("VTVM", 20, "trap VS-mode satp accesses and sfence.vma (virtual instruction)"),
    ("VTW", 21, "trap VS-mode wfi (virtual instruction)"),
    ("VTSR", 22, "trap VS-mode sret (virtual instruction)"),
    ("VSXL", 33, 32, "XLEN of VS-mode (WARL; 2 = 64 bits)"),
)
#: vsstatus: sstatus's layout, for the guest's own supervisor
VSSTATUS_FIELDS = SSTATUS_FIELDS

#: hgatp: the G-stage (guest-physical -> host-physical) root, like satp with a VMID for an ASID
HGATP_FIELDS = _fl(("PPN", 43, 0, "physical page number of the 16 KiB root table (bits 1:0 "
                                  "read as zero)"),
                   ("VMID", 57, 44, "virtual-machine identifier (WARL: may have fewer bits)"),
                   ("MODE", 63, 60, "0 = Bare (no G-stage), 8 = Sv39x4, 9 = Sv48x4, 10 = Sv57x4 "
                                    "(WARL)"))

#: one pmpcfg byte (pmpcfg0 holds entries 0..7 on RV64, one byte each; odd pmpcfgN don't exist)
PMPCFG_ENTRY_FIELDS = _fl(("R", 0, "readable"), ("W", 1, "writable (R=0,W=1 is reserved)"),
                          ("X", 2, "executable"),
                          ("A", 4, 3, "address matching: 0 OFF, 1 TOR, 2 NA4, 3 NAPOT"),
                          ("L", 7, "locked: applies to M-mode too, writes ignored until reset"))


def _pmpcfg_fields():
    return tuple(CsrField(f"pmp{i}cfg", 8 * i + 7, 8 * i, "see PMPCFG_ENTRY_FIELDS")
                 for i in range(8))

#: the accrued exception flags: fflags is bits 4:0 of fcsr, and a CSR of its own
FFLAGS_FIELDS = _fl(
    ("NX", 0, "inexact: the result was rounded"),
    ("UF", 1, "underflow: tiny and inexact"),
    ("OF", 2, "overflow: too large for the format after rounding"),
    ("DZ", 3, "divide by zero: an exact infinity from finite operands"),
    ("NV", 4, "invalid operation: no useful result (the canonical NaN, or a saturated integer)"),
)
FCSR_FIELDS = (*FFLAGS_FIELDS,
               CsrField("frm", 7, 5, "dynamic rounding mode (the rm values; 5-7 reserved)"))
FRM_FIELDS = (CsrField("frm", 2, 0, "dynamic rounding mode (the rm values; 5-7 reserved)"),)

_FIELD_LAYOUTS = {
    "fflags": FFLAGS_FIELDS, "fcsr": FCSR_FIELDS, "frm": FRM_FIELDS,
    "mstatus": MSTATUS_FIELDS, "sstatus": SSTATUS_FIELDS, "misa": MISA_FIELDS,
    "medeleg": tuple(CsrField(f"E{c}", c, c, f"delegate exception code {c} to S-mode")
                     for c in range(16) if c not in (10, 11, 14)),
    "mideleg": _irq_fields("", only_s=True),
    "mie": _irq_fields(""), "mip": _irq_fields(""),
    "sie": _irq_fields("", only_s=True), "sip": _irq_fields("", only_s=True),
    "mtvec": _tvec_fields(), "stvec": _tvec_fields(),
    "mcause": _cause_fields(), "scause": _cause_fields(),
    "mcounteren": _counteren_fields(), "scounteren": _counteren_fields(),
    "satp": SATP_FIELDS, "menvcfg": MENVCFG_FIELDS, "senvcfg": SENVCFG_FIELDS,
    # the hypervisor extension's CSRs
    "hstatus": HSTATUS_FIELDS, "vsstatus": VSSTATUS_FIELDS, "hgatp": HGATP_FIELDS,
    "vsatp": SATP_FIELDS,
    "hedeleg": tuple(CsrField(f"E{c}", c, c, f"delegate exception code {c} to VS-mode")
                     for c in range(16) if c not in (9, 10, 11, 14)),
    "hideleg": _irq_fields("", only_h=True)[:3],
    "hie": _irq_fields("", only_h=True), "hip": _irq_fields("", only_h=True),
    "hvip": _irq_fields("", only_h=True)[:3],
    "vsie": _irq_fields("", only_s=True), "vsip": _irq_fields("", only_s=True),
    "vstvec": _tvec_fields(), "vscause": _cause_fields(),
    "hcounteren": _counteren_fields(),
    "henvcfg": _fl(*_ENVCFG_COMMON,
                   ("PBMTE", 62, "Svpbmt page-based memory types enabled for VS/VU"),
                   ("STCE", 63, "Sstc vstimecmp enabled for VS-mode")),
}


# --- the CSRs ---------------------------------------------------------------------------------

def _csr_list() -> list[Csr]:
    rows: list[Csr] = []

    def add(number, name, ext="priv", **kw):
        fields = _FIELD_LAYOUTS.get(name, ())
        if name.startswith("pmpcfg"):
            fields = _pmpcfg_fields()
        rows.append(Csr(number, name, ext, fields=fields, **kw))

    def add_rv32_high(number, name, ext="priv", **kw):
        add(number, name, ext, rv32_only=True, **kw)

    # Unprivileged: floating point, counters, vector, entropy source.
    add(0x001, "fflags", "F"), add(0x002, "frm", "F"), add(0x003, "fcsr", "F")
    for n, name in [(0x008, "vstart"), (0x009, "vxsat"), (0x00A, "vxrm"), (0x00F, "vcsr"),
                    (0xC20, "vl"), (0xC21, "vtype"), (0xC22, "vlenb")]:
        add(n, name, "V")
    add(0x015, "seed", "Zkr")
    for i, name in enumerate(["cycle", "time", "instret"]):
        add(0xC00 + i, name, "unpriv")
        add_rv32_high(0xC80 + i, name + "h", "unpriv")
    for i in range(3, 32):
        add(0xC00 + i, f"hpmcounter{i}", "unpriv")
        add_rv32_high(0xC80 + i, f"hpmcounter{i}h", "unpriv")

    # User-level trap CSRs of the N extension: dropped from privileged spec 1.12.
    for n, name in [(0x000, "ustatus"), (0x004, "uie"), (0x005, "utvec"), (0x040, "uscratch"),
                    (0x041, "uepc"), (0x042, "ucause"), (0x043, "utval"), (0x044, "uip")]:
        add(n, name, "N", until="1.11")

    # Supervisor.
    for n, name in [(0x100, "sstatus"), (0x104, "sie"), (0x105, "stvec"), (0x106, "scounteren"),
                    (0x140, "sscratch"), (0x141, "sepc"), (0x142, "scause"), (0x143, "stval"),
                    (0x144, "sip"), (0x180, "satp")]:
        add(n, name)
    add(0x102, "sedeleg", until="1.11"), add(0x103, "sideleg", until="1.11")
    add(0x10A, "senvcfg", since="1.12")
    add(0x5A8, "scontext", "Sdtrig")
    add(0x14D, "stimecmp", "Sstc"), add_rv32_high(0x15D, "stimecmph", "Sstc")
    add(0xDA0, "scountovf", "Sscofpmf")

    # Machine.
    for n, name in [(0xF11, "mvendorid"), (0xF12, "marchid"), (0xF13, "mimpid"),
                    (0xF14, "mhartid"),
                    (0x300, "mstatus"), (0x301, "misa"), (0x302, "medeleg"), (0x303, "mideleg"),
                    (0x304, "mie"), (0x305, "mtvec"), (0x306, "mcounteren"),
                    (0x340, "mscratch"), (0x341, "mepc"), (0x342, "mcause"), (0x343, "mtval"),
                    (0x344, "mip"), (0x320, "mcountinhibit"),
                    (0xB00, "mcycle"), (0xB02, "minstret")]:
        add(n, name)
    add(0xF15, "mconfigptr", since="1.12")
    add(0x30A, "menvcfg", since="1.12"), add_rv32_high(0x31A, "menvcfgh", since="1.12")
    add_rv32_high(0x310, "mstatush", since="1.12")
    add(0x34A, "mtinst", "H", since="1.12"), add(0x34B, "mtval2", "H", since="1.12")
    add(0x747, "mseccfg", since="1.12"), add_rv32_high(0x757, "mseccfgh", since="1.12")
    add_rv32_high(0xB80, "mcycleh"), add_rv32_high(0xB82, "minstreth")
    for i in range(3, 32):
        add(0xB00 + i, f"mhpmcounter{i}")
        add_rv32_high(0xB80 + i, f"mhpmcounter{i}h")
        add(0x320 + i, f"mhpmevent{i}")
        add_rv32_high(0x720 + i, f"mhpmevent{i}h", "Sscofpmf")
    # Physical memory protection: RV64 uses only the even pmpcfg registers, but the names of
    # all sixteen exist (and objdump prints them).  Before spec 1.12 there were 16 entries.
    for i in range(16):
        add(0x3A0 + i, f"pmpcfg{i}", since="1.10" if i < 4 else "1.12")
    for i in range(64):
        add(0x3B0 + i, f"pmpaddr{i}", since="1.10" if i < 16 else "1.12")

    # Debug and trigger module.
    for n, name in [(0x7A0, "tselect"), (0x7A1, "tdata1"), (0x7A2, "tdata2"), (0x7A3, "tdata3"),
                    (0x7A4, "tinfo"), (0x7A5, "tcontrol"), (0x7A8, "mcontext"),
                    (0x7AA, "mscontext")]:
        add(n, name, "Sdtrig")
    for n, name in [(0x7B0, "dcsr"), (0x7B1, "dpc"), (0x7B2, "dscratch0"), (0x7B3, "dscratch1")]:
        add(n, name, "Sdext")

    # Hypervisor extension and its virtual-supervisor copies.
    for n, name in [(0x600, "hstatus"), (0x602, "hedeleg"), (0x603, "hideleg"), (0x604, "hie"),
                    (0x605, "htimedelta"), (0x606, "hcounteren"), (0x607, "hgeie"),
                    (0x643, "htval"), (0x644, "hip"), (0x645, "hvip"), (0x64A, "htinst"),
                    (0x680, "hgatp"), (0x6A8, "hcontext"), (0xE12, "hgeip"),
                    (0x200, "vsstatus"), (0x204, "vsie"), (0x205, "vstvec"),
                    (0x240, "vsscratch"), (0x241, "vsepc"), (0x242, "vscause"),
                    (0x243, "vstval"), (0x244, "vsip"), (0x280, "vsatp")]:
        add(n, name, "H")
    add(0x60A, "henvcfg", "H"), add_rv32_high(0x61A, "henvcfgh", "H")
    add_rv32_high(0x615, "htimedeltah", "H")
    add(0x24D, "vstimecmp", "Sstc"), add_rv32_high(0x25D, "vstimecmph", "Sstc")

    # State enable (Smstateen).
    for i in range(4):
        add(0x30C + i, f"mstateen{i}", "Smstateen")
        add_rv32_high(0x31C + i, f"mstateen{i}h", "Smstateen")
        add(0x10C + i, f"sstateen{i}", "Smstateen")
        add(0x60C + i, f"hstateen{i}", "Smstateen")
        add_rv32_high(0x61C + i, f"hstateen{i}h", "Smstateen")

    # Advanced interrupt architecture (Smaia/Ssaia).
    for n, name in [(0x350, "miselect"), (0x351, "mireg"), (0x35C, "mtopei"), (0xFB0, "mtopi"),
                    (0x308, "mvien"), (0x309, "mvip"),
                    (0x150, "siselect"), (0x151, "sireg"), (0x15C, "stopei"), (0xDB0, "stopi"),
                    (0x608, "hvien"), (0x609, "hvictl"), (0x646, "hviprio1"),
                    (0x647, "hviprio2"),
                    (0x250, "vsiselect"), (0x251, "vsireg"), (0x25C, "vstopei"),
                    (0xEB0, "vstopi")]:
        add(n, name, "Smaia")
    for n, name in [(0x313, "midelegh"), (0x314, "mieh"), (0x318, "mvienh"), (0x319, "mviph"),
                    (0x354, "miph"), (0x114, "sieh"), (0x154, "siph"), (0x613, "hidelegh"),
                    (0x618, "hvienh"), (0x655, "hviph"), (0x656, "hviprio1h"),
                    (0x657, "hviprio2h"), (0x214, "vsieh"), (0x254, "vsiph")]:
        add_rv32_high(n, name, "Smaia")
    return rows


#: Every CSR, in number order.
CSRS: tuple[Csr, ...] = tuple(sorted(_csr_list(), key=lambda c: c.number))
#: CSRs by name (``"mstatus"``) and by number.
CSR_BY_NAME: dict[str, Csr] = {c.name: c for c in CSRS}
CSR_BY_NUMBER: dict[int, Csr] = {c.number: c for c in CSRS}


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def csr_name(number: int, priv_spec: str = "1.12") -> str | None:
    """The name objdump prints for CSR ``number`` under privileged spec ``priv_spec``, or None.

    Names of CSRs that spec version does not define are not printed (the number is).
    """
    c = CSR_BY_NUMBER.get(number)
    if c is None:
        return None
    v = _version(priv_spec)
    if v < _version(c.since) or (c.until is not None and v > _version(c.until)):
        return None
    return c.name


def csr_number(name: str) -> int | None:
    """The number of the CSR called ``name`` (any spec version), or None."""
    c = CSR_BY_NAME.get(name.lower())
    return None if c is None else c.number


def field_mask(csr: str, name: str) -> int:
    """The bits of field ``name`` of CSR ``csr`` (``field_mask("mstatus", "MPP")`` -> 0x1800)."""
    return CSR_BY_NAME[csr].field(name).mask


def field_shift(csr: str, name: str) -> int:
    """The lowest bit of field ``name`` of CSR ``csr``."""
    return CSR_BY_NAME[csr].field(name).lsb


def number_of(name: str) -> int:
    """The number of CSR ``name``; a KeyError for a name the table lacks (for constants)."""
    return CSR_BY_NAME[name].number
