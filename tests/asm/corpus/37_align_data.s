# Alignment in data: padding is zeros or the given fill byte.
    .data
    .byte 1
    .align 2
    .word 2
    .byte 3
    .balign 8, 0xee
    .dword 4
    .byte 5
    .p2align 4
    .byte 6
    .p2align 3, 0x55, 2
    .byte 7
    .text
_start:
    ret
