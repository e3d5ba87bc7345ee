# .org (continue at a section offset), .hword/.int, and LEB128 numbers as DWARF uses them.
    .text
_start:
    j    entry
    .org 0x40
entry:
    li   a0, 1
    ret
    .org 0x60, 0xff
table:
    .hword 1, 2
    .int 3
    .uleb128 0
    .uleb128 127
    .uleb128 128
    .uleb128 624485
    .sleb128 -1
    .sleb128 63
    .sleb128 64
    .sleb128 -65
    .sleb128 -123456
    .balign 4
    .section .rodata
    .org 8
    .byte 9
