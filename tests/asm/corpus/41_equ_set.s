# Assigned symbols: .equ, .set and "=".
    .equ UART, 0x10000000
    .set COUNT, 4
    SHIFT = 3
    .equ MASK, (1 << SHIFT) - 1
    .text
_start:
    li   a0, UART
    li   a1, COUNT * 2
    andi a2, a2, MASK
    .set COUNT, COUNT + 1
    li   a3, COUNT
    .equ SIZE, end - start_data
    li   a4, SHIFT
    lui  a5, %hi(UART)
    sb   a0, %lo(UART)(a5)
    ret
    .data
start_data: .word 1, 2, 3
end:
    .word SIZE
