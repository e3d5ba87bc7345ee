# march: rv64gc
# Arithmetic with every rounding mode, and without one (dyn, the mode in frm)
    .text
    fadd.s  fa0, fa1, fa2
    fsub.s  ft0, ft1, ft2
    fmul.s  fs0, fs1, fs2
    fdiv.s  ft8, ft9, ft10
    fsqrt.s fa7, fa6
    fadd.d  fa0, fa1, fa2
    fsub.d  ft0, ft1, ft2
    fmul.d  fs0, fs1, fs2
    fdiv.d  ft8, ft9, ft10
    fsqrt.d fa7, fa6
    .irp rm, rne, rtz, rdn, rup, rmm, dyn
    fadd.s  fa0, fa1, fa2, \rm
    fsub.s  f3, f4, f5, \rm
    fmul.s  f31, f0, f30, \rm
    fdiv.s  fa0, fa0, fa0, \rm
    fsqrt.s fa1, fa2, \rm
    fadd.d  fa0, fa1, fa2, \rm
    fsub.d  f3, f4, f5, \rm
    fmul.d  f31, f0, f30, \rm
    fdiv.d  fa0, fa0, fa0, \rm
    fsqrt.d fa1, fa2, \rm
    .endr
