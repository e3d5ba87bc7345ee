# Guest-page faults of explicit loads and stores of every form -- integer, FP, compressed,
# AMO/LR, HLV/HSV, and a misaligned load whose second page faults -- each recorded with its
# cause, tval, htval and htinst.  htinst is the spec's transformed instruction (the access
# with its immediate cleared and rs1's field holding the faulting address's offset in the
# access, bit 1 clear for a compressed one): QEMU 7.2 writes 0 there, so the harness records
# it as 0 for the comparison with QEMU and test_hext_spec.py checks the values themselves.
# The program records nothing but traps (six words each).
# vsatp is Bare (GVA = GPA); the G-stage maps RAM at GPA 0x80000000, RAM again read-only at
# 0x40000000, one RAM page at 0xc0000000 and nothing after it.
    .macro C insn:vararg            # a compressed instruction (a c.nop after it: the
    .option rvc                     # handlers resume 4 bytes on)
    \insn
    c.nop
    .option norvc
    .endm
    la      t0, g1
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, groot
    sd      t0, 24(t1)
    la      t0, g0
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, g1
    sd      t0, 0(t1)
    la      t0, gpage
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 0xd7            # U R W A D
    la      t1, g0
    sd      t0, 0(t1)
    la      t0, groot
    srli    t0, t0, 12
    li      t1, (8 << 60) | (2 << 44)
    or      t0, t0, t1
    csrw    hgatp, t0
    csrw    vsatp, zero
    hfence.gvma
    li      t0, 1 << 13
    csrs    mstatus, t0
    csrs    vsstatus, t0
    li      t0, (1 << 21) | (1 << 23)
    csrw    medeleg, t0
    li      a0, 0xc0001100          # unmapped
    li      a1, 0x40000100          # read-only
# 1. from VS: integer, FP and compressed loads and stores, AMOs
    GO      3, 1f
1:  lw      t1, 8(a0)
    ld      a2, -8(a0)
    lbu     a3, 2047(a0)
    lh      a4, -2048(a0)
    sb      t1, 1(a1)
    sh      a2, -2(a1)
    sw      a3, 12(a1)
    sd      a4, 24(a1)
    fld     f4, 8(a0)
    flw     f7, -4(a0)
    fsd     f6, 16(a1)
    fsw     f31, 2044(a1)
    C       c.lw a2, 4(a0)
    C       c.ld a3, 8(a0)
    C       c.sw a4, 12(a1)
    C       c.sd a5, 16(a1)
    C       c.fld f9, 8(a0)
    C       c.fsd f10, 24(a1)
    mv      sp, a0
    C       c.lwsp a2, 4(sp)
    C       c.ldsp s4, 40(sp)
    C       c.fldsp f3, 40(sp)
    mv      sp, a1
    C       c.swsp a3, 8(sp)
    C       c.sdsp s5, 16(sp)
    C       c.fsdsp f12, 64(sp)
    amoadd.w a2, a3, (a1)
    amoswap.d.aq a4, a5, (a1)
    lr.d    a2, (a0)
    li      s1, 0xc0000ffc          # misaligned: its second page faults
    ld      a2, 0(s1)
    sw      a3, 2(s1)
    ESC
# 2. from HS: HLV/HSV
    GO      1, 1f
1:  hlv.w   t1, (a0)
    hlv.bu  t2, (a0)
    hlvx.hu t3, (a0)
    hlv.d   s3, (a0)
    hsv.h   t4, (a1)
    hsv.d   a2, (a1)
    ESC
    csrw    medeleg, zero
    csrw    hgatp, zero
    hfence.gvma

#DATA
    .section .ptables, "aw"
    .balign 16384
groot:                              # G-stage root: 2048 entries, GPA bits 40:30
    .dword  0x000000d7              # 0 GiB: devices, U R W
    .dword  0x200000d3              # 1 GiB: RAM, read-only, U R
    .dword  0x200000df              # 2 GiB: RAM, GPA = HPA, U R W X
    .dword  0                       # 3 GiB: -> g1
    .zero   8 * 2044
g1:
    .zero   8 * 512                 # [0] -> g0
g0:
    .zero   8 * 512                 # [0]: GPA 0xc0000000 -> gpage; the rest unmapped
gpage:
    .zero   4096
