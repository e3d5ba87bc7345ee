# Integer data of every width.
    .data
bytes:  .byte 1, 2, 0xff, -1, 'A'
halves: .half 0x1234, -2
shorts: .short 0xbeef
words:  .word 0xdeadbeef, -1, bytes
longs:  .long 42
dwords: .dword 0x0123456789abcdef, words
quads:  .quad -1, dwords - bytes
b2: .2byte 7
b4: .4byte 8
b8: .8byte 9
    .text
_start:
    la  a0, bytes
    ret
