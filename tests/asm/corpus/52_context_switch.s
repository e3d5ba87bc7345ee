# Switch between two threads' saved registers, as xv6 does.
    .equ .Loff_ra, 0
    .equ .Loff_sp, 8
    .equ .Loff_s0, 16
    .equ .Loff_s1, 24
    .equ .Loff_s2, 32
    .equ .Loff_s3, 40
    .equ .Loff_s4, 48
    .equ .Loff_s5, 56
    .equ .Loff_s6, 64
    .equ .Loff_s7, 72
    .equ .Loff_s8, 80
    .equ .Loff_s9, 88
    .equ .Loff_s10, 96
    .equ .Loff_s11, 104
    .text
    .globl swtch
_start:
    la   a0, ctx_a
    la   a1, ctx_b
    call swtch
    ret
swtch:
    .irp r, ra, sp, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11
    sd   \r, .Loff_\r(a0)
    .endr
    .irp r, ra, sp, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11
    ld   \r, .Loff_\r(a1)
    .endr
    ret
    .data
    .balign 8
ctx_a: .zero 112
ctx_b: .zero 112
