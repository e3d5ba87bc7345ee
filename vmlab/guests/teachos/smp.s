# smp.s -- several harts: who is who, spinlocks, starting the others, waking them.
#
# The virt board may have several harts (QEMU's -smp, vmlab's --harts, the vCPUs
# of a VM). The firmware starts teachos on one of them, the *boot hart*; the
# others wait, stopped, until someone asks the firmware to start them (SBI HSM,
# "hart state management"). teachos boots alone, then starts the others at
# secondary_start, and from then on every hart does the same thing: pick a
# runnable process and run it (sched.s). A process may run on any hart.
#
# What each hart needs of its own:
#   - a kernel stack (kstacks: KSTACK_SIZE each), because two harts may be in a
#     trap at the same time;
#   - a struct cpu (layout.s): its hart id, the process it runs, its stack, its
#     steal-time record. In the kernel `tp` points at it, so "my current process"
#     is one load: `ld a0, C_CURRENT(tp)`. In U-mode tp is the process's register:
#     the trap frame keeps the hart's struct cpu (TF_CPU) for the way back in.
#
# What they share, and guard with a spinlock each:
#   sched_lock    the process states, the console turn, idle_mask (sched.s)
#   console_lock  the UART: one write's bytes come out together
#
# A spinlock is a word: 0 free, 1 taken. `amoswap.w.aq` writes 1 and returns
# what was there in one indivisible step: whoever gets 0 back has the lock. The
# .aq (acquire) / .rl (release) bits keep the critical section's loads and
# stores inside it, as seen from the other harts.
#
# An idle hart waits in `wfi` with only software interrupts enabled; another
# hart that makes a process runnable sends it one (SBI IPI). A hart that changes
# a page table tells the others to drop what their TLBs remember of it (SBI
# RFENCE: a remote sfence.vma).

        .equ SBI_HSM,           0x48534D
        .equ HSM_START,         0       # hart_start(hartid, start_addr, opaque)
        .equ HSM_STATUS,        2       # hart_get_status(hartid) -> a1
        .equ HSM_STOPPED,       1
        .equ SBI_IPI,           0x735049
        .equ IPI_SEND,          0       # send_ipi(hart_mask, hart_mask_base)
        .equ SBI_RFENCE,        0x52464E43
        .equ RFENCE_VMA_ASID,   2       # remote_sfence_vma_asid(mask, base, start, size, asid)

        .text
# hart_setup(a0 = hart id): point tp at this hart's struct cpu and sp at the top
# of its kernel stack. It needs no stack itself (the boot hart has none yet).
hart_setup:
        li      t0, NCPU
        bgeu    a0, t0, 2f
        li      t0, CPU_SIZE
        mul     t0, a0, t0
        la      tp, cpus
        add     tp, tp, t0
        sd      a0, C_HARTID(tp)
        addi    t0, a0, 1
        li      t1, KSTACK_SIZE
        mul     t0, t0, t1
        la      sp, kstacks
        add     sp, sp, t0              # its stack: the top of slot a0
        sd      sp, C_KSTACK(tp)
        li      t0, 1
        sd      t0, C_UP(tp)
        ret
2:      wfi                             # a hart teachos has no room for stays out
        j       2b

# acquire(a0 = lock): spin until we are the one who changed it from 0 to 1.
acquire:
        li      t0, 1
1:      amoswap.w.aq t1, t0, (a0)
        bnez    t1, 1b
        ret

# release(a0 = lock)
release:
        amoswap.w.rl zero, zero, (a0)
        ret

# count_harts: how many harts the board has. The virt board numbers them 0, 1,
# 2, ... with no gaps, so ask HSM about each other id until it says "no such
# hart". Says how many, if more than one ("teachos: 4 harts").
count_harts:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        li      s0, 1                   # s0 = harts found: this one so far
        li      a0, SBI_HSM
        call    sbi_probe
        beqz    a0, 2f                  # no HSM: no way to start the others
1:      li      t0, NCPU
        bgeu    s0, t0, 2f
        addi    a0, s0, -1              # the next other hart
        call    hart_status
        bltz    a0, 2f                  # none: we have seen them all
        addi    s0, s0, 1
        j       1b
2:      la      t0, nharts
        sd      s0, 0(t0)
        li      t0, 1
        beq     s0, t0, 3f
        la      a0, msg_teachos
        call    kputs
        mv      a0, s0
        call    kputdec
        la      a0, msg_harts
        call    kputs
3:      ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# other_id(a0 = n) -> a0 = the hart id of the n-th hart other than this one
# (counting from id 0 upwards, skipping ours)
other_id:
        ld      t0, C_HARTID(tp)
        bltu    a0, t0, 1f
        addi    a0, a0, 1               # at or past ours: one higher
1:      ret

# hart_status(a0 = n) -> a0 = the HSM status of the n-th other hart, or negative
# (an SBI error) if there is no such hart.
hart_status:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    other_id
        li      a7, SBI_HSM
        li      a6, HSM_STATUS
        ecall
        bnez    a0, 1f
        mv      a0, a1
1:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# start_harts: start every other hart count_harts found at secondary_start. Each
# one that starts gets its bit in up_mask (the harts an RFENCE must reach).
start_harts:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        ld      t0, C_HARTID(tp)
        li      t1, 1
        sll     t1, t1, t0
        la      t0, up_mask
        sd      t1, 0(t0)               # this hart is up
        li      s0, 0                   # s0 = n, counting the other harts
1:      la      t0, nharts
        ld      t0, 0(t0)
        addi    t0, t0, -1
        bgeu    s0, t0, 2f
        mv      a0, s0
        call    other_id
        mv      t2, a0
        la      a1, secondary_start     # (VA = PA: it runs with paging off first)
        li      a2, 0
        li      a7, SBI_HSM
        li      a6, HSM_START
        ecall
        bnez    a0, 3f                  # it would not start: we go on without it
        li      t1, 1
        sll     t1, t1, t2
        la      t0, up_mask
        amoor.d zero, t1, (t0)
3:      addi    s0, s0, 1
        j       1b
2:      ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# secondary_start: where a started hart begins, as the boot hart did at _start:
# S-mode, paging off, interrupts off, a0 = its hart id, no stack.
secondary_start:
        call    hart_setup              # tp, sp
        call    trap_init
        call    vm_enter                # vm.s: the kernel's page table, paging on
        addi    a0, tp, C_STA
        call    sta_init                # its own steal-time record
        j       hart_loop               # sched.s: run processes, from now on

# wake_idle: a process just became runnable: send an IPI to every idle hart (the
# first to take sched_lock gets it). Called with sched_lock held.
wake_idle:
        la      t0, idle_mask
        ld      a0, 0(t0)
        beqz    a0, 1f
        li      a1, 0                   # hart_mask_base: bit n of a0 is hart n
        li      a7, SBI_IPI
        li      a6, IPI_SEND
        ecall
1:      ret

# idle_bit(a0 = 1: set, 0: clear) this hart's bit in idle_mask (sched_lock held)
idle_bit:
        ld      t0, C_HARTID(tp)
        li      t1, 1
        sll     t1, t1, t0
        la      t2, idle_mask
        ld      t3, 0(t2)
        or      t3, t3, t1
        bnez    a0, 1f
        xor     t3, t3, t1
1:      sd      t3, 0(t2)
        ret

# flush_asid(a0 = ASID): after a process's page table changed: drop its old
# translations from this hart's TLB, and ask the firmware to do the same on every
# other hart that runs teachos (it may have run the process, and kept them).
flush_asid:
        sfence.vma zero, a0
        la      t0, up_mask
        ld      t0, 0(t0)
        ld      t1, C_HARTID(tp)
        li      t2, 1
        sll     t2, t2, t1
        not     t2, t2
        and     t0, t0, t2              # everyone up but us
        beqz    t0, 1f                  # alone: nothing more to do
        mv      a4, a0
        mv      a0, t0
        li      a1, 0
        li      a2, 0                   # the whole address space:
        li      a3, -1                  # start 0, size "all"
        li      a7, SBI_RFENCE
        li      a6, RFENCE_VMA_ASID
        ecall
1:      ret

# report_steal: under a hypervisor that reports it (sbi.s), how long each hart was
# kept waiting while it could have run, e.g.
#   "teachos: steal time of hart 0: 1520 us"
# A record whose sequence number is still 0 was never written: that hypervisor
# does not share out real harts (it gave us one to ourselves), nothing to say.
report_steal:
        la      t0, have_sta
        ld      t0, 0(t0)
        beqz    t0, 3f                  # nobody reports it (bare hardware): nothing
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        la      s0, cpus
1:      ld      t0, C_UP(s0)
        beqz    t0, 2f
        lw      t0, C_STA + STA_SEQUENCE(s0)
        beqz    t0, 2f                  # never reported
        la      a0, msg_steal
        call    kputs
        ld      a0, C_HARTID(s0)
        call    kputdec
        la      a0, msg_colon
        call    kputs
        addi    a0, s0, C_STA
        call    sta_steal
        li      t0, 1000
        divu    a0, a0, t0              # ns -> us
        call    kputdec
        la      a0, msg_us
        call    kputs
2:      addi    s0, s0, CPU_SIZE
        la      t0, cpus_end
        bltu    s0, t0, 1b
        ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
3:      ret

        .section .rodata
msg_teachos:    .asciz "teachos: "
msg_harts:      .asciz " harts\n"
msg_steal:      .asciz "teachos: steal time of hart "
msg_us:         .asciz " us\n"

        .data
        .balign 8
nharts:         .dword 1                # harts the board has (count_harts)
up_mask:        .dword 0                # bit n: hart n runs teachos
idle_mask:      .dword 0                # bit n: hart n waits for work (sched.s)
sched_lock:     .word 0
console_lock:   .word 0

        .bss
        .balign 64
cpus:           .skip NCPU * CPU_SIZE   # struct cpu per hart (layout.s)
cpus_end:
kstacks:        .skip NCPU * KSTACK_SIZE
