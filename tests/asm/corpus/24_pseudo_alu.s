# One-instruction pseudo-instructions on registers.
    .text
_start:
    nop
    mv   a0, a1
    mv   t0, t1
    not  a0, a1
    neg  a0, a1
    negw a0, a1
    sext.w a0, a1
    seqz a0, a1
    snez a0, a1
    sltz a0, a1
    sgtz a0, a1
    zext.b a0, a1
    ret
