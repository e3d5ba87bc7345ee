# Compressed instructions of quadrant 1, written explicitly.
    .text
_start:
    c.nop
    c.addi  a0, -32
    c.addi  t0, 31
    c.addiw a1, 0
    c.addiw s2, -1
    c.li    ra, 5
    c.li    t6, -32
    c.addi16sp sp, -512
    c.addi16sp sp, 496
    c.lui   a0, 1
    c.lui   t0, 0xfffe0
    c.srli  a0, 1
    c.srai  s1, 63
    c.andi  a5, -1
    c.sub   a0, a1
    c.xor   s0, s1
    c.or    a2, a3
    c.and   a4, a5
    c.subw  a0, a0
    c.addw  s1, a0
1:  c.j     1b
    c.beqz  a0, 1b
    c.bnez  s1, 2f
    c.j     2f
2:  ret
