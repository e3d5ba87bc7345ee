# proc.s -- processes: the process table, round-robin scheduling, the console turn.
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
#              current  (the process whose frame sscratch points at)
#
# Scheduling is round robin: on every timer tick (and whenever a process yields,
# waits or dies) the next RUNNABLE process after the current one, in table order,
# gets the CPU. "Gets the CPU" only means: `current` points at it and satp selects
# its page table; trap.s then restores *its* frame and returns to *its* code.
#
# The console turn. Processes run in slices whose length depends on timing: a
# different timer period, a slower emulator or a hypervisor moves where the ticks
# fall. If processes printed whenever they liked, their lines would come out in a
# different order each time. So the console is handed round like a talking stick:
# `turn` holds the pid that may write; a write from anyone else waits (syscall.s).
# The holder passes it on when it yields, exits or is killed, to the next runnable
# process in pid order. Output order then depends only on the programs, never on
# when ticks happen -- and the same output on QEMU, on vmlab, and in a VM is a test.

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

# run_first: start process 1. sret returns to the mode in sstatus.SPP: clear it
# for U-mode. (SPIE becomes SIE after sret; U-mode takes S interrupts anyway.)
run_first:
        la      a0, procs
        la      t0, current
        sd      a0, 0(t0)
        ld      a0, P_SATP(a0)
        call    vm_switch
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        li      t0, SSTATUS_SPIE
        csrs    sstatus, t0
        call    current_frame
        j       trap_return             # trap.s: load the frame, sret

# current_frame -> a0 = the running process's trap frame
current_frame:
        la      a0, current
        ld      a0, 0(a0)
        addi    a0, a0, P_FRAME
        ret

# current_pid -> a0 = the running process's pid
current_pid:
        la      a0, current
        ld      a0, 0(a0)
        ld      a0, P_PID(a0)
        ret

# next_runnable(a0 = struct proc) -> a0 = the first RUNNABLE process after it in
# table order, wrapping around and trying a0 itself last; 0 if there is none.
next_runnable:
        la      t0, procs
        li      t1, NPROC * PROC_SIZE
        add     t1, t0, t1              # t1 = end of the table
        li      t3, NPROC               # look at most at every slot once
1:      addi    a0, a0, PROC_SIZE
        bltu    a0, t1, 2f
        mv      a0, t0                  # past the end: wrap around
2:      ld      t2, P_STATE(a0)
        addi    t2, t2, -RUNNABLE
        beqz    t2, 3f
        addi    t3, t3, -1
        bnez    t3, 1b
        li      a0, 0
3:      ret

# schedule: give the CPU to the next runnable process (maybe the same one).
# When none is left, every process has finished: print the summary and stop.
schedule:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, current
        ld      a0, 0(t0)
        call    next_runnable
        beqz    a0, all_done
        la      t0, current
        ld      t1, 0(t0)
        beq     a0, t1, 1f              # the same process: nothing to switch
        sd      a0, 0(t0)
        ld      a0, P_SATP(a0)
        call    vm_switch               # vm.s: its page table (and ASID)
1:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# has_turn -> a0 = 1 if the running process may write to the console
has_turn:
        la      t0, current
        ld      t0, 0(t0)
        ld      t0, P_PID(t0)
        la      t1, turn
        ld      t1, 0(t1)
        sub     a0, t0, t1
        seqz    a0, a0
        ret

# pass_turn: if the running process holds the console turn, hand it to the next
# runnable process after it (itself, if it is the last one left).
pass_turn:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    has_turn
        beqz    a0, 2f
        la      t0, current
        ld      a0, 0(t0)
        call    next_runnable
        beqz    a0, 1f                  # nobody left: turn = 0
        ld      a0, P_PID(a0)
1:      la      t0, turn
        sd      a0, 0(t0)
2:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# proc_exit(a0 = status): the running process is done. Record how it ended, give
# away the turn and the CPU.
proc_exit:
        li      t1, EXITED
        j       1f
# kill(a0 = scause): the same, for a process the kernel stops.
kill:
        li      t1, KILLED
1:      la      t0, current
        ld      t0, 0(t0)
        sd      t1, P_STATE(t0)
        sd      a0, P_XSTATUS(t0)
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    pass_turn               # it is no longer runnable: not itself
        ld      ra, 8(sp)
        addi    sp, sp, 16
        j       schedule

# all_done: every process has exited or been killed. Print how each one ended,
# in pid order, and power off. (We are on the last process's page table, which
# maps the kernel like every other: nothing to switch.)
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

# report_steal: under a hypervisor that reports it (sbi.s), how long this hart
# was kept waiting while it could have run, e.g.
#   "teachos: steal time of hart 0: 1520 us"
report_steal:
        la      t0, have_sta
        ld      t0, 0(t0)
        beqz    t0, 1f                  # nobody reports it (bare hardware): nothing
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, msg_steal
        call    kputs
        li      a0, 0                   # (the hart id: one hart for now)
        call    kputdec
        la      a0, msg_colon
        call    kputs
        la      a0, sta_rec
        call    sta_steal
        li      t0, 1000
        divu    a0, a0, t0              # ns -> us
        call    kputdec
        la      a0, msg_us
        call    kputs
        ld      ra, 8(sp)
        addi    sp, sp, 16
1:      ret

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
msg_steal:      .asciz "teachos: steal time of hart "
msg_us:         .asciz " us\n"
name_count:     .asciz "count"
name_reader:    .asciz "reader"

        .data
        .balign 8
# the programs the processes run, one row per process: name, entry (user.s)
programs:
        .dword name_count, count_main
        .dword name_count, count_main
        .dword name_reader, reader_main
current:        .dword 0                # the running process (a struct proc)
turn:           .dword 0                # the pid that may write to the console

        .bss
        .balign 16
procs:          .skip NPROC * PROC_SIZE
