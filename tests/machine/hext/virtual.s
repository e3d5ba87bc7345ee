# Virtual-instruction exceptions (cause 22, tval = the instruction's bits): what a guest may
# not do but HS-mode could, so the hypervisor gets to emulate it -- against illegal
# instructions (2) for what even HS-mode may not do.  Nothing delegated: all to M.
# 1. CSRs from VS: hypervisor and VS CSRs by their own numbers (22); an M CSR (2); satp
#    is vsatp (no trap)
    GO      3, 1f
1:  csrr    t1, hstatus
    csrr    t1, vsstatus
    csrr    t1, hgatp
    csrr    t1, mstatus
    csrw    satp, zero
    ESC
# 2. from VU: wfi (22), an H CSR (22).  (An S CSR, sret and sfence.vma from VU are virtual
#    instructions too; QEMU 7.2 reports illegal ones: test_hext_spec.py has them.)
    GO      2, 1f
1:  wfi
    csrr    t1, hgatp
    ESC
# 3. hstatus.VTSR, VTW, VTVM: sret, wfi and sfence.vma from VS (22); off: allowed.  (satp
#    with VTVM is virtual too; QEMU 7.2 lets it through: test_hext_spec.py has it.)
    li      t0, (1 << 22) | (1 << 21) | (1 << 20)
    csrs    hstatus, t0
    GO      3, 1f
1:  la      t0, 2f
    csrw    sepc, t0
    sret
2:  wfi
    sfence.vma
    ESC
    li      t0, (1 << 22) | (1 << 21) | (1 << 20)
    csrc    hstatus, t0
    GO      3, 1f
1:  csrr    t1, satp
    sfence.vma
    li      t0, 1 << 8              # sret back to VS-mode, at 2f
    csrs    sstatus, t0
    la      t0, 2f
    csrw    sepc, t0
    sret
2:  csrr    t1, sstatus             # (vsstatus: SPP cleared by that sret)
    andi    t1, t1, 0x100
    REC     t1
    ESC
# 4. mstatus.TW wins over VTW: wfi from VS with TW set is illegal (2); TSR/TVM are HS-only
    li      t0, 1 << 21
    csrs    mstatus, t0
    GO      3, 1f
1:  wfi
    ESC
    li      t0, 1 << 21
    csrc    mstatus, t0
# 5. the HFENCEs from VS (22); mret from VS (2).  (HLV/HSV from VS or VU, HFENCE from VU,
#    HLV from U without hstatus.HU: QEMU 7.2 reports a stale tval or an illegal instruction
#    there -- test_hext_spec.py checks them against the spec.)
    GO      3, 1f
1:  hfence.vvma
    hfence.gvma
    mret
    ESC
# 6. counters: time with mcounteren.TM but not hcounteren.TM is virtual from VS (22);
#    cycle without mcounteren.CY is illegal (2); from VU, scounteren off too: 22
    csrw    hcounteren, zero
    li      t0, 5
    csrw    mcounteren, t0
    GO      3, 1f
1:  rdtime  t1
    rdinstret t1
    li      t0, 7
    csrw    scounteren, zero
    ESC
    li      t0, 2
    csrw    mcounteren, t0
    GO      3, 1f
1:  rdcycle t1
    ESC
    li      t0, 7
    csrw    mcounteren, t0
    csrw    hcounteren, t0
    csrw    scounteren, zero
    GO      2, 1f
1:  rdtime  t1
    ESC
    li      t0, 7
    csrw    scounteren, t0
# 7. virtual instructions delegated by medeleg go to HS (SPV 1, GVA 0); hedeleg cannot
#    take them further (bit 22 is read-only zero)
    li      t0, 1 << 22
    csrw    medeleg, t0
    li      t0, -1
    csrw    hedeleg, t0
    GO      3, 1f
1:  csrr    t1, hstatus
    ESC
    csrw    medeleg, zero
    csrw    hedeleg, zero
