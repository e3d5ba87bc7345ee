# .irp: repeat a block once per value.
    .text
_start:
    .irp reg, s0, s1, s2, s3
    sd \reg, 0(sp)
    .endr
    .irp n, 1, 2, 3
    addi a0, a0, \n
    .endr
    .irpc c, 0123
    li a\c, \c
    .endr
    ret
