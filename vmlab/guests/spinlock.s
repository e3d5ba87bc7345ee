# spinlock.s -- two vCPUs share one test-and-set spinlock (lock-holder preemption).
#
# vCPU 0 starts vCPU 1 (SBI HSM hart_start); then both loop: take the lock, work HOLD
# iterations inside, release it, work OUTSIDE iterations.  A vCPU that finds the lock taken
# spins, and every failed try is counted in spins[hart] -- wasted work.  If the holder's
# vCPU is preempted, the other spins for its whole slice: the lock-holder preemption
# problem.  With YIELD_AFTER > 0 a vCPU that failed that many times in a row gives its pCPU
# away with the paravirtual yield (SBI extension PV_EXT), so the holder can run sooner.

        .equ    HOLD, 500
        .equ    OUTSIDE, 500
        .equ    YIELD_AFTER, 0          # 0: never yield, just spin
        .equ    PV_EXT, 0x0A000001      # vmlab's paravirtual yield (firmware-specific range)
        .equ    SBI_HSM, 0x48534D

        .text
        .globl _start
_start:
        bnez    a0, common              # a0 = hart id; vCPU 1 goes straight to work
        li      a0, 1
        la      a1, _start
        li      a2, 0
        li      a7, SBI_HSM             # hart_start(1, _start, 0)
        li      a6, 0
        ecall
        li      a0, 0
common: slli    t0, a0, 3
        la      s1, lock
        la      s2, spins
        add     s2, s2, t0
        la      s3, acquired
        add     s3, s3, t0
loop:   li      s4, 0                   # failed tries since the last yield
try:    li      t0, 1
        amoswap.w.aq t1, t0, (s1)
        beqz    t1, got
        ld      t3, 0(s2)               # a wasted spin
        addi    t3, t3, 1
        sd      t3, 0(s2)
        addi    s4, s4, 1
        li      t4, YIELD_AFTER
        beqz    t4, try
        blt     s4, t4, try
        li      a7, PV_EXT              # yield the pCPU to someone else
        li      a6, 0
        ecall
        li      s4, 0
        j       try
got:    li      t1, HOLD
1:      addi    t1, t1, -1
        bnez    t1, 1b
        amoswap.w.rl zero, zero, (s1)   # release
        ld      t3, 0(s3)
        addi    t3, t3, 1
        sd      t3, 0(s3)
        li      t1, OUTSIDE
1:      addi    t1, t1, -1
        bnez    t1, 1b
        j       loop

        .data
        .balign 8
        .globl lock, spins, acquired
lock:     .dword 0
spins:    .dword 0, 0
acquired: .dword 0, 0
