# Sign and zero extension without Zbb (two shifts), and the old names scall/sbreak.
    .text
_start:
    sext.b a0, a1
    sext.h a0, a1
    zext.h s0, s1
    zext.w t0, t1
    zext.b a2, a3
    sext.w a4, a5
    scall
    sbreak
    .option norvc
    sbreak
    zext.w a0, a0
    .option rvc
    ret
