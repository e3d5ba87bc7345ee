# Every 32-bit atomic memory operation in its four ordering flavours.
    .text
_start:
    .irp op, amoswap.w, amoadd.w, amoxor.w, amoand.w, amoor.w, amomin.w, amomax.w, amominu.w, amomaxu.w, sc.w
    \op      a0, a1, (a2)
    \op\().aq   t0, t1, (t2)
    \op\().rl   s0, s1, (a3)
    \op\().aqrl a4, a5, (sp)
    .endr
    lr.w      a0, (a1)
    lr.w.aq   a0, (a1)
    lr.w.rl   a0, (a1)
    lr.w.aqrl a0, (a1)
    ret
