# A/D updates in a VS-stage PTE are writes to guest memory: the G-stage translates them as
# implicit stores -- it must allow writing the page that holds the VS-stage table, and it sets
# that page's own G-stage A and D.  VS table A sits in a G-stage page that is writable (with
# A and D clear), table B in one that is read-only; reading and writing through table A sets
# the bits at both stages.  (QEMU 7.2 neither checks the G-stage for the update nor sets the
# G-stage D bit for it: test_hext_spec.py checks vmlab against the spec there, and the
# faults through table B.)
    .macro PTR table, index, target
    la      t0, \target
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, \table
    sd      t0, (\index * 8)(t1)
    .endm
    .macro LEAF table, index, target, flags
    la      t0, \target
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, \flags
    la      t1, \table
    sd      t0, (\index * 8)(t1)
    .endm
    .macro RECPTE table, index      # record a PTE as it is now
    la      t1, \table
    ld      t1, (\index * 8)(t1)
    andi    t1, t1, 0xff
    REC     t1
    .endm
    PTR     groot, 3, g1
    PTR     g1, 0, g0
    LEAF    g0, 0, vstab_a, 0x17    # GPA 0xc0000000: table A, U R W, A and D clear
    LEAF    g0, 1, vstab_b, 0x53    # GPA 0xc0001000: table B, U R (A set)
    LEAF    g0, 2, vsdata, 0xd7     # GPA 0xc0002000: the data, U R W A D
    LEAF    g0, 3, vscode, 0xdf     # GPA 0xc0003000: code, U R W X A D
    PTR     vsroot, 1, vs1
    la      t0, vsdata
    li      t1, 0x1234
    sd      t1, 0(t0)
    li      t1, 0x00008067          # ret
    la      t0, vscode
    sw      t1, 0(t0)
    la      t0, groot
    srli    t0, t0, 12
    li      t1, (8 << 60) | (3 << 44)
    or      t0, t0, t1
    csrw    hgatp, t0
    la      t0, vsroot
    srli    t0, t0, 12
    li      t1, 8 << 60
    or      t0, t0, t1
    csrw    vsatp, t0
    hfence.gvma
    li      t0, (1 << 12) | (1 << 13) | (1 << 15) | (1 << 20) | (1 << 21) | (1 << 23)
    csrw    medeleg, t0
# 1. through table A: a load sets A, a store A and D, a fetch A; the G-stage page of the
#    table gets A (and D, which QEMU 7.2 does not set: masked here)
    RECPTE  vstab_a, 0
    RECPTE  vstab_a, 1
    RECPTE  vstab_a, 2
    RECPTE  vstab_a, 3
    RECPTE  g0, 0
    GO      3, 1f
1:  li      s1, 0x40000000
    ld      t1, 0(s1)
    REC     t1
    li      s1, 0x40001000
    sd      t1, 8(s1)
    li      s1, 0x40002000
    sd      t1, 16(s1)
    li      s1, 0x40003000
    jalr    s1
    ESC
    RECPTE  vstab_a, 0
    RECPTE  vstab_a, 1
    RECPTE  vstab_a, 2
    RECPTE  vstab_a, 3
    la      t1, g0
    ld      t1, 0(t1)
    andi    t1, t1, 0x7f
    REC     t1
# 2. through table B (read-only at the G-stage): accesses that need no A/D update work
    GO      3, 1f
1:  li      s1, 0x40201000
    ld      t1, 0(s1)
    REC     t1
    li      s1, 0x40203000
    sd      t1, 24(s1)
    ld      t1, 24(s1)
    REC     t1
    ESC
    RECPTE  vstab_b, 1
    RECPTE  vstab_b, 3
    csrw    medeleg, zero
    csrw    hgatp, zero
    csrw    vsatp, zero

#DATA
    .section .ptables, "aw"
    .balign 16384
groot:                              # G-stage root: 2048 entries, GPA bits 40:30
    .dword  0x000000d7              # 0 GiB: devices, U R W
    .dword  0
    .dword  0x200000df              # 2 GiB: RAM, GPA = HPA, U R W X
    .dword  0                       # 3 GiB: -> g1 (PTR)
    .zero   8 * 2044
g1:
    .zero   8 * 512                 # [0] -> g0 (PTR)
g0:
    .zero   8 * 512                 # 4 KiB leaves (LEAF)
vsroot:                             # VS-stage root (at GPA = HPA)
    .dword  0
    .dword  0                       # GVA 0x40000000: -> vs1 (PTR)
    .dword  0x200000cf              # GVA 0x80000000: 1 GiB, R W X (the program)
    .zero   8 * 509
vs1:
    .dword  0x30000001              # GVA 0x40000000: -> table A at GPA 0xc0000000
    .dword  0x30000401              # GVA 0x40200000: -> table B at GPA 0xc0001000
    .zero   8 * 510
vstab_a:                            # VS leaves at GPA 0xc0000000
    .dword  0x30000807              # 0x40000000 -> GPA 0xc0002000, R W; A D clear
    .dword  0x30000847              # 0x40001000 -> 0xc0002000, R W A; D clear
    .dword  0x30000807              # 0x40002000 -> 0xc0002000, R W; A D clear
    .dword  0x30000c0b              # 0x40003000 -> 0xc0003000, R X; A clear
    .zero   8 * 508
vstab_b:                            # VS leaves at GPA 0xc0001000 (G-stage read-only)
    .dword  0x30000807              # 0x40200000 -> 0xc0002000, R W; A D clear
    .dword  0x30000847              # 0x40201000 -> 0xc0002000, R W A; D clear
    .dword  0x30000c0b              # 0x40202000 -> 0xc0003000, R X; A clear
    .dword  0x300008c7              # 0x40203000 -> 0xc0002000, R W A D
    .zero   8 * 508
vsdata:
    .zero   4096
vscode:
    .zero   4096
