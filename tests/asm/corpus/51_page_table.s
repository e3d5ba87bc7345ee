# Build an Sv39 identity map with a gigapage and turn on paging.
    .equ PTE_V, 1 << 0
    .equ PTE_R, 1 << 1
    .equ PTE_W, 1 << 2
    .equ PTE_X, 1 << 3
    .equ PTE_A, 1 << 6
    .equ PTE_D, 1 << 7
    .equ SATP_SV39, 8 << 60
    .text
_start:
    la    t0, root
    li    t1, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd    t1, 2*8(t0)
    srli  t0, t0, 12
    li    t1, SATP_SV39
    or    t0, t0, t1
    csrw  satp, t0
    sfence.vma zero, zero
    ret
    .section .data.pt, "aw"
    .balign 4096
root: .zero 4096
