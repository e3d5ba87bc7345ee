# Every H CSR's WARL behaviour: write all ones, read back; write zero, read back.
# Each value is compared under a mask: the bits the spec fixes (QEMU 7.2 keeps some bits
# the spec reserves -- test_hext_spec.py checks vmlab's against the spec there).
    .macro RECM r, mask
    li      t2, \mask
    and     \r, \r, t2
    REC     \r
    .endm
    csrw    vsatp, zero
    li      t0, -1
    csrw    hstatus, t0
    csrr    t1, hstatus
    RECM    t1, 12892242912
    csrw    hstatus, zero
    csrr    t1, hstatus
    RECM    t1, 12892242912
    li      t0, -1
    csrw    hedeleg, t0
    csrr    t1, hedeleg
    RECM    t1, -1
    csrw    hedeleg, zero
    csrr    t1, hedeleg
    RECM    t1, -1
    li      t0, -1
    csrw    hideleg, t0
    csrr    t1, hideleg
    RECM    t1, -1
    csrw    hideleg, zero
    csrr    t1, hideleg
    RECM    t1, -1
    li      t0, -1
    csrw    hie, t0
    csrr    t1, hie
    RECM    t1, 4095
    csrw    hie, zero
    csrr    t1, hie
    RECM    t1, 4095
    li      t0, -1
    csrw    hip, t0
    csrr    t1, hip
    RECM    t1, 4095
    csrw    hip, zero
    csrr    t1, hip
    RECM    t1, 4095
    li      t0, -1
    csrw    hvip, t0
    csrr    t1, hvip
    RECM    t1, -1
    csrw    hvip, zero
    csrr    t1, hvip
    RECM    t1, -1
    li      t0, -1
    csrw    hgeie, t0
    csrr    t1, hgeie
    RECM    t1, -1
    csrw    hgeie, zero
    csrr    t1, hgeie
    RECM    t1, -1
    csrr    t1, hgeip
    REC     t1
    li      t0, -1
    csrw    hcounteren, t0
    csrr    t1, hcounteren
    RECM    t1, 7
    csrw    hcounteren, zero
    csrr    t1, hcounteren
    RECM    t1, 7
    li      t0, -1
    csrw    htimedelta, t0
    csrr    t1, htimedelta
    RECM    t1, -1
    csrw    htimedelta, zero
    csrr    t1, htimedelta
    RECM    t1, -1
    li      t0, -1
    csrw    htval, t0
    csrr    t1, htval
    RECM    t1, -1
    csrw    htval, zero
    csrr    t1, htval
    RECM    t1, -1
    li      t0, -1
    csrw    henvcfg, t0
    csrr    t1, henvcfg
    RECM    t1, 1
    csrw    henvcfg, zero
    csrr    t1, henvcfg
    RECM    t1, 1
    li      t0, -1
    csrw    vsstatus, t0
    csrr    t1, vsstatus
    RECM    t1, 811298
    csrw    vsstatus, zero
    csrr    t1, vsstatus
    RECM    t1, 811298
    li      t0, -1
    csrw    vsie, t0
    csrr    t1, vsie
    RECM    t1, -1
    csrw    vsie, zero
    csrr    t1, vsie
    RECM    t1, -1
    li      t0, -1
    csrw    vstvec, t0
    csrr    t1, vstvec
    RECM    t1, -4
    csrw    vstvec, zero
    csrr    t1, vstvec
    RECM    t1, -4
    li      t0, -1
    csrw    vsscratch, t0
    csrr    t1, vsscratch
    RECM    t1, -1
    csrw    vsscratch, zero
    csrr    t1, vsscratch
    RECM    t1, -1
    li      t0, -1
    csrw    vsepc, t0
    csrr    t1, vsepc
    RECM    t1, -2
    csrw    vsepc, zero
    csrr    t1, vsepc
    RECM    t1, -2
    li      t0, -1
    csrw    vscause, t0
    csrr    t1, vscause
    RECM    t1, -1
    csrw    vscause, zero
    csrr    t1, vscause
    RECM    t1, -1
    li      t0, -1
    csrw    vstval, t0
    csrr    t1, vstval
    RECM    t1, -1
    csrw    vstval, zero
    csrr    t1, vstval
    RECM    t1, -1
    li      t0, -1
    csrw    vsip, t0
    csrr    t1, vsip
    RECM    t1, -1
    csrw    vsip, zero
    csrr    t1, vsip
    RECM    t1, -1
    li      t0, -1
    csrw    mtval2, t0
    csrr    t1, mtval2
    RECM    t1, -1
    csrw    mtval2, zero
    csrr    t1, mtval2
    RECM    t1, -1
    li      t0, -1
    csrw    medeleg, t0
    csrr    t1, medeleg
    RECM    t1, -2049
    csrw    medeleg, zero
    csrr    t1, medeleg
    RECM    t1, -2049
    li      t0, -1
    csrw    mideleg, t0
    csrr    t1, mideleg
    RECM    t1, 4095
    csrw    mideleg, zero
    csrr    t1, mideleg
    RECM    t1, 4095
    li      t0, -1
    csrw    mie, t0
    csrr    t1, mie
    RECM    t1, 4095
    csrw    mie, zero
    csrr    t1, mie
    RECM    t1, 4095
    li      t0, -1
    csrw    mip, t0
    csrr    t1, mip
    RECM    t1, 0xb3f
    csrw    mip, zero
    csrr    t1, mip
    RECM    t1, 0xb3f
# hgatp: Sv39x4 with every VMID and PPN bit (PPN bits 1:0 compared in test_hext_spec.py)
    li      t0, (8 << 60) | (0x3fff << 44) | 0xfffffffffff
    csrw    hgatp, t0
    csrr    t1, hgatp
    RECM    t1, -4
    csrw    hgatp, zero
    csrr    t1, hgatp
    REC     t1
# mstatus.GVA and MPV are writable
    li      t0, 3 << 38
    csrs    mstatus, t0
    csrr    t1, mstatus
    and     t1, t1, t0
    REC     t1
    csrc    mstatus, t0
# vsatp holds Sv39 with every ASID bit
    li      t0, (8 << 60) | (0xffff << 44) | 0x12345
    csrw    vsatp, t0
    csrr    t1, vsatp
    REC     t1
    csrw    vsatp, zero
# misa says H
    csrr    t1, misa
    srli    t1, t1, 7
    andi    t1, t1, 1
    REC     t1
# hip/hie/vsie through hideleg: VSSIP the guest sees as SSIP; vsie follows hideleg
    li      t0, 0x444
    csrw    hideleg, t0
    csrw    hvip, t0
    csrw    hie, t0
    csrr    t1, vsip
    RECM    t1, 2
    csrr    t1, vsie
    REC     t1
    csrr    t1, hip
    REC     t1
    csrr    t1, mip
    RECM    t1, 0xf7f
    li      t0, 0x40
    csrw    hideleg, t0
    csrr    t1, vsie
    REC     t1
    li      t0, -1
    csrw    vsip, t0
    csrw    vsie, zero
    csrr    t1, hip
    REC     t1
    csrr    t1, hie
    REC     t1
    li      t0, 4
    csrw    hideleg, t0
    csrw    hvip, zero
    li      t0, -1
    csrw    vsip, t0
    csrr    t1, hvip
    REC     t1
    csrw    hvip, zero
    csrw    hie, zero
    csrw    hideleg, zero
# sstatus in HS-mode is mstatus's view; vsstatus is separate
    li      t0, 0x2
    csrw    vsstatus, t0
    csrr    t1, sstatus
    RECM    t1, 2
    csrw    vsstatus, zero
