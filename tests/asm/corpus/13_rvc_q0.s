# Compressed instructions of quadrant 0, written explicitly.
    .text
_start:
    c.addi4spn a0, sp, 4
    c.addi4spn s0, sp, 1020
    c.lw   a0, 0(a1)
    c.lw   s1, 124(a5)
    c.ld   a2, 0(a3)
    c.ld   a4, 248(s0)
    c.sw   a0, 64(a1)
    c.sd   a5, 120(s1)
    c.unimp
    ret
