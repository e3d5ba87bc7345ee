# march: rv64imafc
# F without D: c.fld/c.fsd need D, so fld is not there at all and flw stays 32-bit
    .text
    flw     fs0, 8(a0)
    fsw     fs0, 0(sp)
    fadd.s  fa0, fa1, fa2, rmm
    fcvt.s.lu fa0, a0
    fmv.x.w a0, fa0
    fneg.s  fa0, fa0
