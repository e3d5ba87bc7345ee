# The RV64 "word" instructions: 32-bit results, sign-extended.
    .text
_start:
    addw  a0, a1, a2
    subw  a0, a1, a2
    sllw  t0, t1, t2
    srlw  t0, t1, t2
    sraw  t0, t1, t2
    addiw a0, a1, -1
    slliw a0, a1, 31
    srliw a0, a1, 1
    sraiw a0, a1, 17
    addw  a0, a0, a1        # c.addw
    addw  a1, a0, a1        # c.addw, swapped
    subw  s0, s0, s1        # c.subw
    addiw a2, a2, 7         # c.addiw
    addiw a2, a2, 0         # c.addiw (sext.w)
    sext.w a3, a3
    sext.w a3, a4
    negw  a0, a1
    ret
