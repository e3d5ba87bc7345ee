# A file assembled entirely without compression.
    .option norvc
    .text
_start:
    li   a0, 5
    mv   a1, a0
    beqz a0, 1f
    j    1f
    lw   a0, 0(sp)
    ret
1:  nop
    .align 3
    ebreak
