# Macros calling macros, local labels with \@, and .rept inside a macro.
    .macro delay n
    li   t0, \n
1:  addi t0, t0, -1
    bnez t0, 1b
    .endm
    .macro twice what, arg
    \what \arg
    \what \arg
    .endm
    .macro pad count
    .rept \count
    nop
    .endr
    .endm
    .macro mark
loop\@:
    j loop\@
    .endm
    .text
_start:
    delay 10
    twice delay, 3
    pad 3
    mark
    mark
    ret
