# iobound.s -- an I/O-bound guest: a short burst of work, then sleep in wfi until a timer.
#
# Like a server waiting for requests: most of the time its vCPU is blocked, so it leaves
# its pCPU to others, and what matters is how soon it runs once its timer fires (the wake
# latency -- Xen's Credit scheduler BOOSTs such vCPUs).  Interrupts stay globally off
# (sstatus.SIE = 0): with sie.STIE set, a pending timer still ends wfi, and the guest
# simply carries on after it.  `rounds` counts the bursts done.

        .equ    WORK, 2000              # loop iterations per burst (2 instructions each)
        .equ    SLEEP, 50               # mtime ticks (100 ns each) to sleep after a burst
        .equ    SBI_TIME, 0x54494D45

        .text
        .globl _start
_start:
        li      t0, 1 << 5              # sie.STIE: the timer may end wfi
        csrs    sie, t0
        la      s0, rounds
loop:   li      t1, WORK
1:      addi    t1, t1, -1
        bnez    t1, 1b
        ld      t2, 0(s0)
        addi    t2, t2, 1
        sd      t2, 0(s0)
        rdtime  a0
        addi    a0, a0, SLEEP
        li      a7, SBI_TIME            # set_timer(now + SLEEP): also clears the last tick
        li      a6, 0
        ecall
        wfi                             # blocked until the timer is due
        j       loop

        .data
        .balign 8
        .globl rounds
rounds: .dword 0
