# march: rv64gc
# The floating-point pseudo-instructions GNU as accepts
    .text
    fmv.s   fa0, fa1
    fmv.d   fa0, fa1
    fabs.s  ft0, ft1
    fabs.d  ft0, ft1
    fneg.s  fs0, fs1
    fneg.d  fs0, fs1
    fgt.s   a0, fa0, fa1        # flt.s with the operands swapped
    fge.s   a0, fa0, fa1
    fgt.d   a0, fa0, fa1
    fge.d   a0, fa0, fa1
    fmv.x.s a0, fa0             # old names of fmv.x.w / fmv.w.x
    fmv.s.x fa0, a0
    frcsr   a0
    fscsr   a1
    fscsr   a0, a1
    frsr    a2                  # old names of frcsr / fscsr
    fssr    a2
    fssr    a2, a3
    frrm    t0
    fsrm    t1
    fsrm    t0, t1
    frflags a5
    fsflags a4
    fsflags a3, a4
    fsrmi   1
    fsrmi   a0, 4
    fsflagsi 0x1f
    fsflagsi a0, 0
    csrr    a0, fcsr
    csrw    frm, a1
    csrwi   fflags, 0
