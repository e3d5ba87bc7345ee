# Sstc for guests: henvcfg.STCE (writable only while menvcfg.STCE is 1, and read as 0
# while it is 0) gives VS-mode its own timer, vstimecmp, which a guest reaches as stimecmp;
# hip.VSTIP is then hvip.VSTIP or (time + htimedelta >= vstimecmp), and the guest takes the
# interrupt where hideleg sends it.  Without STCE a guest's stimecmp is a virtual instruction
# (the hypervisor emulates it), without menvcfg.STCE an illegal one.  (QEMU 7.2 makes
# hvip.VSTIP read-only while menvcfg.STCE is 1, and keeps VSTIP from vstimecmp when either
# STCE is cleared: test_hext_spec.py checks those against the spec.)
    .equ STCE, 1 << 63
    .macro ENVCFG r                 # the henvcfg bits this hart has: STCE and FIOM
    csrr    \r, henvcfg
    li      t2, STCE | 1
    and     \r, \r, t2
    REC     \r
    .endm
    .macro VSTIP                    # hip.VSTIP, hvip.VSTIP, mip.VSTIP
    csrr    t1, hip
    andi    t1, t1, 0x40
    REC     t1
    csrr    t1, hvip
    andi    t1, t1, 0x40
    REC     t1
    csrr    t1, mip
    andi    t1, t1, 0x40
    REC     t1
    .endm
    li      s3, STCE
# 1. henvcfg.STCE is writable while menvcfg.STCE is 1 (QEMU 7.2 lets it be set, and reads
#    it, while menvcfg.STCE is 0 too: test_hext_spec.py checks that case)
    csrs    menvcfg, s3
    csrw    henvcfg, zero
    ENVCFG  t1
    li      t0, -1
    csrw    henvcfg, t0
    ENVCFG  t1
# 2. a guest's stimecmp: illegal without menvcfg.STCE, virtual without henvcfg.STCE or
#    hcounteren.TM, else vstimecmp (HS-mode's stimecmp untouched)
    li      t0, 0x1234
    csrw    stimecmp, t0
    csrw    vstimecmp, zero
    li      t0, -1
    csrw    vstimecmp, t0
    csrc    menvcfg, s3
    GO      3, 1f
1:  csrr    t1, stimecmp
    ESC
    csrs    menvcfg, s3
    csrc    henvcfg, s3
    GO      3, 1f
1:  csrr    t1, stimecmp
    ESC
    csrs    henvcfg, s3
    li      t0, 2
    csrc    hcounteren, t0
    GO      3, 1f
1:  csrr    t1, stimecmp
    ESC
    li      t0, 2
    csrs    hcounteren, t0
    GO      3, 1f
1:  csrr    t1, stimecmp
    REC     t1
    li      t1, 0x5678
    csrw    stimecmp, t1
    csrr    t1, stimecmp
    REC     t1
    ESC
    csrr    t1, vstimecmp
    REC     t1
    csrr    t1, stimecmp
    REC     t1
    li      t0, -1
    csrw    stimecmp, t0
# 3. hip.VSTIP: time + htimedelta against vstimecmp, only while both STCEs are set
    csrw    htimedelta, zero
    li      t0, -1
    csrw    vstimecmp, t0
    VSTIP
    csrw    vstimecmp, zero
    VSTIP
    li      t0, 1 << 62
    csrw    vstimecmp, t0
    VSTIP
    li      t0, (1 << 62) + 1000       # (htimedelta first: QEMU 7.2 compares only when
    csrw    htimedelta, t0              # vstimecmp is written)
    li      t0, 1 << 62
    csrw    vstimecmp, t0
    VSTIP
    csrw    htimedelta, zero
# 4. the guest's own timer interrupt, delegated to it: taken in VS-mode
    csrw    vstimecmp, zero
    li      t0, 0x40
    csrw    hideleg, t0
    GO      3, 1f
1:  li      t0, 0x20
    csrs    sie, t0
    csrs    sstatus, 2
    nop
    csrc    sstatus, 2
    csrr    t1, sie
    REC     t1
    ESC
# 5. not delegated: it goes to HS-mode
    csrw    hideleg, zero
    li      t0, 0x40
    csrs    hie, t0
    GO      3, 1f
1:  nop
    ESC
    csrr    t1, hie
    REC     t1
    li      t0, -1
    csrw    vstimecmp, t0
    csrw    henvcfg, zero
    csrc    menvcfg, s3
