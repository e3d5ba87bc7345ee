# Alignment in code: padding is made of nops (c.nop for the odd halfword).
    .text
_start:
    nop
    .align 2
    add a0, a0, a1
    .align 3
    nop
    .p2align 4
    ret
    .balign 8
    li a0, 1
    .byte 1
    .align 2
    .byte 1, 2, 3
    .balign 16
    nop
    .p2align 3, 0
    nop
    .balign 32, 0, 4
    nop
    .p2align 5,,8
    ret
