"""Where every piece of machine state lives in the few numpy arrays the jitted code takes.

The machine is six arrays, so that a call from Python into compiled code stays cheap and a
snapshot is just "save the arrays"::

    cpu  int64[harts, CPU_WORDS]   per hart: CSRs indexed by their number (cpu[h, 0x300] is
                                   mstatus), then x0..x31, pc, privilege and a few flags
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

RAM_BASE = 0x8000_0000
MAX_HARTS = 8

# ----------------------------------------------------------------------------------------
# Physical memory map of the virt board (base, size) -- QEMU's addresses.
# ----------------------------------------------------------------------------------------
TEST_BASE, TEST_SIZE = 0x10_0000, 0x1000
CLINT_BASE, CLINT_SIZE = 0x200_0000, 0x1_0000
PLIC_BASE, PLIC_SIZE = 0xC00_0000, 0x60_0000
UART_BASE, UART_SIZE = 0x1000_0000, 0x100
VIRTIO_BASE, VIRTIO_SIZE = 0x1000_1000, 0x1000
UART_IRQ, VIRTIO_IRQ = 10, 1
PLIC_SOURCES = 32          # source 0 means "none"; 1..31 are wires

# ----------------------------------------------------------------------------------------
# cpu[h, :] -- CSRs by number, then the integer registers and hart-private state.
# ----------------------------------------------------------------------------------------
# CSR numbers (privileged spec 1.12).
USTATUS = 0x000  # (unused: no N extension)
FFLAGS, FRM, FCSR = 0x001, 0x002, 0x003
CYCLE, TIME, INSTRET = 0xC00, 0xC01, 0xC02
SSTATUS, SIE, STVEC, SCOUNTEREN = 0x100, 0x104, 0x105, 0x106
SENVCFG = 0x10A
SSCRATCH, SEPC, SCAUSE, STVAL, SIP = 0x140, 0x141, 0x142, 0x143, 0x144
STIMECMP = 0x14D
SATP = 0x180
MVENDORID, MARCHID, MIMPID, MHARTID, MCONFIGPTR = 0xF11, 0xF12, 0xF13, 0xF14, 0xF15
MSTATUS, MISA, MEDELEG, MIDELEG, MIE, MTVEC, MCOUNTEREN = 0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x306
MENVCFG = 0x30A
MCOUNTINHIBIT = 0x320
MSCRATCH, MEPC, MCAUSE, MTVAL, MIP = 0x340, 0x341, 0x342, 0x343, 0x344
PMPCFG0, PMPADDR0 = 0x3A0, 0x3B0
MCYCLE, MINSTRET = 0xB00, 0xB02
TSELECT, TDATA1, TDATA2, TDATA3, TINFO = 0x7A0, 0x7A1, 0x7A2, 0x7A3, 0x7A4

XREG = 4096            # cpu[h, XREG + i] is register xi
PC = XREG + 32
PRIV = PC + 1          # 0 = U, 1 = S, 3 = M
RES_ADDR = PC + 2      # LR reservation: physical address, or -1 for none
WAITING = PC + 3       # 1 while stopped in wfi
HWIP = PC + 4          # mip bits driven by devices (MTIP, MSIP, MEIP, SEIP, STIP via Sstc)
CPU_WORDS = PC + 8

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3

# mstatus fields
MS_SIE, MS_MIE, MS_SPIE, MS_MPIE = 1 << 1, 1 << 3, 1 << 5, 1 << 7
MS_SPP = 1 << 8
MS_MPP_SHIFT = 11
MS_MPP = 3 << 11
MS_MPRV, MS_SUM, MS_MXR = 1 << 17, 1 << 18, 1 << 19
MS_TVM, MS_TW, MS_TSR = 1 << 20, 1 << 21, 1 << 22
MS_UXL_SXL = (2 << 32) | (2 << 34)   # XLEN 64 in U and S, read-only

# interrupt bits (mip/mie) and their numbers
IRQ_SSI, IRQ_MSI, IRQ_STI, IRQ_MTI, IRQ_SEI, IRQ_MEI = 1, 3, 5, 7, 9, 11
MIP_SSIP, MIP_MSIP = 1 << 1, 1 << 3
MIP_STIP, MIP_MTIP = 1 << 5, 1 << 7
MIP_SEIP, MIP_MEIP = 1 << 9, 1 << 11

# exception causes
CAUSE_MISALIGNED_FETCH = 0
CAUSE_FETCH_ACCESS = 1
CAUSE_ILLEGAL = 2
CAUSE_BREAKPOINT = 3
CAUSE_MISALIGNED_LOAD = 4
CAUSE_LOAD_ACCESS = 5
CAUSE_MISALIGNED_STORE = 6
CAUSE_STORE_ACCESS = 7
CAUSE_ECALL_U = 8
CAUSE_ECALL_S = 9
CAUSE_ECALL_M = 11
CAUSE_FETCH_PAGE = 12
CAUSE_LOAD_PAGE = 13
CAUSE_STORE_PAGE = 15

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
C_EXC = 80             # 16 exception causes
C_INT = 96             # 16 interrupt causes
# hypervisor mode (F_TRAP_EXIT): the trap the hart stopped at instead of taking it
C_TRAP_CAUSE, C_TRAP_TVAL, C_TRAP_PC, C_TRAP_IRQ = 112, 113, 114, 115
CTL_WORDS = 128

F_EXIT_ON_OUTPUT = 1   # return to Python after each byte of console output
F_TRAP_EXIT = 2        # hypervisor mode: a trap is not taken but returned (EXIT_TRAP)

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
