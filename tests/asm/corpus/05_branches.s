# Conditional branches backwards and forwards.
    .text
_start:
    li   a0, 10
    li   a1, 0
loop:
    beq  a0, a1, done
    bne  a0, zero, 1f
1:  blt  a0, a1, loop
    bge  a0, a1, next
next:
    bltu t0, t1, loop
    bgeu t0, t1, done
    beq  s0, zero, loop     # c.beqz
    bne  a5, zero, done     # c.bnez
    beq  zero, a0, done     # GNU as does not swap this one
    addi a0, a0, -1
    j    loop
done:
    ret
