# Loads and stores of every width; compressed where GNU as compresses them.
    .text
_start:
    lb   a0, 0(a1)
    lh   a0, -2(a1)
    lw   a0, 2044(t0)
    ld   a0, -2048(t0)
    lbu  a0, 1(a1)
    lhu  a0, 2(a1)
    lwu  a0, 4(a1)
    sb   a0, 0(a1)
    sh   a0, 2(a1)
    sw   t0, 4(t1)
    sd   t0, 8(t1)
    lw   a0, 124(a1)        # c.lw
    ld   s0, 248(a5)        # c.ld
    sw   a2, 0(s1)          # c.sw
    sd   a3, 8(s0)          # c.sd
    lw   ra, 252(sp)        # c.lwsp
    ld   t0, 504(sp)        # c.ldsp
    sw   t6, 0(sp)          # c.swsp
    sd   ra, 8(sp)          # c.sdsp
    lw   a0, 128(a1)        # too far for c.lw
    ld   a0, 4(a1)          # misaligned for c.ld
    lw   a0, (a1)
    sd   s0, %lo(0x12345)(a0)
    ret
