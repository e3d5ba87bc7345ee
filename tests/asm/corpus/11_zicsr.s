# CSR instructions with names and numbers.
    .text
_start:
    csrrw  a0, mstatus, a1
    csrrs  a0, mie, a1
    csrrc  a0, mip, a1
    csrrwi a0, mtvec, 31
    csrrsi a0, 0x340, 1
    csrrci a0, sstatus, 0
    csrrw  zero, satp, t0
    csrrs  t0, cycle, zero
    csrrs  t0, 0xc01, zero
    csrrw  a0, mscratch, a0
    csrrw  a0, sscratch, a0
    csrrs  a0, mhartid, zero
    csrrs  a0, scause, zero
    csrrs  a0, stval, zero
    csrrs  a0, sepc, zero
    ret
