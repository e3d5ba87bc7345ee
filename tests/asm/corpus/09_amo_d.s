# Every 64-bit atomic memory operation in its four ordering flavours.
    .text
_start:
    .irp op, amoswap.d, amoadd.d, amoxor.d, amoand.d, amoor.d, amomin.d, amomax.d, amominu.d, amomaxu.d, sc.d
    .irp order, , .aq, .rl, .aqrl
    \op\order a0, a1, (a2)
    .endr
    .endr
    lr.d      a0, (a1)
    lr.d.aq   a0, 0(a1)
    lr.d.rl   a0, (a1)
    lr.d.aqrl a0, (a1)
    ret
