"""Where every piece of machine state lives in the few numpy arrays the jitted code takes.

The machine is six arrays, so that a call from Python into compiled code stays cheap and a
snapshot is just "save the arrays"::

    cpu  int64[harts, CPU_WORDS]   per hart: CSRs indexed by their number (cpu[h, 0x300] is
                                   mstatus), then x0..x31, pc, privilege, a few flags,
                                   and f0..f31
    mem  uint8[ram_size]           RAM, physical address RAM_BASE + i
    tlb  int64[harts, 3, TLB_SETS, 4]   per hart and access kind (fetch/load/store):
                                   (tag, physical page, flags, spare)
    dev  int64[DEV_WORDS]          device registers: time, CLINT, UART, PLIC, test, HTIF
    io   uint8[IO_BYTES]           UART/HTIF output ring and input ring
    ctl  int64[CTL_WORDS]          run control: budget, exit reason and details, counters,
                                   breakpoints

Everything is int64 (two's complement), never uint64: numba turns mixed signed/unsigned
arithmetic into floats, which would be both slow and wrong.
"""
from __future__ import annotations

import numpy as np

from vmlab.isa.causes import exception_code, interrupt_code
from vmlab.isa.csrs import field_mask, field_shift, number_of
# The board's memory map has its own module (with a drawing); re-exported for L.UART_BASE etc.
from vmlab.machine.memmap import (  # noqa: F401
    CLINT_BASE, CLINT_SIZE, PLIC_BASE, PLIC_SIZE, PLIC_SOURCES, RAM_BASE, TEST_BASE, TEST_SIZE,
    UART_BASE, UART_IRQ, UART_SIZE, VIRTIO_BASE, VIRTIO_IRQ, VIRTIO_SIZE,
)

MAX_HARTS = 8

# ----------------------------------------------------------------------------------------
# cpu[h, :] -- CSRs by number, then the integer registers and hart-private state.
# ----------------------------------------------------------------------------------------
# CSR numbers come from the one table (vmlab.isa.csrs).  They are plain ints here, module
# globals, which numba folds into the compiled code as constants: taking them from the table
# costs nothing at run time.
(USTATUS, FFLAGS, FRM, FCSR, CYCLE, TIME, INSTRET,
 SSTATUS, SIE, STVEC, SCOUNTEREN, SENVCFG, SSCRATCH, SEPC, SCAUSE, STVAL, SIP, STIMECMP, SATP,
 MVENDORID, MARCHID, MIMPID, MHARTID, MCONFIGPTR,
 MSTATUS, MISA, MEDELEG, MIDELEG, MIE, MTVEC, MCOUNTEREN, MENVCFG, MCOUNTINHIBIT,
 MSCRATCH, MEPC, MCAUSE, MTVAL, MIP, PMPCFG0, PMPADDR0, MCYCLE, MINSTRET,
 TSELECT, TDATA1, TDATA2, TDATA3, TINFO) = (number_of(n) for n in (
    "ustatus", "fflags", "frm", "fcsr", "cycle", "time", "instret",
    "sstatus", "sie", "stvec", "scounteren", "senvcfg", "sscratch", "sepc", "scause", "stval",
    "sip", "stimecmp", "satp",
    "mvendorid", "marchid", "mimpid", "mhartid", "mconfigptr",
    "mstatus", "misa", "medeleg", "mideleg", "mie", "mtvec", "mcounteren", "menvcfg",
    "mcountinhibit", "mscratch", "mepc", "mcause", "mtval", "mip", "pmpcfg0", "pmpaddr0",
    "mcycle", "minstret", "tselect", "tdata1", "tdata2", "tdata3", "tinfo"))
# the hypervisor extension's CSRs, and the VS copies that stand in for the S CSRs when V=1
(HSTATUS, HEDELEG, HIDELEG, HIE, HTIMEDELTA, HCOUNTEREN, HGEIE, HTVAL, HIP, HVIP, HTINST,
 HGATP, HENVCFG, HGEIP, VSSTATUS, VSIE, VSTVEC, VSSCRATCH, VSEPC, VSCAUSE, VSTVAL, VSIP, VSATP,
 MTVAL2, MTINST) = (number_of(n) for n in (
    "hstatus", "hedeleg", "hideleg", "hie", "htimedelta", "hcounteren", "hgeie", "htval", "hip",
    "hvip", "htinst", "hgatp", "henvcfg", "hgeip", "vsstatus", "vsie", "vstvec", "vsscratch",
    "vsepc", "vscause", "vstval", "vsip", "vsatp", "mtval2", "mtinst"))
VSTIMECMP = number_of("vstimecmp")   # Sstc for guests: the timer a guest's stimecmp means

XREG = 4096            # cpu[h, XREG + i] is register xi
PC = XREG + 32
PRIV = PC + 1          # 0 = U, 1 = S, 3 = M
RES_ADDR = PC + 2      # LR reservation: physical address, or -1 for none
WAITING = PC + 3       # 1 while stopped in wfi
HWIP = PC + 4          # mip bits driven by devices (MTIP, MSIP, MEIP, SEIP, STIP via Sstc)
VIRT = PC + 5          # the H extension's virtualization mode V: 1 while a guest runs (VS/VU)
# cpu[h, FREG + i] is register fi as its raw 64-bit pattern (a single is NaN-boxed in it);
# fflags/frm/fcsr live in the CSR slots above.  (Reserved: the hart has no F/D yet.)
FREG = PC + 8
CPU_WORDS = FREG + 32

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3

# mstatus fields (masks; MPP's shift too), from the field layout in vmlab.isa.csrs
(MS_SIE, MS_MIE, MS_SPIE, MS_MPIE, MS_SPP, MS_MPP, MS_MPRV, MS_SUM, MS_MXR,
 MS_TVM, MS_TW, MS_TSR) = (field_mask("mstatus", f) for f in (
    "SIE", "MIE", "SPIE", "MPIE", "SPP", "MPP", "MPRV", "SUM", "MXR", "TVM", "TW", "TSR"))
MS_MPP_SHIFT = field_shift("mstatus", "MPP")
MS_GVA, MS_MPV = field_mask("mstatus", "GVA"), field_mask("mstatus", "MPV")
# hstatus fields (masks)
(HS_GVA, HS_SPV, HS_SPVP, HS_HU, HS_VTVM, HS_VTW, HS_VTSR) = (field_mask("hstatus", f) for f in (
    "GVA", "SPV", "SPVP", "HU", "VTVM", "VTW", "VTSR"))
HS_VSXL = 2 << field_shift("hstatus", "VSXL")     # VS-mode XLEN 64, read-only
# XLEN 64 in U and S, read-only: the value 2 in UXL and SXL
MS_UXL_SXL = (2 << field_shift("mstatus", "UXL")) | (2 << field_shift("mstatus", "SXL"))

# interrupt numbers (= their bit in mip/mie) and the bits themselves
IRQ_SSI, IRQ_MSI, IRQ_STI, IRQ_MTI, IRQ_SEI, IRQ_MEI = (interrupt_code(n) for n in (
    "supervisor_software", "machine_software", "supervisor_timer", "machine_timer",
    "supervisor_external", "machine_external"))
MIP_SSIP, MIP_MSIP = 1 << IRQ_SSI, 1 << IRQ_MSI
MIP_STIP, MIP_MTIP = 1 << IRQ_STI, 1 << IRQ_MTI
MIP_SEIP, MIP_MEIP = 1 << IRQ_SEI, 1 << IRQ_MEI
IRQ_VSSI, IRQ_VSTI, IRQ_VSEI, IRQ_SGEI = (interrupt_code(n) for n in (
    "virtual_supervisor_software", "virtual_supervisor_timer", "virtual_supervisor_external",
    "supervisor_guest_external"))
MIP_VSSIP, MIP_VSTIP, MIP_VSEIP = 1 << IRQ_VSSI, 1 << IRQ_VSTI, 1 << IRQ_VSEI
MIP_VS_BITS = MIP_VSSIP | MIP_VSTIP | MIP_VSEIP   # the VS-level interrupts (hvip, hideleg)

# exception causes (the names the rest of the machine has always used for them)
(CAUSE_MISALIGNED_FETCH, CAUSE_FETCH_ACCESS, CAUSE_ILLEGAL, CAUSE_BREAKPOINT,
 CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS,
 CAUSE_ECALL_U, CAUSE_ECALL_S, CAUSE_ECALL_M,
 CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE) = (exception_code(n) for n in (
    "misaligned_fetch", "fetch_access", "illegal_instruction", "breakpoint",
    "misaligned_load", "load_access", "misaligned_store", "store_access",
    "user_ecall", "supervisor_ecall", "machine_ecall",
    "fetch_page_fault", "load_page_fault", "store_page_fault"))
(CAUSE_ECALL_VS, CAUSE_FETCH_GUEST_PAGE, CAUSE_LOAD_GUEST_PAGE, CAUSE_VIRTUAL,
 CAUSE_STORE_GUEST_PAGE) = (exception_code(n) for n in (
    "virtual_supervisor_ecall", "fetch_guest_page_fault", "load_guest_page_fault",
    "virtual_instruction", "store_guest_page_fault"))

# ----------------------------------------------------------------------------------------
# tlb[h, kind, set, :]
# ----------------------------------------------------------------------------------------
# numpy scalars, not Python ints: numba would compile a separate copy of every function
# that takes one of these for each *literal* value passed.
ACC_FETCH, ACC_LOAD, ACC_STORE = np.int64(0), np.int64(1), np.int64(2)
TLB_SETS = 64
TLB_TAG, TLB_PPAGE, TLB_FLAGS, TLB_CTX = 0, 1, 2, 3  # TLB_CTX: context the entry was filled in
TLB_COLS = 4
TLB_GLOBAL = 1         # flag: the PTE had G set
TLB_EMPTY = 1 << 62    # a tag no lookup can produce (va >> 12 stays within +-2**51)

# ----------------------------------------------------------------------------------------
# dev[:] -- device registers
# ----------------------------------------------------------------------------------------
D_TICKS = 0            # simulated time in ns at the start of the current round
D_MTIMECMP = 8         # 8 harts
D_MSIP = 16            # 8 harts
# UART 16550
D_UART = 32
U_IER, U_LCR, U_MCR, U_LSR_EXTRA, U_SCR, U_DLL, U_DLM, U_FCR, U_THRE_IP = range(D_UART, D_UART + 9)
# PLIC
D_PLIC = 64
P_PRIO = D_PLIC                  # 32 priorities
P_PENDING = D_PLIC + 32          # bitmap of pending sources
P_CLAIMED = D_PLIC + 33          # bitmap of sources claimed and not yet completed
P_LEVEL = D_PLIC + 34            # bitmap of wire levels as the devices drive them
P_ENABLE = D_PLIC + 40           # 2 * MAX_HARTS context enable bitmaps
P_THRESHOLD = P_ENABLE + 2 * MAX_HARTS
D_TEST_STATUS = 160    # last sifive_test/HTIF exit status
D_TOHOST, D_FROMHOST = 161, 162  # physical addresses, 0 when the ELF has none
DEV_WORDS = 192

# io[:] -- output ring (guest -> host) then input ring (host -> guest); heads/tails in ctl
OUT_BYTES = 1 << 16
IN_BYTES = 1 << 12
IO_BYTES = OUT_BYTES + IN_BYTES

# ----------------------------------------------------------------------------------------
# ctl[:] -- run control and counters
# ----------------------------------------------------------------------------------------
C_RAM_BASE, C_RAM_SIZE, C_HARTS = 0, 1, 2
C_BUDGET = 3           # instructions left in this call
C_EXIT = 4             # exit reason of the last run call (EXIT_*)
C_EXIT_ARG = 5         # detail: halt status, MMIO address, ...
C_CUR_HART = 6         # hart whose slice is running
C_SLICE_POS = 7        # instructions the current hart has done in its slice
C_OUT_HEAD, C_OUT_TAIL = 8, 9    # output ring: guest writes at head, host reads at tail
C_IN_HEAD, C_IN_TAIL = 10, 11    # input ring: host writes at head, guest reads at tail
C_FLAGS = 12           # F_* bits
C_MMIO_ADDR, C_MMIO_SIZE, C_MMIO_WRITE, C_MMIO_VALUE, C_MMIO_RD, C_MMIO_SIGNED = range(13, 19)
C_SKIP_BP = 19         # 1: do not stop at a breakpoint on the first instruction
C_NBP = 20             # number of breakpoints
C_FAULT, C_FAULT_TVAL = 21, 22  # a slow memory path's exception (cause, or -1) and tval
C_SYS_INSN = 23        # a SYSTEM instruction the hot loop left for exec_system (| length << 32)
C_BP = 24              # 32 breakpoint addresses
MAX_BP = 32
C_SLICE_LEN = 60       # instructions per hart turn (SLICE with several harts, more with one)
# counters
C_INSTRET = 64         # instructions retired, all harts
C_TLB_HIT, C_TLB_MISS = 65, 66
C_MMIO = 67            # device accesses
C_IDLE_NS = 68         # simulated time skipped in wfi
C_WALK_REFS = 69       # page-table entries the MMU read in its walks (refs per walk = this / misses)
C_QUIRKS = 70          # Q_* bits: deliberate departures from the spec, for the labs (0: none)
C_EXC = 80             # 16 exception causes
C_INT = 96             # 16 interrupt causes
# hypervisor mode (F_TRAP_EXIT): the trap the hart stopped at instead of taking it
C_TRAP_CAUSE, C_TRAP_TVAL, C_TRAP_PC, C_TRAP_IRQ = 112, 113, 114, 115
# the H extension: the guest-physical address of the last guest-page fault (htval/mtval2 get
# it >> 2), and each hart's hgatp as the page walk reads it (the walk gets no CSR row)
C_FAULT_GPA = 116
C_HGATP = 117          # 8 harts: 117..124
C_FAULT_TINST = 126    # what htinst/mtinst get for that fault: 0, or the pseudoinstruction of a
                       # VS-stage table read (0x3000: a 64-bit load, as the spec's table says)
C_GUEST_VA = 125       # 1: the fault waiting in C_FAULT came from HLV/HLVX/HSV (tval is a GVA)
C_EXC_H = 128          # exception causes 16..23 (the H extension's 20-23), as C_EXC counts 0..15
C_VSATP = 136          # 8 harts: each hart's vsatp as the guest's walk reads it (atomics, FP
                       # and the loads' slow paths pass satp, the host's; a guest's is here)
CTL_WORDS = 144

F_EXIT_ON_OUTPUT = 1   # return to Python after each byte of console output
F_TRAP_EXIT = 2        # hypervisor mode: a trap is not taken but returned (EXIT_TRAP)

# quirks (ctl[C_QUIRKS]): the Popek-Goldberg lab's non-virtualizable hart
Q_SENSITIVE_READ = 1   # U-mode `csrr rd, sstatus` returns the real sstatus instead of trapping

# exit reasons of the jitted run loop
EXIT_NONE = -1         # (no exit requested yet)
EXIT_BUDGET = 0        # instruction budget spent
EXIT_BREAKPOINT = 1    # pc hit a breakpoint (not executed yet)
EXIT_HALT = 2          # sifive_test or HTIF asked to stop; status in C_EXIT_ARG
EXIT_MMIO = 3          # access to a device modelled in Python (details in C_MMIO_*)
EXIT_OUTPUT = 4        # console output produced (with F_EXIT_ON_OUTPUT) or ring full
EXIT_IDLE = 5          # every hart waits in wfi and no timer is armed
EXIT_RESET = 6         # sifive_test asked for a reset
EXIT_TRAP = 7          # F_TRAP_EXIT: the hart trapped; cause, tval, pc in C_TRAP_*

SLICE = 1024           # instructions a hart runs before the next hart's turn
SLICE_SINGLE = 1 << 16 # with one hart, turns only bound how often time and timers are looked at


def trap_counter(cause: int, interrupt: bool) -> int:
    """The ctl slot that counts traps of ``cause`` (as vmlab.machine.trap.count_trap does in
    the run loop): interrupts in C_INT, exceptions 0-15 in C_EXC, 16-23 in C_EXC_H."""
    if interrupt:
        return C_INT + (cause & 15)
    return C_EXC + cause if cause < 16 else C_EXC_H + (cause & 7)


#: every exception cause the run loop counts (0-15 in C_EXC, 16-23 in C_EXC_H)
COUNTED_EXCEPTIONS = range(24)
