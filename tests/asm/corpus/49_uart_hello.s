# Hello world on the virt board's 16550 UART.
    .equ UART0, 0x10000000
    .equ THR, 0
    .equ LSR, 5
    .equ LSR_THRE, 0x20
    .text
    .globl _start
_start:
    li    s0, UART0
    la    s1, msg
1:  lbu   a0, 0(s1)
    beqz  a0, 3f
2:  lbu   t0, LSR(s0)
    andi  t0, t0, LSR_THRE
    beqz  t0, 2b
    sb    a0, THR(s0)
    addi  s1, s1, 1
    j     1b
3:  li    t0, 0x100000
    li    t1, 0x5555
    sw    t1, 0(t0)
    j     .
    .section .rodata
msg: .string "Hello from vmlab\n"
