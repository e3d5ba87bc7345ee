# Reserving and filling space.
    .data
z:  .zero 5
s:  .skip 3
sp1: .skip 4, 0xaa
sp2: .space 2
sp3: .space 3, 7
f1: .fill 3
f2: .fill 2, 2, 0x1234
f3: .fill 2, 4, 0xdeadbeef
f4: .fill 1, 8, 0x11223344
    .text
_start:
    ret
