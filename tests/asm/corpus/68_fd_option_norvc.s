# march: rv64gc
# .option norvc turns compression off for FP accesses too
    .text
    fld     fs1, 8(a0)
    .option push
    .option norvc
    fld     fs1, 8(a0)
    fsd     ft0, 16(sp)
    .option pop
    fsd     ft0, 16(sp)
    .option norvc
    fld     ft0, 0(sp)
    .option rvc
    fld     ft0, 0(sp)
