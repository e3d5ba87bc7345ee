# user.s -- the user programs: code that runs in U-mode, in its own address space.
#
# All of it fits in one page, which every process maps at USER_TEXT (0x1000),
# readable and executable but not writable. It is assembled inside the kernel's
# .text, at kernel addresses, yet runs at 0x1000: that works because every jump,
# branch, call and `la` here is pc-relative (auipc + offset), so code that moves
# as a block still finds itself. It must never use a kernel address -- nor could
# it: those pages lack the U bit, and touching one is a page fault.
#
#   0x1000 +-------------------------+
#          | ecall stubs: write, ... |   the system calls (syscall.s)
#          | puts, putdec, say       |   a tiny C library
#          | count_main              |   pids 1 and 2
#          | reader_main             |   pid 3
#          | strings                 |
#   0x2000 +-------------------------+
#          | stack (per process)     |
#   0x3000 +-------------------------+
#
# count (pids 1 and 2): ROUNDS times, compute a sum in a long loop -- long enough
# that timer ticks interrupt it, so the kernel really preempts it -- then print one
# line and yield. reader (pid 3): read sector 0 of the disk and print the text on
# it, then try to read the kernel's memory, which gets it killed.

        .equ WORK,      1000000         # loop iterations per round (4 instructions each)
        .equ ROUNDS,    3

        .text
        .balign PGSIZE                  # a page of its own: nothing else is shared
user_start:

# ---- system calls: number in a7, arguments in a0/a1, result in a0 ---------------
write:  li      a7, SYS_write
        ecall
        ret
getpid: li      a7, SYS_getpid
        ecall
        ret
yield:  li      a7, SYS_yield
        ecall
        ret
exit:   li      a7, SYS_exit
        ecall
readblk:
        li      a7, SYS_readblk
        ecall
        ret

# ---- a tiny library --------------------------------------------------------------
# puts(a0 = string): write it (up to its NUL)
puts:
        mv      a1, a0
1:      lbu     t0, 0(a1)
        beqz    t0, 2f
        addi    a1, a1, 1
        j       1b
2:      sub     a1, a1, a0              # length
        j       write                   # a tail call

# putdec(a0 = number): write it in decimal (digits built backwards on the stack)
putdec:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        addi    a1, sp, 24              # a1 = end of the digits
        mv      t1, a1
        li      t2, 10
1:      remu    t0, a0, t2
        divu    a0, a0, t2
        addi    t0, t0, '0'
        addi    t1, t1, -1
        sb      t0, 0(t1)
        bnez    a0, 1b
        mv      a0, t1
        sub     a1, a1, t1              # length
        call    write
        ld      ra, 24(sp)
        addi    sp, sp, 32
        ret

# say(a0 = string): write "pid N: " and then the string
say:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        mv      s0, a0
        la      a0, s_pid
        call    puts
        call    getpid
        call    putdec
        la      a0, s_colon
        call    puts
        mv      a0, s0
        call    puts
        ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# ---- count: pids 1 and 2 -----------------------------------------------------------
# "pid 1: round 2 of 3, sum 1000001000000"
count_main:
        call    getpid
        mv      s0, a0                  # s0 = pid
        li      s1, 1                   # s1 = round
        li      s2, 0                   # s2 = the sum, over all rounds
1:      li      t0, WORK                # the CPU-bound part: no system call,
2:      mul     t1, t0, s0              # so only a timer tick can take the CPU
        add     s2, s2, t1              # away from here
        addi    t0, t0, -1
        bnez    t0, 2b
        la      a0, s_round
        call    say
        mv      a0, s1
        call    putdec
        la      a0, s_of
        call    puts
        mv      a0, s2
        call    putdec
        la      a0, s_nl
        call    puts
        call    yield                   # let the next process have its turn
        addi    s1, s1, 1
        li      t0, ROUNDS
        ble     s1, t0, 1b
        li      a0, 0
        call    exit

# ---- reader: pid 3 -----------------------------------------------------------------
reader_main:
        addi    sp, sp, -512            # a sector's worth of buffer on the stack
        li      a0, 0
        mv      a1, sp
        call    readblk
        bltz    a0, 3f
        la      a0, s_disk
        call    say
        mv      a0, sp                  # print the text up to a NUL or a newline
        mv      a1, sp
        addi    t2, sp, 512
1:      bgeu    a1, t2, 2f
        lbu     t0, 0(a1)
        beqz    t0, 2f
        addi    t0, t0, -'\n'
        beqz    t0, 2f
        addi    a1, a1, 1
        j       1b
2:      sub     a1, a1, a0
        call    write
        la      a0, s_nl
        call    puts
        j       4f
3:      la      a0, s_nodisk
        call    say
4:      la      a0, s_peek
        call    say
        li      t0, KERNBASE            # a kernel address: mapped, but not U
        ld      t0, 0(t0)               # -> load page fault: the kernel kills us
        la      a0, s_alive
        call    say
        li      a0, 1
        call    exit

s_pid:          .asciz "pid "
s_colon:        .asciz ": "
s_round:        .asciz "round "
s_of:           .asciz " of 3, sum "
s_nl:           .asciz "\n"
s_disk:         .asciz "the disk says: "
s_nodisk:       .asciz "there is no disk to read\n"
s_peek:         .asciz "now reading kernel memory at 0x80200000\n"
s_alive:        .asciz "still alive?! the kernel is not protected\n"

        .balign PGSIZE
user_end:

        .bss
        .balign 8
bss_end:                                # boot.s clears .bss up to here
