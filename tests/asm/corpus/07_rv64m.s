# The M extension: multiply and divide.
    .text
_start:
    mul    a0, a1, a2
    mulh   a0, a1, a2
    mulhsu a0, a1, a2
    mulhu  a0, a1, a2
    div    a0, a1, a2
    divu   a0, a1, a2
    rem    a0, a1, a2
    remu   a0, a1, a2
    mulw   t0, t1, t2
    divw   t0, t1, t2
    divuw  t0, t1, t2
    remw   t0, t1, t2
    remuw  t0, t1, t2
    ret
