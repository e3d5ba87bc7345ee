# memcpy and memset: byte loops and doubleword loops.
    .text
    .globl memcpy, memset
_start:
    la   a0, dst
    la   a1, src
    li   a2, 64
    call memcpy
    la   a0, dst
    li   a1, 0
    li   a2, 64
    call memset
    ebreak
memcpy:
    mv   t6, a0
    or   t0, a0, a1
    andi t0, t0, 7
    bnez t0, 2f
1:  sltiu t1, a2, 8
    bnez t1, 2f
    ld   t2, 0(a1)
    sd   t2, 0(t6)
    addi a1, a1, 8
    addi t6, t6, 8
    addi a2, a2, -8
    j    1b
2:  beqz a2, 3f
    lbu  t2, 0(a1)
    sb   t2, 0(t6)
    addi a1, a1, 1
    addi t6, t6, 1
    addi a2, a2, -1
    j    2b
3:  ret
memset:
    add  a2, a2, a0
1:  bgeu a0, a2, 2f
    sb   a1, 0(a0)
    addi a0, a0, 1
    j    1b
2:  ret
    .data
    .balign 8
src: .fill 64, 1, 0x5a
    .bss
    .balign 8
dst: .zero 64
