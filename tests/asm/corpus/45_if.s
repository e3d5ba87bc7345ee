# Conditional assembly.
    .equ DEBUG, 1
    .equ LEVEL, 2
    .text
_start:
    .if DEBUG
    ebreak
    .else
    nop
    .endif
    .if LEVEL > 3
    li a0, 3
    .elseif LEVEL == 2
    li a0, 2
    .else
    li a0, 1
    .endif
    .if 0
    this is not assembled at all
    .if 1
    neither is this
    .endif
    .endif
    .ifdef DEBUG
    li a1, 1
    .endif
    .ifndef NOPE
    li a2, 1
    .endif
    .ifeq LEVEL - 2
    li a3, 1
    .endif
    ret
