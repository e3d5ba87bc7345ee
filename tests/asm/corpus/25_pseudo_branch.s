# Branch pseudo-instructions.
    .text
_start:
    beqz a0, 1f
    bnez a1, 1f
    blez a2, 1f
    bgez a3, 1f
    bltz a4, 1f
    bgtz a5, 1f
    bgt  a0, a1, 1f
    ble  a0, a1, 1f
    bgtu a0, a1, 1f
    bleu a0, a1, 1f
    beqz t0, 1f
    bnez s0, _start
1:  ret
