# proc.s -- processes: the process table, the console turn, exit, the summary.
#
# A process is a struct proc (layout.s): its state, pid, the satp value of its
# page table, and its trap frame -- the registers it had when it last trapped.
# The table is fixed: NPROC slots, all created at boot, never reused.
#
#   procs:  +-----------+-----------+-----------+
#           | pid 1     | pid 2     | pid 3     |   512 bytes each
#           | count     | count     | reader    |
#           +-----------+-----------+-----------+
#                 ^
#              C_CURRENT(tp): the process this hart runs (each hart has its own)
#
# Which process runs where is the scheduler's business (sched.s); a state field
# says where each one is: RUNNABLE (waiting for a hart), RUNNING (on one), ASLEEP
# (waiting for the console turn), EXITED or KILLED. States and the console turn
# change only under sched_lock (smp.s).
#
# The console turn. Processes run in slices whose length depends on timing: a
# different timer period, a slower emulator, a hypervisor or another hart moves
# where the ticks fall. If processes printed whenever they liked, their lines
# would come out in a different order each time. So the console is handed round
# like a talking stick: `turn` holds the pid that may write; a write from anyone
# else waits (syscall.s). The holder passes it on when it yields, exits or is
# killed, to the next live process in pid order. Output order then depends only
# on the programs, never on when ticks happen or on how many harts run them --
# and the same output on QEMU, on vmlab, and in a VM is a test.

        .text
# procinit: fill in every process: pid, name, page table, and a frame that
# "returns" to the start of its program with sp at the top of its stack.
procinit:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sd      s0, 16(sp)
        sd      s1, 8(sp)
        la      s0, procs
        li      s1, 0                   # s1 = index
1:      addi    t0, s1, 1
        sd      t0, P_PID(s0)           # pid = index + 1
        li      t0, RUNNABLE
        sd      t0, P_STATE(s0)
        slli    t0, s1, 4               # programs[] rows are 16 bytes
        la      t1, programs
        add     t1, t1, t0
        ld      t2, 0(t1)
        sd      t2, P_NAME(s0)
        ld      t2, 8(t1)               # the entry point, a kernel address...
        la      t3, user_start
        sub     t2, t2, t3
        li      t3, USER_TEXT
        add     t2, t2, t3              # ...becomes its address in the user page
        sd      t2, P_FRAME + TF_EPC(s0)
        li      t2, USER_TOP
        sd      t2, P_FRAME + TF_SP(s0)
        mv      a0, s0
        mv      a1, s1
        call    uvminit                 # vm.s
        addi    s0, s0, PROC_SIZE
        addi    s1, s1, 1
        li      t0, NPROC
        bltu    s1, t0, 1b
        li      t0, 1
        la      t1, turn
        sd      t0, 0(t1)               # pid 1 speaks first
        ld      ra, 24(sp)
        ld      s0, 16(sp)
        ld      s1, 8(sp)
        addi    sp, sp, 32
        ret

# current_frame -> a0 = the trap frame of the process this hart runs
current_frame:
        ld      a0, C_CURRENT(tp)
        addi    a0, a0, P_FRAME
        ret

# current_pid -> a0 = the pid of the process this hart runs
current_pid:
        ld      a0, C_CURRENT(tp)
        ld      a0, P_PID(a0)
        ret

# has_turn -> a0 = 1 if the running process may write to the console
has_turn:
        ld      t0, C_CURRENT(tp)
        ld      t0, P_PID(t0)
        la      t1, turn
        ld      t1, 0(t1)
        sub     a0, t0, t1
        seqz    a0, a0
        ret

# pass_turn: if the running process holds the console turn, hand it to the next
# live process after it (itself, if it is the last one left).
pass_turn:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, sched_lock
        call    acquire
        call    pass_turn_locked
        la      a0, sched_lock
        call    release
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# pass_turn_locked: pass_turn, with sched_lock already held. (Under the lock, a
# process cannot die between our choosing it and its getting the turn.)
pass_turn_locked:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    has_turn
        beqz    a0, 2f
        ld      a0, C_CURRENT(tp)
        call    next_alive              # sched.s
        beqz    a0, 1f                  # nobody left: turn = 0
        ld      t1, P_STATE(a0)
        li      t2, ASLEEP
        bne     t1, t2, 3f
        li      t1, RUNNABLE            # it sleeps until its turn: wake it, and a
        sd      t1, P_STATE(a0)         # hart to run it
        sd      a0, 0(sp)
        call    wake_idle               # smp.s
        ld      a0, 0(sp)
3:      ld      a0, P_PID(a0)
1:      la      t0, turn
        sd      a0, 0(t0)
2:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# proc_exit(a0 = status): the running process is done. Record how it ended,
# free its pages, give away the turn and the hart.
proc_exit:
        li      t1, EXITED
        j       1f
# kill(a0 = scause): the same, for a process the kernel stops.
kill:
        li      t1, KILLED
1:      addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      t1, 0(sp)
        ld      t0, C_CURRENT(tp)
        sd      a0, P_XSTATUS(t0)
        mv      a0, t0
        call    uvmfree                 # vm.s: unmap its pages, on every hart
        la      a0, sched_lock
        call    acquire
        ld      t0, C_CURRENT(tp)
        ld      t1, 0(sp)
        sd      t1, P_STATE(t0)         # no longer live...
        call    pass_turn_locked        # ...so the turn goes to someone else
        la      a0, sched_lock
        call    release
        ld      ra, 8(sp)
        addi    sp, sp, 16
        j       schedule                # sched.s

# all_done: every process has exited or been killed. Print how each one ended,
# in pid order, each hart's steal time, and power off. (One hart gets here; the
# others wait idle. The kernel is mapped whatever table satp selects.)
all_done:
        la      a0, msg_done
        call    kputs
        la      s0, procs
        li      s1, NPROC
1:      call    report
        addi    s0, s0, PROC_SIZE
        addi    s1, s1, -1
        bnez    s1, 1b
        call    report_steal
        la      a0, msg_off
        call    kputs
        li      a0, 0                   # SRST reason: none
        j       sbi_shutdown

# report(s0 = struct proc): one line of the summary, e.g.
#   "  pid 1 (count): exit status 0"   or   "  pid 3 (reader): killed by ..."
report:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, msg_rpid
        call    kputs
        ld      a0, P_PID(s0)
        call    kputdec
        la      a0, msg_lparen
        call    kputs
        ld      a0, P_NAME(s0)
        call    kputs
        ld      t0, P_STATE(s0)
        li      t1, KILLED
        beq     t0, t1, 1f
        la      a0, msg_status
        call    kputs
        ld      a0, P_XSTATUS(s0)
        call    kputdec
        j       2f
1:      la      a0, msg_killedby
        call    kputs
        ld      a0, P_XSTATUS(s0)
        call    cause_name              # trap.s
        call    kputs
2:      call    kputnl
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

        .section .rodata
msg_done:       .asciz "teachos: all processes are done\n"
msg_rpid:       .asciz "  pid "
msg_lparen:     .asciz " ("
msg_status:     .asciz "): exit status "
msg_killedby:   .asciz "): killed by "
msg_off:        .asciz "teachos: powering off\n"
name_count:     .asciz "count"
name_reader:    .asciz "reader"

        .data
        .balign 8
# the programs the processes run, one row per process: name, entry (user.s)
programs:
        .dword name_count, count_main
        .dword name_count, count_main
        .dword name_reader, reader_main
turn:           .dword 0                # the pid that may write to the console

        .bss
        .balign 16
procs:          .skip NPROC * PROC_SIZE
