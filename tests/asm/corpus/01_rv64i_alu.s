# RV64I register-register arithmetic, written once with compression off
# (so every 32-bit row is emitted) and once with it on.
    .text
    .globl _start
_start:
    .option push
    .option norvc
    add  a0, a1, a2
    sub  a0, a1, a2
    sll  t0, t1, t2
    slt  s2, s3, s4
    sltu s5, s6, s7
    xor  a3, a4, a5
    srl  t3, t4, t5
    sra  t6, s8, s9
    or   s10, s11, ra
    and  gp, tp, fp
    .option pop
    add  a0, a0, a1        # c.add
    add  s0, a5, s0        # c.add with the sources swapped
    sub  a0, a0, a1        # c.sub
    xor  s1, s1, a2        # c.xor
    or   a3, a3, a4        # c.or
    and  a5, a5, s0        # c.and
    and  a5, s1, a5        # c.and, swapped
    add  a0, zero, a1      # c.mv
    add  a0, a1, zero      # stays 32-bit, as in GNU as
    sub  a0, a1, a2        # no compressed form
    ret
