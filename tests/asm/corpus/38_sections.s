# Sections by name, by flags, and the standard ones.
    .text
_start:
    la a0, d
    la a1, r
    la a2, b
    j  other_code
    .data
d:  .word 1
    .section .rodata
r:  .word 2
    .bss
b:  .zero 16
    .section .text.other, "ax", @progbits
other_code:
    ret
    .section .mydata, "aw", @progbits
    .word 3
    .section .myro, "a"
    .word 4
    .section .mybss, "aw", @nobits
    .zero 32
    .section .sdata, "aw"
    .dword 5
    .text
    nop
    .section .comment           # no "a" flag: not loaded, as in GNU as + ld
    .string "vmlab corpus"
