# Turning translation on without a fence: once a guest writes vsatp (its satp) from Bare to
# Sv39, the next fetch is translated by the new tables -- translations made while vsatp was
# Bare must not answer for it.  Here the tables map only the page of `cont`, so the fetch
# after the write is an instruction page fault (to M, with the pc as tval), after which the
# handler resumes at `cont` (ra), which turns translation off again.  (The same for HS-mode's
# satp, V=0: test_hext_spec.py -- QEMU 7.2 sets GVA on that fault.)
    .macro MAP root, l1, l0, target # map the 4 KiB page of target at its own address
    la      t0, \l1
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, \target
    srli    t2, t1, 30
    andi    t2, t2, 0x1ff
    slli    t2, t2, 3
    la      t3, \root
    add     t3, t3, t2
    sd      t0, 0(t3)
    la      t0, \l0
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    srli    t2, t1, 21
    andi    t2, t2, 0x1ff
    slli    t2, t2, 3
    la      t3, \l1
    add     t3, t3, t2
    sd      t0, 0(t3)
    srli    t0, t1, 12
    slli    t0, t0, 10
    ori     t0, t0, 0x4b            # V R X A
    srli    t2, t1, 12
    andi    t2, t2, 0x1ff
    slli    t2, t2, 3
    la      t3, \l0
    add     t3, t3, t2
    sd      t0, 0(t3)
    .endm
    MAP     root, l1, l0, cont
    la      t0, root
    srli    t0, t0, 12
    li      t1, 8 << 60
    or      s3, t0, t1              # satp/vsatp: Sv39, ASID 0
    csrw    vsatp, zero
    csrw    hgatp, zero
# 1. a guest (VS-mode), vsatp Bare -> Sv39
    la      s5, 2f                  # where cont returns to, in M-mode
    GO      3, 1f
1:  la      ra, cont
    li      s4, 3
    sfence.vma
    addi    s4, s4, 1               # (fetched, and run, while vsatp is Bare)
    csrw    satp, s3
    li      s4, 99                  # must not run: its page is not mapped
    REC     s4
    ESC
2:  j       done

    .balign 4096
cont:                               # the only page the tables map
    csrw    satp, zero
    REC     s4
    ESC
    jr      s5
    .balign 4096
done:
    csrw    satp, zero
    csrw    vsatp, zero

#DATA
    .data
    .balign 4096
root:
    .zero   4096
l1:
    .zero   4096
l0:
    .zero   4096
