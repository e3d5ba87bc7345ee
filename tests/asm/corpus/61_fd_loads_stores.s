# march: rv64gc
# F/D loads and stores: GNU as compresses fld/fsd (C and D both on), never flw/fsw on RV64
    .text
_start:
    flw     fa0, 0(a0)
    flw     ft11, -2048(t6)
    flw     fs0, 2047(sp)
    fsw     fa1, 4(a1)
    fsw     ft0, -4(s0)
    fld     fs1, 8(a0)          # c.fld: f8..f15 and x8..x15, offset a multiple of 8 up to 248
    fld     fa5, 248(a5)
    fld     fa5, 256(a5)        # too far for c.fld
    fld     fa6, 8(a0)          # f16 is not a compressed register
    fld     fa0, 8(t0)          # neither is x5
    fld     fa0, 12(a0)         # not a multiple of 8
    fsd     fs0, 0(s1)          # c.fsd
    fsd     fa3, 120(a4)
    fsd     ft1, 8(t1)
    fld     ft0, 0(sp)          # c.fldsp: any f register, offsets 0..504
    fld     ft10, 504(sp)
    fld     ft10, 512(sp)
    fsd     fs11, 0(sp)         # c.fsdsp
    fsd     fa7, 256(sp)
    fsd     fa7, -8(sp)
    fld     fa0, (sp)
    fsw     fa0, (sp)
    flw     fa2, value, t0      # symbol forms: auipc into the temporary, then the access
    fld     fa2, value, t1
    fsw     fa2, value, t2
    fsd     fa2, value, a3
    flw     fa4, %lo(value)(a0)
    fld     fa4, %lo(value)(a0)
    ret
    .data
    .balign 8
value:  .dword 0x400921fb54442d18
