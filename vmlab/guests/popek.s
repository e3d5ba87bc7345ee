# popek.s -- a kernel that a trap-and-emulate hypervisor gets wrong, on a hart with a flaw.
#
# Popek and Goldberg (1974): a machine can be virtualized by trap-and-emulate if every
# *sensitive* instruction (one whose result depends on, or changes, the privileged state)
# is also *privileged* (it traps when run outside the most privileged mode). The 1980s x86
# broke the rule: PUSHF and SMSW read privileged state in user mode without trapping.
#
# RISC-V keeps the rule: in U-mode, `csrr t1, sstatus` raises an illegal-instruction
# trap, so a hypervisor that runs this kernel in U-mode sees every read and answers with
# the kernel's *virtual* sstatus. The machine's Popek-Goldberg quirk (ctl C_QUIRKS,
# Q_SENSITIVE_READ) breaks it on purpose: the read no longer traps in U-mode, it returns
# the *real* sstatus -- the hypervisor's, in which SIE is always 0.
#
# The kernel: for each bit i of KEY, switch interrupts on (csrsi) if the bit is 1 or
# off (csrci) if it is 0, then read sstatus back and put its SIE bit into ANSWER bit i.
# (Like Linux's local_irq_save: "were interrupts on?") Bare metal, or virtualized on a
# hart without the quirk, ANSWER == KEY. With the quirk and plain trap-and-emulate, the
# csrsi/csrci still trap and are emulated, but the reads return 0: ANSWER == 0.
#
# It prints "answer=<hex>" on the UART and powers off through SBI SRST. It starts at
# _start in M-mode on the bare machine (a few lines of firmware), or at s_start in
# (virtual) S-mode as a guest.

        .option norvc
        .ifndef KEY
        .equ    KEY, 0x5A3C96E1         # the lab gives every student their own
        .endif
        .ifndef BITS
        .equ    BITS, 32                # how many bits of KEY (1..32)
        .endif
        .equ    SRST, 0x53525354
        .equ    UART, 0x10000000
        .equ    TEST, 0x100000

        .text
        .globl  _start
_start:                                 # bare only: M-mode firmware
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0
        li      t0, 0x800               # mstatus.MPP = S
        csrs    mstatus, t0
        la      t0, s_start
        csrw    mepc, t0
        mret
m_trap:                                 # the kernel's only ecall is SRST: power off
        li      t0, TEST
        li      t1, 0x5555
        sw      t1, 0(t0)
1:      j       1b

s_start:                                # S-mode: bare, or the guest's first instruction
        li      s1, KEY
        li      s0, 0                   # ANSWER
        li      s2, 0                   # bit index i
        li      s3, BITS
next_bit:
        srl     t0, s1, s2
        andi    t0, t0, 1
        beqz    t0, irq_off
        csrsi   sstatus, 2              # SIE = 1 (privileged: traps in U-mode)
        j       read_back
irq_off:
        csrci   sstatus, 2              # SIE = 0 (privileged: traps in U-mode)
read_back:
        csrr    t1, sstatus             # the sensitive read
        srli    t1, t1, 1
        andi    t1, t1, 1
        sll     t1, t1, s2
        or      s0, s0, t1
        addi    s2, s2, 1
        blt     s2, s3, next_bit
        csrci   sstatus, 2
        la      t0, answer
        sd      s0, 0(t0)
        la      a0, msg
        call    puts
        mv      a0, s0
        call    puthex
        li      a0, 10
        call    putc
        li      a7, SRST
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
2:      j       2b

putc:                                   # a0: one byte to the 16550 (its THR)
        li      t0, UART
        sb      a0, 0(t0)
        ret
puts:                                   # a0: a NUL-terminated string
        mv      t2, a0
        mv      t3, ra
3:      lbu     a0, 0(t2)
        beqz    a0, 4f
        call    putc
        addi    t2, t2, 1
        j       3b
4:      mv      ra, t3
        ret
puthex:                                 # a0: 8 hex digits
        mv      t2, a0
        mv      t3, ra
        li      t4, 28
5:      srl     a0, t2, t4
        andi    a0, a0, 15
        addi    a0, a0, 48
        li      t5, 58
        blt     a0, t5, 6f
        addi    a0, a0, 39
6:      call    putc
        addi    t4, t4, -4
        bgez    t4, 5b
        mv      ra, t3
        ret

        .section .rodata
msg:    .asciz  "answer=0x"
        .data
        .balign 8
answer: .dword  0
