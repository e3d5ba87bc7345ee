# Supervisor code making SBI calls (legacy console and the timer extension).
    .equ SBI_EXT_TIME, 0x54494D45
    .text
_start:
    li   a7, 1           # legacy console putchar
    li   a0, 'V'
    ecall
    rdtime a0
    li   t0, 10000000
    add  a0, a0, t0
    li   a7, SBI_EXT_TIME
    li   a6, 0
    ecall
    li   t0, 1 << 5
    csrs sie, t0
    csrsi sstatus, 2
1:  wfi
    j    1b
