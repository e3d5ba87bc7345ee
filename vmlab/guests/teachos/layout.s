# layout.s -- teachos: where everything is, and the numbers every other part uses.
#
# teachos is a tiny operating system for the RISC-V "virt" board. OpenSBI (the
# firmware, in M-mode) starts it in S-mode at 0x8020_0000 with a0 = hart id and
# a1 = the device tree's address, exactly as it would start Linux. teachos then
# turns on Sv39 paging, starts three user processes in U-mode, switches between
# them on timer interrupts, serves their system calls, reads a disk block through
# a virtio driver, kills a process that touches memory it must not, prints who
# did what, and powers the machine off.
#
# The parts, in the order they are assembled (one after the other, as one file):
#   layout.s   this file: the memory maps and the constants
#   boot.s     _start: the first instructions, and the order things are set up in
#   console.s  the 16550 UART: print characters, strings and numbers
#   sbi.s      calls into the firmware (timer, power off, steal time)
#   smp.s      several harts: per-hart state, spinlocks, starting and waking harts
#   vm.s       Sv39 page tables: the kernel's and one per process
#   trap.s     the trap vector: save a process, find out why, restore a process
#   proc.s     the process table, the console turn, exit, the summary
#   sched.s    the round-robin scheduler every hart runs
#   syscall.s  the system calls a process can make with ecall
#   virtio.s   the virtio-mmio block driver
#   user.s     the user programs (they run in U-mode, in their own address space)
#
# Physical memory of the virt board, as teachos uses it. The kernel maps all of it
# at the same virtual address (VA = PA), so kernel code can use physical addresses.
#
#   0x0000_0000 +----------------------------+
#               |  (boot ROM, test device)   |  not used
#   0x0200_0000 |  CLINT (timer)             |  M-mode only: we ask OpenSBI for timers
#   0x0c00_0000 |  PLIC                      |  not used: the disk is polled
#   0x1000_0000 |  UART 16550                |  the console
#   0x1000_1000 |  virtio-mmio slot 0        |  the disk
#               |          ...               |
#   0x8000_0000 +----------------------------+  RAM starts here
#               |  OpenSBI                   |  firmware; its memory is locked from
#               |                            |  S-mode by PMP, so hands off
#   0x8020_0000 +----------------------------+
#               |  .text   kernel code       |  <- _start
#               |          user programs     |  one page, mapped into each process
#               |  .rodata messages          |
#               |  .data   variables         |
#               |  .bss    page tables,      |  zeroed by boot.s before use
#               |          stacks, processes |
#               +----------------------------+
#               |  free                      |
#   0x8800_0000 +----------------------------+  end of RAM (128 MiB); the device
#                                               tree sits just below it
#
# A user process sees only its own little address space (see vm.s):
#
#   0x0000_0000 +----------------------------+
#               |  unmapped (so NULL faults) |
#   0x0000_1000 |  user text: the programs   |  R-X, U  (the same page for all)
#   0x0000_2000 |  user stack                |  RW-, U  (a page of its own)
#   0x0000_3000 +----------------------------+  <- the stack pointer starts here
#               |  unmapped                  |
#   0x1000_0000 |  devices                   |  mapped, but without U: a fault
#   0x8000_0000 |  kernel (1 GiB)            |  mapped, but without U: a fault
#               +----------------------------+
#
# Only constants live here (.equ), so this part assembles to no bytes at all.

# ---- the board -----------------------------------------------------------------
        .equ KERNBASE,      0x80200000  # where OpenSBI's fw_jump starts the kernel
        .equ RAMBASE,       0x80000000
        .equ UART0,         0x10000000  # 16550 registers, one byte apart
        .equ VIRTIO0,       0x10001000  # virtio-mmio slot 0
        .equ TICK,          10000       # timer period in `time` units (10 MHz: 1 ms);
                                        # any period works if handling a tick takes
                                        # less (else the next is due at once)

# ---- pages and page tables (vm.s) -----------------------------------------------
        .equ PGSIZE,        4096
        .equ PGSHIFT,       12
        .equ PTE_V,         1 << 0      # valid
        .equ PTE_R,         1 << 1      # readable
        .equ PTE_W,         1 << 2      # writable
        .equ PTE_X,         1 << 3      # executable
        .equ PTE_U,         1 << 4      # user mode may use it
        .equ PTE_G,         1 << 5      # global: the same in every address space
        .equ PTE_A,         1 << 6      # accessed
        .equ PTE_D,         1 << 7      # dirty
        .equ SATP_SV39,     8           # satp.MODE (bits 63:60) for Sv39
        .equ ASID_SHIFT,    44          # satp.ASID is bits 59:44

# ---- the user address space -----------------------------------------------------
        .equ USER_TEXT,     0x1000      # VA of the user program page
        .equ USER_STACK,    0x2000      # VA of the user stack page
        .equ USER_TOP,      0x3000      # first VA above the user's memory

# ---- CSR bits -------------------------------------------------------------------
        .equ SSTATUS_SIE,   1 << 1      # S-mode interrupts enabled
        .equ SSTATUS_SPIE,  1 << 5      # SIE before the trap
        .equ SSTATUS_SPP,   1 << 8      # mode before the trap: 0 = U, 1 = S
        .equ SSTATUS_SUM,   1 << 18     # S-mode may touch U pages
        .equ SIE_STIE,      1 << 5      # supervisor timer interrupt enable
        .equ SIE_SSIE,      1 << 1      # supervisor software interrupt (IPI) enable
        .equ SIP_SSIP,      1 << 1      # an IPI is pending
        .equ IRQ_STIMER,    5           # scause code of the supervisor timer interrupt
        .equ IRQ_SSOFT,     1           # scause code of the supervisor software interrupt
        .equ CAUSE_ECALL_U, 8           # scause: ecall from U-mode

# ---- processes (proc.s) ---------------------------------------------------------
        .equ NPROC,         3
        .equ UNUSED,        0           # proc states
        .equ RUNNABLE,      1           # waiting for a hart
        .equ RUNNING,       2           # on a hart (or being set aside by its hart)
        .equ ASLEEP,        3           # waiting for the console turn (syscall.s)
        .equ EXITED,        4
        .equ KILLED,        5
        # struct proc, one 512-byte slot per process:
        .equ P_STATE,       0           # UNUSED, RUNNABLE, RUNNING, ASLEEP, EXITED, KILLED
        .equ P_PID,         8
        .equ P_SATP,        16          # the satp value that selects its page table
        .equ P_XSTATUS,     24          # exit status, or the scause that killed it
        .equ P_NAME,        32          # address of its name
        .equ P_FRAME,       64          # its trap frame: registers while not running
        .equ PROC_SIZE,     512
        # the trap frame: x1..x31 at 8*n (x0 is always zero, so its slot is unused),
        # then the pc to return to
        .equ TF_RA,         1 * 8
        .equ TF_SP,         2 * 8
        .equ TF_A0,         10 * 8
        .equ TF_A1,         11 * 8
        .equ TF_A7,         17 * 8
        .equ TF_EPC,        32 * 8
        .equ TF_CPU,        33 * 8      # the struct cpu of the hart that runs it
        # the pages a process owns (vm.s), one after the other
        .equ PROC_PAGES,    4           # root table, level-1 table, level-0 table, stack

# ---- harts (smp.s) ----------------------------------------------------------------
        .equ NCPU,          4           # harts teachos can use (ids 0..NCPU-1)
        .equ KSTACK_SIZE,   8192        # a kernel stack per hart
        # struct cpu, one 128-byte slot per hart; tp points at it in the kernel:
        .equ C_STA,         0           # its steal-time record (sbi.s), 64-byte aligned
        .equ C_HARTID,      64
        .equ C_CURRENT,     72          # the process it runs (0: none)
        .equ C_KSTACK,      80          # the top of its kernel stack
        .equ C_PREV,        88          # a process this trap set aside (sched.s)
        .equ C_UP,          96          # 1 once the hart runs teachos
        .equ C_SLEEP,       104         # 1: the process set aside goes to sleep
        .equ CPU_SIZE,      128

# ---- system call numbers (syscall.s, user.s) -------------------------------------
        .equ SYS_write,     1           # write(buf, len) -> len
        .equ SYS_getpid,    2           # getpid() -> pid
        .equ SYS_yield,     3           # yield() -> 0
        .equ SYS_exit,      4           # exit(status), never returns
        .equ SYS_readblk,   5           # readblk(sector, buf) -> 0, or -1 without a disk
        .equ NSYSCALL,      6
