# The frame every H-extension conformance program runs in, on QEMU and on vmlab alike.
#
# The program's body (one file of this directory, pasted at BODY) runs in M-mode with:
#   s0      where the next result goes: REC reg appends one 64-bit word
#   a7      0 -- except around ESC, which returns to M-mode from wherever the hart is
# and one trap handler per level.  Each trap a handler takes appends six words:
#   tag (1 = M, 2 = HS, 3 = VS), cause, tval, the GPA word (mtval2 / htval / 0),
#   the instruction word (mtinst / htinst / 0), and the status bits the trap wrote
#   (M: mstatus MPP | MPV | GVA; HS: hstatus GVA | SPV | SPVP, sstatus.SPP as bit 0; VS: SPP).
# A transformed instruction in mtinst/htinst (bit 0 set), which QEMU 7.2 never writes, is
# recorded as 0 unless the program is built with RAW_TINST defined (test_hext_spec.py is).
# An exception resumes after the faulting instruction (at ra for fetch faults); an
# interrupt is masked where it came from and resumes where it hit.  At the end the words
# are printed in hex on the UART and the machine powers off.
    .option norvc
    .equ MAGIC, 0x4d
    .macro REC r
    sd      \r, 0(s0)
    addi    s0, s0, 8
    .endm
    # ESC: back to M-mode, from any mode (an ecall, or `unimp` where ecalls are delegated)
    .macro ESC
    li      a7, MAGIC
    ecall
    .endm
    # A breakpoint's tval may be 0 or its pc (both allowed): record 0, and no GVA, for it
    .macro BPZERO r, cause
    csrr    t3, \cause
    addi    t3, t3, -3
    bnez    t3, 91f
    li      \r, 0
91:
    .endm
    .macro BPMASK r, cause, bit
    addi    \cause, \cause, -3
    bnez    \cause, 92f
    li      t4, \bit
    not     t4, t4
    and     \r, \r, t4
92:
    .endm
    .macro TINST r
    .ifndef RAW_TINST
    andi    t2, \r, 1
    beqz    t2, 95f
    li      \r, 0
95:
    .endif
    .endm
    .macro ESC_ILLEGAL
    li      a7, MAGIC
    unimp
    .endm
    # GO mode, label: from M-mode, continue at label in mode 0 (U), 1 (HS), 2 (VU), 3 (VS)
    .macro GO mode, label
    li      t0, (3 << 11) | (1 << 39)
    csrc    mstatus, t0
    li      t0, (((\mode & 1) << 11) | ((\mode >> 1) << 39))
    csrs    mstatus, t0
    la      t0, \label
    csrw    mepc, t0
    mret
    .endm

    .text
    .globl _start
_start:
    la      s0, out
    li      a7, 0
    la      t0, m_trap
    csrw    mtvec, t0
    la      t0, hs_trap
    csrw    stvec, t0
    la      t0, vs_trap
    csrw    vstvec, t0
    li      t0, -1                  # PMP: everything for S and U (QEMU enforces it)
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    csrw    mideleg, zero           # (QEMU 7.2 sets mideleg's read-only VS bits on a write)
    li      t0, 7
    csrw    mcounteren, t0
    csrw    hcounteren, t0
    csrw    scounteren, t0

#BODY

finish:
    la      s1, out
    li      s2, 0x10000000
1:  bgeu    s1, s0, 4f
    ld      a0, 0(s1)
    li      t1, 60
2:  srl     t2, a0, t1
    andi    t2, t2, 15
    li      t3, 10
    blt     t2, t3, 3f
    addi    t2, t2, 39
3:  addi    t2, t2, 48
    sb      t2, 0(s2)
    addi    t1, t1, -4
    bgez    t1, 2b
    li      t2, 10
    sb      t2, 0(s2)
    addi    s1, s1, 8
    j       1b
4:  li      t0, 0x100000
    li      t1, 0x5555
    sw      t1, 0(t0)
5:  j       5b

    .balign 4
m_trap:
    li      t1, MAGIC
    bne     a7, t1, 1f
    li      a7, 0                   # ESC: on in M-mode after the instruction
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    li      t0, 3 << 11
    csrs    mstatus, t0
    li      t0, 1 << 39
    csrc    mstatus, t0
    mret
1:  li      t1, 1
    REC     t1
    csrr    t1, mcause
    REC     t1
    csrr    t1, mtval
    BPZERO  t1, mcause
    REC     t1
    csrr    t1, mtval2
    REC     t1
    csrr    t1, mtinst
    TINST   t1
    REC     t1
    csrr    t1, mstatus
    li      t2, (3 << 11) | (3 << 38)
    and     t1, t1, t2
    csrr    t3, mcause
    BPMASK  t1, t3, 1 << 38
    csrr    t3, mcause              # QEMU 7.2 sets GVA on an illegal or virtual instruction
    li      t4, 2                   # from a guest, whose tval is no address: GVA is not
    beq     t3, t4, 94f             # compared for causes 2 and 22 (test_hext_spec.py
    li      t4, 22                  # checks vmlab's 0 there)
    bne     t3, t4, 93f
94: li      t4, 1 << 38
    not     t4, t4
    and     t1, t1, t4
93: REC     t1
    csrr    t1, mcause
    bltz    t1, 7f
    csrr    t0, mepc
    addi    t0, t0, 4
    li      t2, 1
    beq     t1, t2, 6f
    li      t2, 12
    beq     t1, t2, 6f
    li      t2, 20
    bne     t1, t2, 5f
6:  mv      t0, ra
5:  csrw    mepc, t0
    mret
7:  li      t2, 1                   # an interrupt: mask it
    sll     t2, t2, t1
    csrc    mie, t2
    mret

    .balign 4
hs_trap:
    li      t1, 2
    REC     t1
    csrr    t1, scause
    REC     t1
    csrr    t1, stval
    BPZERO  t1, scause
    REC     t1
    csrr    t1, htval
    REC     t1
    csrr    t1, htinst
    TINST   t1
    REC     t1
    csrr    t1, hstatus
    andi    t1, t1, 0x1c0
    csrr    t2, sstatus
    srli    t2, t2, 8
    andi    t2, t2, 1
    or      t1, t1, t2
    csrr    t3, scause
    BPMASK  t1, t3, 0x40
    REC     t1
    csrr    t1, scause
    bltz    t1, 7f
    csrr    t0, sepc
    addi    t0, t0, 4
    li      t2, 1
    beq     t1, t2, 6f
    li      t2, 12
    beq     t1, t2, 6f
    li      t2, 20
    bne     t1, t2, 5f
6:  mv      t0, ra
5:  csrw    sepc, t0
    sret
7:  li      t2, 1                   # an interrupt: clear what raised it, mask it
    sll     t2, t2, t1
    csrc    hvip, t2
    csrc    sip, t2
    csrc    hie, t2
    csrc    sie, t2
    sret

    .balign 4
vs_trap:
    li      t1, 3
    REC     t1
    csrr    t1, scause
    REC     t1
    csrr    t1, stval
    BPZERO  t1, scause
    REC     t1
    REC     zero
    REC     zero
    csrr    t1, sstatus
    srli    t1, t1, 8
    andi    t1, t1, 1
    REC     t1
    csrr    t1, scause
    bltz    t1, 7f
    csrr    t0, sepc
    addi    t0, t0, 4
    li      t2, 1
    beq     t1, t2, 6f
    li      t2, 12
    beq     t1, t2, 6f
    li      t2, 20
    bne     t1, t2, 5f
6:  mv      t0, ra
5:  csrw    sepc, t0
    sret
7:  li      t2, 1                   # an interrupt: mask it in the guest's sie
    sll     t2, t2, t1
    csrc    sip, t2
    csrc    sie, t2
    sret

#DATA

    .data
    .balign 8
out:
    .zero   8 * 1024
