# li with 64-bit constants: build the upper part, shift, add the low 12 bits.
    .text
_start:
    li a0, 0x80000000
    li a0, 0xffffffff
    li a0, 0x100000000
    li a0, -0x80000001
    li a0, 0x123456789abcdef0
    li a0, -0x123456789abcdef0
    li a0, 0x8000000000000000
    li a0, 0x7fffffffffffffff
    li a0, 0xffffffff00000000
    li a0, 0x00ff00ff00ff00ff
    li a0, 0x7ff00000000
    li a0, 0x80000800
    li a0, 0xfffffffffffff800
    li t3, 0xdeadbeefcafebabe
    li a0, 1 << 40
    ret
