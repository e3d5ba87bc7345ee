# li with 32-bit constants: lui and addiw.
    .text
_start:
    li a0, 2048
    li a0, -2049
    li a0, 0x1000
    li a0, 0xfff
    li a0, 0x12345678
    li a0, 0x7fffffff
    li a0, -0x80000000
    li a0, 0x7ffff800
    li a0, 0x7ffff7ff
    li s1, -0x12345
    li t0, 0x20000
    li a0, 0x1f000
    ret
