# Relocation operators: absolute %hi/%lo and pc-relative %pcrel_hi/%pcrel_lo.
    .text
_start:
    .equ  MMIO, 0x10001008
    lui   a0, %hi(MMIO)
    addi  a0, a0, %lo(MMIO)
    lui   a1, %hi(MMIO + 0x7f8)
    ld    a1, %lo(MMIO + 0x7f8)(a1)
    lui   a2, %hi(-0x1000)
    sd    zero, %lo(-0x1000)(a2)
1:  auipc a3, %pcrel_hi(table)
    addi  a3, a3, %pcrel_lo(1b)
.Lhere:
    auipc a4, %pcrel_hi(table + 16)
    ld    a4, %pcrel_lo(.Lhere)(a4)
    sd    a4, %pcrel_lo(.Lhere)(a4)
    lui   a5, %hi(0x12345fff)
    addi  a5, a5, %lo(0x12345fff)
    ret

    .data
    .balign 8
table: .dword 1, 2, 3
