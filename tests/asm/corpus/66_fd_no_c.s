# march: rv64imafd
# Without C nothing is compressed, fld/fsd at sp included
    .text
    fld     fs1, 8(a0)
    fsd     fs0, 0(s1)
    fld     ft0, 0(sp)
    fsd     fs11, 0(sp)
    flw     fa0, 4(sp)
    fmv.d   fa0, fa1
    fadd.d  fa0, fa1, fa2, rtz
    fld     fa2, value, t1
value:  .dword 0
