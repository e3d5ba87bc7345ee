# CSR pseudo-instructions and counters.
    .text
_start:
    csrr  a0, mstatus
    csrw  mtvec, a0
    csrs  mie, a1
    csrc  mip, a2
    csrwi mscratch, 1
    csrsi mstatus, 8
    csrci mstatus, 8
    rdtime    t0
    rdcycle   t1
    rdinstret t2
    csrr  a0, sstatus
    csrw  satp, zero
    ret
