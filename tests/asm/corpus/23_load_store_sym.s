# Loads and stores that name a symbol: auipc + access with %pcrel_lo.
    .text
_start:
    lb  a0, value
    lbu a0, value
    lh  a0, value
    lhu a0, value
    lw  a0, value
    lwu a0, value
    ld  a0, value
    sb  a0, value, t0
    sh  a0, value, t0
    sw  a0, value, t0
    sd  a0, value, t1
    ret

    .data
    .balign 8
value: .dword 0x1122334455667788
