# Automatic compression: what GNU as turns into 16-bit forms, and what it leaves alone.
    .text
_start:
    addi  a0, a0, 0        # c.mv a0, a0 in GNU as
    addi  sp, sp, 0        # c.mv
    addi  a0, zero, 0      # c.li
    addi  a0, a0, 1        # c.addi
    addi  zero, zero, 1    # no compressed form
    addi  s0, sp, 0        # c.mv (c.addi4spn needs a nonzero immediate)
    addi  s0, sp, 8        # c.addi4spn
    addi  a0, sp, 2        # not a multiple of 4
    addi  sp, sp, 496
    addi  sp, sp, 512      # too big for c.addi16sp
    addiw zero, a0, 1
    slli  a0, a0, 0        # shift by 0 stays 32-bit
    slli  zero, zero, 1
    srli  a0, a0, 0
    srli  a6, a6, 1        # a6 is not a compressed register
    andi  a0, a0, 32
    lw    a0, 0(sp)        # c.lwsp
    lw    zero, 0(sp)      # rd = x0 stays 32-bit
    sw    zero, 0(sp)      # c.swsp accepts x0
    ld    a0, 512(sp)      # too far
    jalr  zero, 0(zero)    # c.jr needs rs != x0
    jalr  ra, 4(a0)
    jalr  t0, 0(a0)
    lui   a0, 0
    lui   a0, 0x20
    lui   a0, 0xfffdf
    add   zero, a0, a1
    ret
