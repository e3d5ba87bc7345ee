# jal/jalr, lui/auipc: the control-transfer and upper-immediate instructions.
    .text
_start:
    jal  ra, func
    jal  t0, func
    jal  zero, after        # c.j
    jalr ra, 0(a0)          # c.jalr
    jalr zero, 0(a1)        # c.jr
    jalr t0, 8(a1)
    jalr a0, -4(t1)
after:
    .equ  ROM_ENTRY, 0x1000
    lui   t0, %hi(ROM_ENTRY)
    jalr  ra, %lo(ROM_ENTRY)(t0)
    auipc t1, 0
    j     _start
func:
    ret
