# M-mode loads and stores with mstatus.MPRV=1 and MPV=1 are made as a guest's (two-stage
# translation at MPP's privilege); with MPV=0 as HS-mode's.  (Their faults -- guest-page
# faults with GVA=1, which QEMU 7.2 reports as page faults with GVA=0 -- and mstatus.TVM
# for hgatp, which QEMU 7.2 ignores: test_hext_spec.py.)  vsatp is Bare (GVA = GPA); the
# G-stage maps RAM at GPA 0x80000000, RAM again read-only at 0x40000000 and nothing at
# 0xc0000000.
    .equ MPRV_S_V, (1 << 17) | (1 << 11) | (1 << 39)
    la      t0, groot
    srli    t0, t0, 12
    li      t1, (8 << 60) | (4 << 44)
    or      t0, t0, t1
    csrw    hgatp, t0
    csrw    vsatp, zero
    hfence.gvma
    la      a0, word
    li      t0, 0x1234
    sd      t0, 0(a0)
    li      t0, 0x40000000
    sub     a1, a0, t0              # the same word at its read-only GPA alias
    li      a2, 0xc0000040          # unmapped
# 1. through the guest's view: reads of both aliases, a store to the writable one
    li      s3, MPRV_S_V
    li      t0, 3 << 11
    csrc    mstatus, t0
    csrs    mstatus, s3
    ld      s4, 0(a1)
    li      t0, 0x5678
    sd      t0, 8(a0)
    ld      s5, 8(a0)
    csrc    mstatus, s3
    REC     s4
    REC     s5
# 2. with MPV=0, MPRV and MPP=S are HS-mode's own view
    li      t0, (1 << 17) | (1 << 11)
    li      t1, 3 << 11
    csrc    mstatus, t1
    csrs    mstatus, t0
    ld      s4, 8(a0)
    csrc    mstatus, t0
    REC     s4
    csrw    hgatp, zero
    hfence.gvma

#DATA
    .data
    .balign 8
word:
    .dword  0, 0
    .section .ptables, "aw"
    .balign 16384
groot:                              # G-stage root: 2048 entries, GPA bits 40:30
    .dword  0x000000d7              # 0 GiB: devices, U R W
    .dword  0x200000d3              # 1 GiB: RAM, read-only, U R
    .dword  0x200000df              # 2 GiB: RAM, GPA = HPA, U R W X
    .zero   8 * 2045
