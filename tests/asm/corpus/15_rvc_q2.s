# Compressed instructions of quadrant 2, written explicitly.
    .text
_start:
    c.slli  a0, 1
    c.slli  t6, 63
    c.lwsp  ra, 0(sp)
    c.lwsp  a0, 252(sp)
    c.ldsp  s0, 504(sp)
    c.ldsp  t0, 8(sp)
    c.swsp  a0, 252(sp)
    c.sdsp  ra, 504(sp)
    c.mv    a0, a1
    c.add   t0, t1
    c.jr    ra
    c.jalr  a0
    c.ebreak
    c.slli64 a0             # RV64 hints: shift by 0
    c.srli64 s0
    c.srai64 a5
