# .pushsection/.popsection: put data next to the code that uses it.
    .text
_start:
    la a0, msg1
    .pushsection .rodata
msg1: .asciz "one"
    .popsection
    la a1, msg2
    .pushsection .rodata.str, "a"
msg2: .asciz "two"
    .pushsection .data
counter: .word 0
    .popsection
    .byte 0
    .popsection
    la a2, counter
    ret
