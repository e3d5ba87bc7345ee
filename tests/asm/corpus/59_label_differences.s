# Distances between labels known while reading: ". - msg" right after a string is a
# constant, usable by li, .if and .skip, as in GNU as.
    .section .rodata
msg:
    .ascii "Hello from a label difference\n"
    .equ MSG_LEN, . - msg
table:
    .word 1, 2, 3, 4
    .equ TABLE_WORDS, (. - table) / 4
    .if TABLE_WORDS != 4
    .error "table has the wrong size"
    .endif
    .skip 8 - (. - table) % 8
    .text
_start:
    la   a1, msg
    li   a2, MSG_LEN
    .rept TABLE_WORDS
    nop
    .endr
    ret
