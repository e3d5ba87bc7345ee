# Forms GNU as accepts that real third-party sources use: the offset of jr/jalr as its own
# operand, and C's integer suffixes in constants shared with C headers
    .text
_start:
    jr      a0, 4
    jr      4(a0)
    jr      (a0)
    jr      a0
    jalr    a0, 4
    jalr    a1, a0, 4
    jalr    a1, 4(a0)
    jalr    4(a0)
    jalr    (a0)
    jalr    a1, (a0)
    jalr    a1, a0
    jalr    a0
    li      a0, (1L << 38) - 4096
    li      a1, 1UL
    li      a2, 10u
    li      a3, 0x10ULL
    li      a4, 10LL
    li      a5, 10uL
    li      t0, 10Ul
    li      t1, 10ull
    li      t2, 0b101ul
    li      s0, 017L
    addi    a0, a0, 100U - 1L
    .equ    PAGE, (1UL << 12)
    li      s1, PAGE * 3ul
    .data
    .dword  5l, 5U, 0xffffffffffffffffULL
    .word   (1u << 31)
