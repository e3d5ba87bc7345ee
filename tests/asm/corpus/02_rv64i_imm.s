# Register-immediate instructions and the edges of their immediates.
    .text
_start:
    addi  a0, a1, -2048
    addi  a0, a1, 2047
    slti  t0, t1, -1
    sltiu t0, t1, 1
    xori  a2, a3, 0x7ff
    ori   a2, a3, -0x800
    andi  s0, s1, 0xf0
    andi  s0, s0, -32       # c.andi
    andi  a0, a0, 31        # c.andi
    slli  a0, a1, 63
    srli  a0, a1, 1
    srai  a0, a1, 32
    slli  t0, t0, 3         # c.slli
    srli  s0, s0, 12        # c.srli
    srai  a5, a5, 63        # c.srai
    addi  sp, sp, -64       # c.addi16sp
    addi  sp, sp, 16        # c.addi (GNU as prefers it to c.addi16sp)
    addi  a0, sp, 1020      # c.addi4spn
    addi  s1, sp, 4         # c.addi4spn
    addi  a0, zero, 31      # c.li
    addi  a0, a0, -32       # c.addi
    addi  a0, a1, 0         # c.mv
    addi  zero, zero, 0     # c.nop
    lui   a0, 0xfffff       # c.lui
    lui   s0, 1             # c.lui
    lui   sp, 1             # sp cannot be c.lui
    lui   a0, 0x80000
    auipc t0, 0x12345
    ret
