# Two-stage translation: a VS-stage Sv39 (vsatp) over a G-stage Sv39x4 (hgatp, 16 KiB root,
# VMID 1), superpages at both stages, every guest-page fault cause with stval = the guest
# virtual address, htval/mtval2 = the guest-physical address >> 2 (of the final access or of
# a VS-stage table entry), GVA; then HLV/HLVX/HSV from HS-mode.  The tables are drawn in the
# data below; PTR fills a pointer entry at run time (its address is the linker's to choose).
    .macro PTR table, index, target
    la      t0, \target
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, \table
    sd      t0, (\index * 8)(t1)
    .endm
    .macro POKE addr, value
    li      t0, \addr
    li      t1, \value
    sd      t1, 0(t0)
    .endm
    PTR     groot, 3, g1
    PTR     g1, 1, g0
    PTR     vsroot, 1, vs1
    PTR     vs1, 1, vs0
    POKE    0x82000008, 0x1111      # behind GVA 0x40000008: VS 2 MiB over G 2 MiB
    POKE    0x82400000, 0x2222      # behind GVA 0x40200000: 4 KiB over 4 KiB, read-only
    POKE    0x82401000, 0x00008067  # behind GVA 0x40201000: execute-only, `ret`
    POKE    0x82403000, 0x3333      # behind GVA 0x40205000 (a U page) and 0x40207000
    la      t0, groot
    srli    t0, t0, 12
    li      t1, (8 << 60) | (1 << 44)
    or      t0, t0, t1
    csrw    hgatp, t0
    la      t0, vsroot
    srli    t0, t0, 12
    li      t1, 8 << 60
    or      t0, t0, t1
    csrw    vsatp, t0
    hfence.gvma
# 1. from VS, page faults and guest-page faults to HS
    li      t0, (1 << 12) | (1 << 13) | (1 << 15) | (1 << 20) | (1 << 21) | (1 << 23)
    csrw    medeleg, t0
    GO      3, 1f
1:  li      s1, 0x40000008
    ld      t1, 0(s1)
    REC     t1
    li      s1, 0x40200000
    ld      t1, 0(s1)
    REC     t1
    sd      t1, 0(s1)               # VS page read-only: store page fault (15)
    li      s1, 0x40202000
    ld      t1, 0(s1)               # G-stage entry invalid: load guest-page fault (21)
    li      s1, 0x40203000
    ld      t1, 0(s1)               # GPA 0x1_0000_0000: no G-stage root entry (21)
    li      s1, 0x40204000
    ld      t1, 0(s1)               # VS entry invalid: load page fault (13)
    li      s1, 0x40205000
    ld      t1, 0(s1)               # a U page from VS without SUM (13)
    li      t0, 1 << 18
    csrs    sstatus, t0
    ld      t1, 0(s1)
    REC     t1
    csrc    sstatus, t0
    li      s1, 0x40400000
    ld      t1, 0(s1)               # the VS table itself at an unmapped GPA (21, htval: the PTE's)
    li      s1, 0x40208000
    sd      zero, 0(s1)             # VS writable, G read-only: store guest-page fault (23)
    li      s1, 0x40207008
    li      t1, 0x4444
    sd      t1, 0(s1)
    ld      t2, 0(s1)
    REC     t2
    li      s1, 0x40209000
    ld      t1, 0(s1)               # GPA beyond 41 bits (21)
    li      s1, 0x40201000
    jalr    s1                      # execute-only at both stages: runs its `ret`
    la      ra, 2f
    li      s1, 0x40206010
    jr      s1                      # VS executable, G not: instruction guest-page fault (20),
                                    # htval the instruction's GPA >> 2 (its offset in the page too)
2:  la      ra, 3f
    li      s1, 0x40200000
    jr      s1                      # VS not executable: instruction page fault (12)
3:  ESC
# 2. not delegated: a guest-page fault goes to M with mtval2, MPV and GVA
    csrw    medeleg, zero
    GO      3, 1f
1:  li      s1, 0x40202000
    ld      t1, 0(s1)
    li      s1, 0x40208000
    sw      zero, 4(s1)
    ESC
# 3. HLV/HLVX/HSV from HS-mode: as the guest at hstatus.SPVP (faults: SPV 0, GVA 1)
    li      t0, (1 << 13) | (1 << 15) | (1 << 21) | (1 << 23)
    csrw    medeleg, t0
    GO      1, 1f
1:  li      t0, 1 << 8
    csrs    hstatus, t0             # SPVP = 1: as VS-mode
    li      s1, 0x40200000
    hlv.d   t1, (s1)
    REC     t1
    addi    s2, s1, 2
    hlv.hu  t1, (s2)
    REC     t1
    hlv.b   t1, (s1)
    REC     t1
    li      s1, 0x40202000
    hlv.d   t1, (s1)                # load guest-page fault, from HS-mode
    # (HLVX on an execute-only page, HLV with SPVP=0 on an S page: QEMU 7.2 raises an access
    # fault, or none -- test_hext_spec.py checks them against the spec.)
    li      s1, 0x40207010
    li      t2, 0x5555
    hsv.d   t2, (s1)
    hlv.d   t1, (s1)
    REC     t1
    li      s1, 0x40208000
    hsv.w   t2, (s1)                # store guest-page fault (23)
    li      t0, 1 << 8
    csrc    hstatus, t0             # SPVP = 0: as VU-mode
    li      s1, 0x40205000
    hlv.d   t1, (s1)                # a U page
    REC     t1
    ESC
    csrw    medeleg, zero
    csrw    hgatp, zero
    csrw    vsatp, zero

#DATA
    .section .ptables, "aw"
    .balign 16384
groot:                              # G-stage root: 2048 entries, GPA bits 40:30
    .dword  0x000000d7              # 0 GiB: devices, U R W (no X)
    .dword  0
    .dword  0x200000df              # 2 GiB: RAM, GPA = HPA, U R W X
    .dword  0                       # 3 GiB: -> g1 (PTR)
    .zero   8 * 2044
g1:
    .dword  0x208000d7              # GPA 0xc0000000: 2 MiB at HPA 0x82000000, U R W
    .dword  0                       # -> g0 (PTR)
    .zero   8 * 510
g0:
    .dword  0x20900053              # GPA 0xc0200000 -> 0x82400000, U R
    .dword  0x20900459              # GPA 0xc0201000 -> 0x82401000, U X
    .dword  0                       # GPA 0xc0202000: invalid
    .dword  0x20900cd7              # GPA 0xc0203000 -> 0x82403000, U R W
    .zero   8 * 508
vsroot:                             # VS-stage root (at GPA = HPA)
    .dword  0
    .dword  0                       # GVA 0x40000000: -> vs1 (PTR)
    .dword  0x200000cf              # GVA 0x80000000: 1 GiB, R W X (the program)
    .zero   8 * 509
vs1:
    .dword  0x300000c7              # GVA 0x40000000: 2 MiB at GPA 0xc0000000, R W
    .dword  0                       # -> vs0 (PTR)
    .dword  0x40000001              # GVA 0x40400000: a table at GPA 0x1_0000_0000
    .zero   8 * 509
vs0:
    .dword  0x30080043              # 0x40200000 -> GPA 0xc0200000, R
    .dword  0x30080449              # 0x40201000 -> 0xc0201000, X
    .dword  0x30080843              # 0x40202000 -> 0xc0202000 (no G entry), R
    .dword  0x40000043              # 0x40203000 -> 0x1_0000_0000, R
    .dword  0                       # 0x40204000: invalid
    .dword  0x30080cd7              # 0x40205000 -> 0xc0203000, U R W
    .dword  0x3008004b              # 0x40206000 -> 0xc0200000, R X
    .dword  0x30080cc7              # 0x40207000 -> 0xc0203000, R W
    .dword  0x300800c7              # 0x40208000 -> 0xc0200000 (G read-only), R W
    .dword  0x800000043             # 0x40209000 -> GPA 0x200_0000_0000 (bit 41), R
    .zero   8 * 502
