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
    .macro pair a, b=7
    .word \a
    .word \b
    .endm
    .data
    pair (1 + 2)          # one argument: blanks inside parentheses do not separate
    pair 1 + 2            # one argument: nor do blanks next to an operator
    pair 3 4              # two arguments
    pair 5,               # an empty argument takes the default
    pair ,6               # ... and an empty .word emits nothing
