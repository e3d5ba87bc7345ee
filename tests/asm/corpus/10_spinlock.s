# A spinlock with lr/sc and amoswap, as in an OS kernel.
    .text
    .globl _start
_start:
    la   a0, lock
    call acquire
    call release
    j    _start

acquire:
    li   t0, 1
1:  amoswap.w.aq t1, t0, (a0)
    bnez t1, 1b
    ret

release:
    amoswap.w.rl zero, zero, (a0)
    ret

cas:                            # a0 = address, a1 = expected, a2 = new
1:  lr.d.aqrl t0, (a0)
    bne  t0, a1, 2f
    sc.d.rl   t1, a2, (a0)
    bnez t1, 1b
2:  mv   a0, t0
    ret

    .data
    .balign 8
lock: .word 0
