# syscall.s -- the system calls: what a process may ask the kernel to do.
#
# A process puts the call's number in a7 and its arguments in a0, a1, then runs
# `ecall`. That traps to S-mode (scause = 8) with every register as the process
# left it, saved in its trap frame; the result goes back in the frame's a0.
#
#   a7  call                   returns
#   1   write(buf, len)        len; sleeps until the process has the console turn
#   2   getpid()               the caller's pid
#   3   yield()                0; gives the CPU -- and the console turn -- away
#   4   exit(status)           never returns
#   5   readblk(sector, buf)   0, or -1 if there is no disk; 512 bytes into buf
#
# The kernel must never trust a pointer from a process: it checks that the whole
# buffer lies in the user's part of the address space before touching it. Then it
# reads or writes it through the process's own page table (satp still selects it
# while we handle its trap), with sstatus.SUM set: without SUM, S-mode may not
# touch U pages at all -- a guard against the kernel following a bad pointer.

        .text
# syscall(a0 = the caller's trap frame). The handler gets the frame too.
syscall:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        mv      s0, a0
        ld      t0, TF_EPC(s0)
        addi    t0, t0, 4               # return *after* the ecall (4 bytes)
        sd      t0, TF_EPC(s0)
        ld      t0, TF_A7(s0)
        li      t1, NSYSCALL
        bltu    t0, t1, 1f
        li      t0, 0                   # an unknown number: entry 0, sys_bad
1:      slli    t0, t0, 3
        la      t1, syscalls
        add     t1, t1, t0
        ld      t1, 0(t1)
        mv      a0, s0
        jalr    t1                      # a0 = the result
        sd      a0, TF_A0(s0)           # into the caller's frame (not current's:
        ld      ra, 8(sp)               # the handler may have switched)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

sys_bad:
        li      a0, -1
        ret

sys_getpid:
        j       current_pid             # proc.s

sys_yield:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    pass_turn
        call    schedule
        li      a0, 0
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

sys_exit:
        ld      a0, TF_A0(a0)
        j       proc_exit

# sys_write(frame): print len bytes of the caller's buffer on the console.
# Without the turn, the caller sleeps: we step sepc back onto the ecall, and ask
# the scheduler to set it aside asleep (C_SLEEP) and run someone else. When the
# turn is passed to it, it is woken (proc.s) and makes the same call again.
sys_write:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        mv      s0, a0
        call    has_turn
        beqz    a0, 2f
        ld      a0, TF_A0(s0)
        ld      a1, TF_A1(s0)
        li      a2, USER_TEXT
        call    user_range
        beqz    a0, 1f
        la      a0, console_lock        # smp.s: no other hart's bytes in between
        call    acquire
        li      t0, SSTATUS_SUM
        csrs    sstatus, t0             # may touch U pages...
        ld      a0, TF_A0(s0)
        ld      a1, TF_A1(s0)
        call    kwrite
        li      t0, SSTATUS_SUM
        csrc    sstatus, t0             # ...and no longer
        la      a0, console_lock
        call    release
        ld      a0, TF_A1(s0)           # result: all len bytes written
        j       3f
1:      li      a0, -1                  # a bad buffer
        j       3f
2:      ld      t0, TF_EPC(s0)          # not our turn: sleep
        addi    t0, t0, -4
        sd      t0, TF_EPC(s0)
        li      t0, 1
        sd      t0, C_SLEEP(tp)
        call    schedule
        ld      a0, TF_A0(s0)           # leave a0 as it was, for the retry
3:      ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# sys_readblk(frame): read disk sector a0 into the caller's 512-byte buffer a1.
sys_readblk:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        mv      s0, a0
        ld      a0, TF_A1(s0)
        li      a1, 512
        li      a2, USER_STACK          # the text page is read-only: not there
        call    user_range
        beqz    a0, 1f
        ld      a0, TF_A0(s0)
        call    virtio_read             # virtio.s: into disk_buf
        bnez    a0, 2f
        li      t0, SSTATUS_SUM
        csrs    sstatus, t0
        ld      t0, TF_A1(s0)           # copy the 512 bytes to the user
        la      t1, disk_buf            # (byte by byte: buf may be unaligned)
        addi    t2, t1, 512
3:      lbu     t3, 0(t1)
        sb      t3, 0(t0)
        addi    t0, t0, 1
        addi    t1, t1, 1
        bltu    t1, t2, 3b
        li      t0, SSTATUS_SUM
        csrc    sstatus, t0
        li      a0, 0
        j       2f
1:      li      a0, -1
2:      ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# user_range(a0 = va, a1 = len, a2 = lowest allowed va) -> a0 = 1 if all of
# [va, va + len) lies in [a2, USER_TOP). Written so that no sum can overflow.
user_range:
        bltu    a0, a2, 1f
        li      t0, USER_TOP
        bgtu    a0, t0, 1f
        sub     t0, t0, a0              # room left above va
        bgtu    a1, t0, 1f
        li      a0, 1
        ret
1:      li      a0, 0
        ret

        .data
        .balign 8
# the handlers, indexed by a7
syscalls:
        .dword sys_bad, sys_write, sys_getpid, sys_yield, sys_exit, sys_readblk
