# Trap routing M -> HS -> VS: exceptions by medeleg then hedeleg, interrupts by mideleg
# (VS interrupts always to HS at least) then hideleg.  Both stages Bare: guest addresses are
# host addresses.  Each section starts from M-mode with nothing delegated.
# 1. ecall from VU and from VS, nothing delegated: to M (MPV 1; cause 8, and 10 from VS)
    GO      2, 1f
1:  ecall
    ESC
    GO      3, 1f
1:  ecall
    ESC
# 2. medeleg ecalls: from VU to HS (SPV 1, SPVP 0), from VS to HS (SPVP 1, SPP 1)
    li      t0, (1 << 8) | (1 << 10)
    csrw    medeleg, t0
    GO      2, 1f
1:  ecall
    ESC_ILLEGAL
    GO      3, 1f
1:  ecall
    ESC_ILLEGAL
# 3. and hedeleg bit 8: ecall from VU to the guest's VS; from VS still HS (bit 10 is
#    read-only zero in hedeleg); from U (V=0) to HS, with SPV 0
    li      t0, -1
    csrw    hedeleg, t0
    GO      2, 1f
1:  ecall
    ESC_ILLEGAL
    GO      3, 1f
1:  ecall
    ESC_ILLEGAL
    GO      0, 1f
1:  ecall
    ESC_ILLEGAL
    csrw    medeleg, zero
    csrw    hedeleg, zero
# 4. illegal instructions (an M CSR read from the guest; tval = its bits): with medeleg to
#    HS, with nothing delegated to M.  (Delegated on to VS, QEMU 7.2 reports cause 1 for 2:
#    test_hext_spec.py checks that case against the spec.)
    li      t0, 1 << 2
    csrw    medeleg, t0
    GO      3, 1f
1:  csrr    t1, mscratch
    ESC
    GO      2, 1f
1:  csrr    t1, mscratch
    ESC
    csrw    medeleg, zero
    GO      3, 1f
1:  csrr    t1, mscratch
    ESC
# 5. ebreak (tval = its pc, a guest virtual address when V=1) delegated twice: to VS from
#    VS and VU; with only medeleg to HS (GVA 1); from HS itself (GVA 0)
    li      t0, 1 << 3
    csrw    medeleg, t0
    csrw    hedeleg, t0
    GO      3, 1f
1:  ebreak
    ESC
    GO      2, 1f
1:  ebreak
    ESC
    csrw    hedeleg, zero
    GO      3, 1f
1:  ebreak
    ESC
    GO      1, 1f
1:  ebreak
    ESC
    csrw    medeleg, zero
# 6. interrupts: VSSIP (hvip) not delegated by hideleg goes to HS, taken in VS whatever
#    sstatus.SIE says; delegated, to VS from VU (as SSI, code 1); not taken in HS-mode
    li      t0, 0x444
    csrw    hie, t0
    li      t0, 4
    csrw    hvip, t0
    GO      3, 1f
1:  nop
    ESC
    li      t0, 0x444
    csrw    hideleg, t0
    li      t0, 4
    csrw    hvip, t0
    GO      2, 1f
1:  nop
    ESC
    li      t0, 4
    csrw    hvip, t0
    GO      1, 1f
1:  nop
    ESC
    csrr    t1, hip
    REC     t1
    csrw    hvip, zero
# 7. VSTIP through hvip, delegated: to VS from VU as STI (code 5); VSEIP to VS in VS-mode
#    with the guest's SIE on (as SEI, code 9); with SIE off it waits
    li      t0, 0x444
    csrw    hie, t0
    li      t0, 0x40
    csrw    hvip, t0
    GO      2, 1f
1:  nop
    ESC
    csrw    hvip, zero
    li      t0, 0x444
    csrw    hie, t0
    csrw    vsie, zero
    li      t0, 0x400
    csrw    hvip, t0
    GO      3, 1f
1:  nop
    li      t0, 0x200
    csrs    sie, t0
    csrsi   sstatus, 2
    nop
    csrci   sstatus, 2
    ESC
    csrw    hvip, zero
    csrw    hideleg, zero
    csrw    hie, zero
# 8. SSIP (mip) delegated by mideleg: taken in VS/VU (below HS) as HS's, code 1
    li      t0, 2
    csrw    mideleg, t0
    csrs    mie, t0
    csrs    mip, t0
    GO      3, 1f
1:  nop
    ESC
    csrw    mideleg, zero
