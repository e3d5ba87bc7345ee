# Numeric local labels: 1b is the nearest 1: before, 1f the nearest after.
    .text
_start:
    li   a0, 3
1:  addi a0, a0, -1
    bnez a0, 1b
    j    1f
1:  li   a1, 2
1:  addi a1, a1, -1
    bgtz a1, 1b
    beqz a1, 2f
    nop
2:  j    3f
3:  la   a2, 1b
    ret
