# li with 12-bit constants: one addi (c.li when it fits 6 bits).
    .text
_start:
    li a0, 0
    li a0, 1
    li a0, -1
    li a0, 31
    li a0, -32
    li a0, 32
    li a0, -33
    li a0, 2047
    li a0, -2048
    li zero, 5
    li t6, 0x7ff
    ret
