# march: rv64gc
# The fused multiply-adds: rs3 lives in bits 31:27
    .text
    fmadd.s  fa0, fa1, fa2, fa3
    fmsub.s  ft0, ft1, ft2, ft3, rne
    fnmsub.s fs0, fs1, fs2, fs3, rtz
    fnmadd.s f31, f30, f29, f28, rdn
    fmadd.d  fa0, fa1, fa2, fa3, rup
    fmsub.d  ft0, ft1, ft2, ft3, rmm
    fnmsub.d fs0, fs1, fs2, fs3, dyn
    fnmadd.d f31, f30, f29, f28
    fmadd.d  f0, f0, f0, f0, rtz
