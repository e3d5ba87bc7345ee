# F/D state with the hypervisor extension.  In a guest (V=1) mstatus.FS and vsstatus.FS are
# both in effect: F/D instructions and fcsr are illegal if either is Off, an FP change makes
# both Dirty (and SD in both), and the guest's sstatus shows vsstatus's FS and SD.  With V=0
# vsstatus.FS plays no part.  Each case sets both FS fields in M-mode, runs a few instructions
# in a guest (or in HS- or M-mode) and records, back in M-mode, both FS and SD (STATE).
# (QEMU 7.2 reads vsstatus without its SD bit, and does not make mstatus.FS Dirty when a
# guest writes fflags/frm/fcsr: test_hext_spec.py checks vmlab against the spec for both.)
    .macro SETFS m, vs
    li      t0, 3 << 13
    csrc    mstatus, t0
    csrc    vsstatus, t0
    li      t0, \m << 13
    csrs    mstatus, t0
    li      t0, \vs << 13
    csrs    vsstatus, t0
    .endm
    .macro FSSD r                   # keep only SD and FS
    li      t6, 0x8000000000006000
    and     \r, \r, t6
    .endm
    .macro STATE
    csrr    t1, mstatus
    FSSD    t1
    REC     t1
    csrr    t1, vsstatus
    li      t6, 3 << 13             # (FS only: see above)
    and     t1, t1, t6
    REC     t1
    .endm
    .macro SSTATUS                  # what the running mode sees as sstatus's FS and SD
    csrr    t5, sstatus
    FSSD    t5
    REC     t5
    .endm
    la      s1, fpdata
    li      t0, 1 << 13
    csrs    mstatus, t0
    li      t0, 0x4000000000000000  # 2.0
    fmv.d.x f1, t0
    fmv.d.x f2, t0
    fmv.d.x f5, zero
# 1. vsstatus.FS Off: the guest's F/D and fcsr accesses are illegal (to M), its sstatus says Off
    SETFS   1, 0
    STATE
    GO      3, 1f
1:  fadd.d  f3, f1, f2
    csrr    t5, fcsr
    fmv.x.d t5, f1
    fld     f4, 0(s1)
    SSTATUS
    ESC
    STATE
# 2. mstatus.FS Off, vsstatus.FS on: illegal as well
    SETFS   0, 1
    GO      3, 1f
1:  fadd.d  f3, f1, f2
    csrw    fflags, zero
    fsd     f1, 0(s1)
    SSTATUS
    ESC
    STATE
# 3. both Clean: reading fcsr and storing an f register change no FP state; a write to an
#    f register makes both Dirty, with SD
    SETFS   2, 2
    GO      3, 1f
1:  csrr    t5, fcsr
    fsd     f1, 0(s1)
    SSTATUS
    fmv.d.x f3, zero
    SSTATUS
    ESC
    STATE
# 4. both Initial: an FP load in VU-mode makes both Dirty
    SETFS   1, 1
    GO      2, 1f
1:  fld     f4, 0(s1)
    ESC
    STATE
    fmv.x.d t1, f4
    REC     t1
# 5. both Clean: a division by zero in VS-mode sets DZ and makes both Dirty
    csrw    fcsr, zero
    SETFS   2, 2
    GO      3, 1f
1:  fdiv.d  f3, f1, f5
    ESC
    STATE
    csrr    t1, fcsr
    REC     t1
# 6. the guest turns its FP unit off through sstatus: F/D illegal, mstatus.FS untouched
    SETFS   2, 3
    GO      3, 1f
1:  li      t5, 3 << 13
    csrc    sstatus, t5
    SSTATUS
    fadd.d  f3, f1, f2
    ESC
    STATE
# 7. ... and on again (Initial): F/D runs and makes both Dirty
    SETFS   2, 0
    GO      3, 1f
1:  li      t5, 1 << 13
    csrs    sstatus, t5
    SSTATUS
    fadd.d  f6, f1, f2
    SSTATUS
    ESC
    STATE
    fmv.x.d t1, f6
    REC     t1
# 8. V=0: HS-mode's F/D ignores vsstatus.FS (Off here) and leaves it alone
    SETFS   2, 0
    GO      1, 1f
1:  fadd.d  f7, f6, f2
    SSTATUS
    ESC
    STATE
    fmv.x.d t1, f7
    REC     t1
# 9. HS-mode with mstatus.FS Off: illegal, whatever vsstatus.FS says
    SETFS   0, 3
    GO      1, 1f
1:  fadd.d  f3, f1, f2
    ESC
    STATE
# 10. M-mode's F/D with vsstatus.FS Off: runs, only mstatus becomes Dirty
    SETFS   1, 0
    fadd.d  f3, f1, f2
    STATE
# 11. the illegal instruction delegated to HS: from VS-mode with vsstatus.FS Off
    li      t0, 1 << 2
    csrw    medeleg, t0
    SETFS   3, 0
    GO      3, 1f
1:  fsgnj.d f3, f1, f2
    csrwi   frm, 1
    ESC
    STATE
    csrw    medeleg, zero
    li      t0, 3 << 13
    csrc    vsstatus, t0

#DATA
    .data
    .balign 8
fpdata:
    .dword  0x400921fb54442d18      # pi
