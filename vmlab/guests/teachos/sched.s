# sched.s -- the scheduler: which process runs on this hart next.
#
# Round robin over one run queue shared by all harts -- the process table
# itself: a hart picks the next RUNNABLE process after the one it ran, in table
# order, wrapping around. "Runs" only means: C_CURRENT(tp) points at it, it is
# marked RUNNING (so no other hart takes it), and satp selects its page table;
# trap.s then restores *its* frame and returns to *its* code.
#
# Every hart enters hart_loop once (the boot hart after booting, the others when
# started) and comes back to it only when it has nothing to run. A trap that
# switches processes calls schedule.
#
# Setting a process aside. When a trap ends the running process's turn (a tick,
# a yield), it is not yet marked RUNNABLE: another hart could pick it up and load
# its frame while this hart is still writing the system call's result into it.
# It stays RUNNING (ours) and goes into C_PREV(tp); at the very end of the trap,
# sched_publish makes it RUNNABLE -- and wakes an idle hart to run it -- or, if
# it asked to sleep until its console turn (C_SLEEP) and the turn has not come
# meanwhile, ASLEEP.
#
#   hart_loop:  pick a RUNNABLE process --> run it (arm the timer, trap_return)
#                   |  none, but some still live
#                   v
#               idle: wfi until an IPI (wake_idle, smp.s) --> hart_loop
#                   |  none live at all
#                   v
#               all_done (proc.s): the summary, power off

        .text
# hart_loop: this hart has no process: find one to run, wait for one, or finish.
hart_loop:
        ld      sp, C_KSTACK(tp)        # whatever was on the stack is done with
        sd      zero, C_CURRENT(tp)
        la      a0, sched_lock
        call    acquire
        li      a0, 0
        call    next_ready              # from the top of the table
        bnez    a0, run_it
        la      a0, procs
        call    next_alive
        beqz    a0, 2f                  # nothing will ever run again
        li      a0, 1
        call    idle_bit                # smp.s: an IPI may come for us now
        la      a0, sched_lock
        call    release
        li      t0, SIE_STIE            # no ticks while idle (nothing to preempt):
        csrc    sie, t0                 # only an IPI ends the wfi
        wfi
        li      t0, SIP_SSIP
        csrc    sip, t0                 # the IPI is taken care of: look again
        j       hart_loop
2:      la      t0, finished
        ld      t1, 0(t0)
        li      t2, 1
        sd      t2, 0(t0)
        la      a0, sched_lock
        call    release
        beqz    t1, all_done            # proc.s: the first hart to see it reports
3:      wfi                             # the others wait for the power to go
        j       3b

# run_it(a0 = a RUNNABLE process; sched_lock held): run it on this hart.
run_it:
        li      t0, RUNNING
        sd      t0, P_STATE(a0)
        sd      a0, C_CURRENT(tp)
        li      a0, 0
        call    idle_bit                # smp.s: not idle any more
        la      a0, sched_lock
        call    release
        ld      a0, C_CURRENT(tp)
        ld      a0, P_SATP(a0)
        call    vm_switch               # vm.s: its page table (and ASID)
        li      t0, SSTATUS_SPP         # sret to U-mode: SPP = 0
        csrc    sstatus, t0             # (SPIE becomes SIE after sret; U-mode takes
        li      t0, SSTATUS_SPIE        # S interrupts anyway)
        csrs    sstatus, t0
        li      t0, SIE_STIE
        csrs    sie, t0
        call    timer_start             # trap.s: ticks again, TICK from now
        call    current_frame
        j       trap_return             # trap.s: load the frame, sret

# schedule: in a trap, give this hart to the next runnable process (maybe the same
# one). The one it ran, if still live, is set aside for sched_publish. With no
# process to run, the hart leaves the trap for hart_loop.
schedule:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, sched_lock
        call    acquire
        ld      a0, C_CURRENT(tp)
        call    next_ready
        ld      t1, C_CURRENT(tp)
        beq     a0, t1, 2f              # the same process: nothing to switch
        ld      t0, P_STATE(t1)
        li      t2, RUNNING
        bne     t0, t2, 1f              # it exited: nothing to set aside
        sd      t1, C_PREV(tp)
1:      beqz    a0, 3f
        li      t0, RUNNING
        sd      t0, P_STATE(a0)         # ours now
        sd      a0, C_CURRENT(tp)
        la      a0, sched_lock
        call    release
        ld      a0, C_CURRENT(tp)
        ld      a0, P_SATP(a0)
        call    vm_switch               # vm.s: its page table (and ASID)
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret
2:      la      a0, sched_lock
        call    release
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret
3:      la      a0, sched_lock          # nothing to run here: the trap ends now
        call    release
        call    sched_publish
        j       hart_loop

# sched_publish: at the end of a trap, the process schedule set aside may run on
# any hart: mark it RUNNABLE and wake an idle hart for it (or let it sleep).
sched_publish:
        ld      t0, C_PREV(tp)
        bnez    t0, 4f
        sd      zero, C_SLEEP(tp)       # (nothing was set aside)
        ret
4:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, sched_lock
        call    acquire
        ld      t0, C_PREV(tp)
        sd      zero, C_PREV(tp)
        ld      t1, C_SLEEP(tp)
        sd      zero, C_SLEEP(tp)
        beqz    t1, 2f
        ld      t1, P_PID(t0)           # to sleep -- unless its turn came meanwhile
        la      t2, turn
        ld      t2, 0(t2)
        beq     t1, t2, 2f
        li      t1, ASLEEP
        sd      t1, P_STATE(t0)
        j       3f
2:      li      t1, RUNNABLE
        sd      t1, P_STATE(t0)
        call    wake_idle               # smp.s
3:      la      a0, sched_lock
        call    release
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# next_ready(a0 = the process this hart ran, or 0) -> a0 = the first RUNNABLE
# process after it in table order, wrapping around; failing that, a0 itself if it
# is still RUNNING (ours: it may go on) and not going to sleep; 0 if there is
# none. (sched_lock held)
next_ready:
        mv      t4, a0
        la      t0, procs
        li      t1, NPROC * PROC_SIZE
        add     t1, t0, t1              # t1 = end of the table
        bnez    a0, 1f
        addi    a0, t1, -PROC_SIZE      # none: start after the last, at the first
1:      li      t3, NPROC               # look at every slot once (a0's own last)
2:      addi    a0, a0, PROC_SIZE
        bltu    a0, t1, 3f
        mv      a0, t0                  # past the end: wrap around
3:      ld      t2, P_STATE(a0)
        li      t5, RUNNABLE
        beq     t2, t5, 5f
        bne     a0, t4, 4f
        ld      t5, C_SLEEP(tp)
        bnez    t5, 4f                  # the one we ran wants to sleep: not it
        li      t5, RUNNING             # the one we ran, still ours
        beq     t2, t5, 5f
4:      addi    t3, t3, -1
        bnez    t3, 2b
        li      a0, 0
5:      ret

# next_alive(a0 = struct proc) -> a0 = the first live (RUNNABLE, RUNNING, ASLEEP)
# process after it in table order, wrapping around and trying a0 itself last;
# 0 if there is none. (sched_lock held)
next_alive:
        la      t0, procs
        li      t1, NPROC * PROC_SIZE
        add     t1, t0, t1
        li      t3, NPROC
1:      addi    a0, a0, PROC_SIZE
        bltu    a0, t1, 2f
        mv      a0, t0
2:      ld      t2, P_STATE(a0)
        addi    t2, t2, -RUNNABLE
        sltiu   t2, t2, 3               # RUNNABLE, RUNNING or ASLEEP (1, 2, 3)
        bnez    t2, 3f
        addi    t3, t3, -1
        bnez    t3, 1b
        li      a0, 0
3:      ret

        .data
        .balign 8
finished:       .dword 0                # 1 once a hart has started the summary
