# la and lla: pc-relative addresses of symbols in other sections.
    .text
_start:
    la   a0, message
    lla  a1, message
    la   a2, message + 4
    lla  a3, buffer
    la   sp, stack_top
    .equ UART, 0x10000000
    la   t0, UART           # a constant: GNU as loads it as li would (32-bit path)
    lla  t1, 5
    la   t2, 0xfff
    j    _start

    .section .rodata
message: .asciz "hello"

    .bss
buffer: .zero 64
    .balign 16
    .skip 4096
stack_top:
