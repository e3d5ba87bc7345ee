# A machine-mode trap handler that saves registers and dispatches on mcause.
    .equ REGBYTES, 8
    .macro save n
    sd x\n, \n*REGBYTES(sp)
    .endm
    .macro restore n
    ld x\n, \n*REGBYTES(sp)
    .endm
    .text
    .globl _start
_start:
    la    t0, trap_entry
    csrw  mtvec, t0
    la    sp, stack_top
    li    t0, 0x1800
    csrc  mstatus, t0
    ecall
1:  wfi
    j     1b

    .balign 4
trap_entry:
    addi  sp, sp, -32*REGBYTES
    .irp n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    save \n
    .endr
    csrr  a0, mcause
    bltz  a0, interrupt
    csrr  a1, mepc
    addi  a1, a1, 4
    csrw  mepc, a1
    j     out
interrupt:
    slli  a0, a0, 1
    srli  a0, a0, 1
out:
    .irp n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    restore \n
    .endr
    addi  sp, sp, 32*REGBYTES
    mret

    .bss
    .balign 16
    .skip 4096
stack_top:
