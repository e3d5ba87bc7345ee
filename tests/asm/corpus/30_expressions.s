# Expressions: GNU as operators and precedence.
    .text
_start:
    li a0, 1 + 2 * 3
    li a0, (1 + 2) * 3
    li a0, 1 + 1 & 2          # & binds tighter than + in GNU as
    li a0, 1 << 4 | 1
    li a0, 0x100 >> 4
    li a0, -7 / 2
    li a0, -7 % 2
    li a0, ~0x0f
    li a0, 0xff ^ 0x0f
    li a0, 5 - 3 - 1
    li a0, 010                # octal
    li a0, 0b1011
    li a0, 'a'
    li a0, 2 == 2
    li a0, 3 > 4
    li a0, 1 && 0 || 1
    li a0, !0
    li a0, -(-5)
    li a0, 1 + 2 < 4
    .equ K, 12
    addi a0, a0, K * 2 - 20
    .data
    .word end - begin
begin: .word 1, 2
end:
    .dword begin + 4
    .word (end - begin) / 4
