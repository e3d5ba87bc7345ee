# march: rv64gc
# Sign injection, min/max, compares, classify, conversions and moves
    .text
    fsgnj.s  fa0, fa1, fa2
    fsgnjn.s fa0, fa1, fa2
    fsgnjx.s fa0, fa1, fa2
    fsgnj.d  fa0, fa1, fa2
    fsgnjn.d fa0, fa1, fa2
    fsgnjx.d fa0, fa1, fa2
    fmin.s   ft0, ft1, ft2
    fmax.s   ft0, ft1, ft2
    fmin.d   ft0, ft1, ft2
    fmax.d   ft0, ft1, ft2
    feq.s    a0, fa0, fa1
    flt.s    a1, fa0, fa1
    fle.s    t6, ft11, fs11
    feq.d    a0, fa0, fa1
    flt.d    a1, fa0, fa1
    fle.d    zero, ft0, ft1
    fclass.s a0, fa0
    fclass.d a0, fa0
    fcvt.w.s  a0, fa0
    fcvt.wu.s a0, fa0, rtz
    fcvt.l.s  a0, fa0, rne
    fcvt.lu.s a0, fa0, rdn
    fcvt.s.w  fa0, a0
    fcvt.s.wu fa0, a0, rup
    fcvt.s.l  fa0, a0, rmm
    fcvt.s.lu fa0, a0, dyn
    fcvt.w.d  a0, fa0, rtz
    fcvt.wu.d a0, fa0
    fcvt.l.d  a0, fa0, rtz
    fcvt.lu.d a0, fa0, rup
    fcvt.d.w  fa0, a0           # exact: no rounding mode (rm = 000)
    fcvt.d.wu fa0, zero
    fcvt.d.l  fa0, a0, rtz
    fcvt.d.lu fa0, a0
    fcvt.s.d  fa0, fa1
    fcvt.s.d  fa0, fa1, rne
    fcvt.d.s  fa0, fa1          # exact, rm = 000
    fmv.x.w   a0, fa0
    fmv.w.x   fa0, a0
    fmv.x.d   t0, ft0
    fmv.d.x   ft0, t0
