# .rept: repeat a block.
    .text
_start:
    .rept 4
    addi a0, a0, 1
    .endr
    .rept 0
    ebreak
    .endr
    .rept 2
    .rept 2
    nop
    .endr
    .endr
    ret
    .data
    .rept 3
    .word 0xabcd
    .endr
