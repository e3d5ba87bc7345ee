# Macros with arguments, defaults and keyword arguments.
    .macro push reg
    addi sp, sp, -8
    sd   \reg, 0(sp)
    .endm
    .macro pop reg
    ld   \reg, 0(sp)
    addi sp, sp, 8
    .endm
    .macro load_imm reg, value=0
    li   \reg, \value
    .endm
    .macro store_pair a, b, base=sp, off=0
    sd   \a, \off(\base)
    sd   \b, \off+8(\base)
    .endm
    .text
_start:
    push ra
    push s0
    load_imm a0
    load_imm a1, 0x12345
    load_imm a2 7
    store_pair t0, t1
    store_pair t0, t1, a0, 16
    store_pair a=s1, b=s2, off=32
    pop s0
    pop ra
    ret
