# trap.s -- where every trap lands: save the process, handle the cause, resume one.
#
# A trap (an ecall, a page fault, a timer interrupt...) makes the hart jump to the
# address in stvec, in S-mode, with
#   sepc   = the pc of the interrupted instruction
#   scause = why (top bit set for interrupts), stval = the faulting address, if any
#   sstatus.SPP = the mode it came from, sstatus.SIE = 0 (no nested interrupts).
# Nothing else is saved: every register still holds the process's value, so the
# vector must save them before it can use any.
#
# The trick for the first register: sscratch holds the address of the running
# process's trap frame (x1..x31 and the pc, in its struct proc). `csrrw sp,
# sscratch, sp` swaps the two in one instruction: sp now points at the frame, and
# sscratch keeps the user's sp until we store it too.
#
#   user runs:      sp = user stack        sscratch = &current->frame
#   after csrrw:    sp = &current->frame   sscratch = user sp
#   in the kernel:  sp = this hart's stack sscratch = 0  (so we can tell)
#
# With several harts, each has its own kernel stack and struct cpu (smp.s), and
# the kernel finds them through tp. But tp in U-mode is the process's own
# register: so the frame also holds the struct cpu of the hart running it
# (TF_CPU, written on the way out), and the vector loads tp and sp from there.
#
# Every trap starts on its hart's empty kernel stack: the kernel never blocks
# halfway through a trap -- it finishes, then resumes *some* process by loading
# *that* process's frame. Switching processes is just choosing another frame.
#
# The kernel itself runs with interrupts off (sstatus.SIE = 0); U-mode always takes
# S-mode interrupts, so ticks arrive only while a process runs. A trap from S-mode
# is therefore a kernel bug, and kernel_trap reports it.

        .text
# trap_init: send traps to trap_vector, and let the timer interrupt and IPIs
# through (taken only in U-mode: the kernel keeps sstatus.SIE = 0; an idle hart's
# wfi still wakes for them).
trap_init:
        la      t0, trap_vector
        csrw    stvec, t0               # mode 0 (direct): every trap to one address
        csrw    sscratch, zero          # we are in the kernel
        li      t0, SIE_STIE | SIE_SSIE
        csrs    sie, t0
        ret

# timer_start: ask for a timer interrupt TICK from now.
timer_start:
        rdtime  a0
        li      t0, TICK
        add     a0, a0, t0
        .ifdef SSTC_TIMER
        # Built with SSTC_TIMER (teachos.build(sstc_timer=True)): program the timer
        # ourselves through Sstc's stimecmp (writing it also clears a pending tick) --
        # under a hypervisor a CSR exit it emulates, instead of an SBI call.
        csrw    stimecmp, a0
        ret
        .else
        j       sbi_set_timer
        .endif

        .balign 4                       # stvec needs a 4-byte aligned address
trap_vector:
        csrrw   sp, sscratch, sp
        beqz    sp, kernel_trap         # sscratch was 0: the trap came from S-mode
        # .irp repeats the line once per n: sd x1, 8(sp); sd x3, 24(sp); ...
        .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        sd      x\n, \n*8(sp)           # x1, x3..x31 into the frame (sp comes next)
        .endr
        csrr    t0, sscratch
        sd      t0, TF_SP(sp)           # the user's sp
        csrr    t0, sepc
        sd      t0, TF_EPC(sp)
        csrw    sscratch, zero          # now in the kernel
        mv      a0, sp                  # a0 = the frame
        ld      tp, TF_CPU(a0)          # this hart's struct cpu
        ld      sp, C_KSTACK(tp)        # and its kernel stack
        call    trap                    # -> a0 = the frame to resume (maybe another's)
        # fall through

# trap_return(a0 = trap frame): resume the process that owns it, in U-mode.
trap_return:
        sd      tp, TF_CPU(a0)          # the hart it runs on now, for its next trap
        ld      t0, TF_EPC(a0)
        csrw    sepc, t0                # sret jumps to sepc
        csrw    sscratch, a0            # for the next trap
        .irp n, 1,2,3,4,5,6,7,8,9,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        ld      x\n, \n*8(a0)           # every register but a0 (x10), which we stand on
        .endr
        ld      a0, TF_A0(a0)           # ...and a0 last
        sret                            # to U-mode (sstatus.SPP = 0) at sepc

# trap(a0 = frame of the current process) -> a0 = frame to resume.
# Sort by scause: the timer, a system call, or a fault that kills the process.
trap:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        mv      s0, a0
        csrr    t0, scause
        bltz    t0, 2f                  # top bit set: an interrupt
        li      t1, CAUSE_ECALL_U
        bne     t0, t1, 1f
        mv      a0, s0
        call    syscall                 # syscall.s
        j       3f
1:      call    fault                   # any other exception: kill the process
        j       3f
2:      slli    t0, t0, 1               # drop the interrupt bit
        srli    t0, t0, 1
        li      t1, IRQ_STIMER
        beq     t0, t1, 5f
        li      t1, IRQ_SSOFT
        bne     t0, t1, 4f
        li      t0, SIP_SSIP            # an IPI meant to wake an idle hart came
        csrc    sip, t0                 # late: this hart is busy, nothing to do
        j       3f
5:      call    tick
3:      call    sched_publish           # sched.s: what this trap set aside may run
        call    current_frame           # proc.s: whoever runs now
        ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret
4:      la      a0, msg_irq
        j       panic

# tick: a timer interrupt. Count it, ask for the next one (which also clears
# this one), and let the next process run: this is preemption.
tick:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, ticks
        li      t1, 1
        amoadd.d zero, t1, (t0)         # +1, indivisibly: other harts count too
        call    timer_start
        ld      ra, 8(sp)
        addi    sp, sp, 16
        j       schedule                # sched.s (a tail call)

# fault: the current process did something it may not (scause says what, stval
# where). Print it, and kill the process.
#   "pid 3: load page fault at 0x80200000 (pc 0x11b6), killed"
fault:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, console_lock        # smp.s: the line comes out in one piece
        call    acquire
        la      a0, msg_pid
        call    kputs
        call    current_pid
        call    kputdec
        la      a0, msg_colon
        call    kputs
        csrr    a0, scause
        call    cause_name
        call    kputs
        la      a0, msg_at
        call    kputs
        csrr    a0, stval
        call    kputhex
        la      a0, msg_pc
        call    kputs
        csrr    a0, sepc
        call    kputhex
        la      a0, msg_killed
        call    kputs
        la      a0, console_lock
        call    release
        csrr    a0, scause
        ld      ra, 8(sp)
        addi    sp, sp, 16
        j       kill                    # proc.s

# cause_name(a0 = scause of an exception) -> a0 = its name
cause_name:
        li      t0, 16
        bgeu    a0, t0, 1f
        slli    a0, a0, 3
        la      t0, cause_names
        add     t0, t0, a0
        ld      a0, 0(t0)
        ret
1:      la      a0, msg_unknown
        ret

# kernel_trap: a trap from S-mode. Put sp back and report it.
kernel_trap:
        csrrw   sp, sscratch, sp
        la      a0, msg_ktrap
        call    kputs
        csrr    a0, scause
        call    kputhex
        la      a0, msg_pc
        call    kputs
        csrr    a0, sepc
        call    kputhex
        la      a0, msg_stval
        call    kputs
        csrr    a0, stval
        call    kputhex
        call    kputnl
        la      a0, msg_kbug
        j       panic

        .section .rodata
msg_pid:        .asciz "pid "
msg_colon:      .asciz ": "
msg_at:         .asciz " at "
msg_pc:         .asciz " (pc "
msg_killed:     .asciz "), killed\n"
msg_stval:      .asciz ") stval "
msg_ktrap:      .asciz "teachos: trap in the kernel: scause "
msg_kbug:       .asciz "a trap in the kernel"
msg_irq:        .asciz "an unexpected interrupt"
msg_unknown:    .asciz "exception"
c0:  .asciz "instruction address misaligned"
c1:  .asciz "instruction access fault"
c2:  .asciz "illegal instruction"
c3:  .asciz "breakpoint"
c4:  .asciz "load address misaligned"
c5:  .asciz "load access fault"
c6:  .asciz "store address misaligned"
c7:  .asciz "store access fault"
c12: .asciz "instruction page fault"
c13: .asciz "load page fault"
c15: .asciz "store page fault"

        .data
        .balign 8
# the names of the exceptions a process can cause, indexed by scause
cause_names:
        .dword c0, c1, c2, c3, c4, c5, c6, c7
        .dword msg_unknown, msg_unknown, msg_unknown, msg_unknown
        .dword c12, c13, msg_unknown, c15

        .globl ticks
ticks:  .dword 0                        # timer interrupts taken so far (all harts)
