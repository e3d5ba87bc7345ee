# Branches whose size depends on distance: 2, 4 or 8 bytes.
    .text
_start:
    beqz a0, near           # c.beqz
    beqz a0, mid            # beq: too far for c.beqz
    beqz a0, far            # bne over a jal: too far for beq
    bnez a6, near           # a6 is not a compressed register
    j    mid                # jal: too far for c.j
    j    near               # c.j
    blt  a0, a1, far        # bge over a jal
near:
    .skip 300
mid:
    .skip 4000
far:
    bgeu a0, a1, _start     # bltu over a jal, backwards
    j    _start
    ret
