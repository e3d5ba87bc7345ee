# console.s -- the console: a 16550 UART, driven directly through its registers.
#
# The 16550 is a serial port from 1987 that every emulator still offers. Its
# registers are bytes at UART0 + n (memory-mapped I/O: a load or store to these
# addresses reaches the device, not RAM):
#
#   UART0 + 0  THR  transmit holding register: store a byte here to send it
#   UART0 + 1  IER  interrupt enable: 0 = the UART raises no interrupts
#   UART0 + 2  FCR  FIFO control: 1 = FIFOs on, +2/+4 = clear receive/transmit FIFO
#   UART0 + 3  LCR  line control: 3 = 8 data bits, no parity, 1 stop bit
#   UART0 + 5  LSR  line status: bit 5 (THRE) = 1 when THR can take another byte
#
# We poll: before each byte, read LSR until THRE is set. Under a hypervisor every
# one of these loads and stores is an MMIO access it has to trap and emulate --
# which is exactly what the labs want to watch.
#
# Every routine here changes only a0, a1 and t0-t3, so callers need save nothing
# else around a print.

        .equ UART_THR,  0
        .equ UART_IER,  1
        .equ UART_FCR,  2
        .equ UART_LCR,  3
        .equ UART_LSR,  5
        .equ LSR_THRE,  1 << 5

        .text
# uart_init: no UART interrupts (we poll), 8N1 framing, FIFOs on and empty.
# The baud rate is left as the firmware set it: an emulated wire has no speed.
uart_init:
        .ifndef PV_CONSOLE
        li      t0, UART0
        sb      zero, UART_IER(t0)
        li      t1, 3
        sb      t1, UART_LCR(t0)
        li      t1, 7
        sb      t1, UART_FCR(t0)
        .endif
        ret

# kputc(a0 = byte): wait until the transmitter has room, then send.
kputc:
        .ifdef PV_CONSOLE
        # Built with PV_CONSOLE (teachos.build(pv_console=True)): the paravirtual console.
        # No UART at all: one SBI call (legacy putchar, EID 1) per byte, where the 16550
        # costs a guest at least two device accesses (LSR, THR), each an MMIO exit.
        mv      t0, a7                  # a7 is not ours to change
        li      a7, 1
        ecall
        mv      a7, t0
        ret
        .else
        li      t0, UART0
1:      lbu     t1, UART_LSR(t0)
        andi    t1, t1, LSR_THRE
        beqz    t1, 1b
        sb      a0, UART_THR(t0)
        ret
        .endif

# kputnl: end a line.
kputnl:
        li      a0, '\n'
        j       kputc                   # a tail call: kputc returns to our caller

# kputs(a0 = NUL-terminated string)
kputs:
        mv      t2, ra                  # kputc does not touch t2/t3
        mv      t3, a0
1:      lbu     a0, 0(t3)
        beqz    a0, 2f
        call    kputc
        addi    t3, t3, 1
        j       1b
2:      mv      ra, t2
        ret

# kwrite(a0 = buffer, a1 = length): send exactly a1 bytes (NULs included).
kwrite:
        mv      t2, ra
        mv      t3, a0
        add     a1, a0, a1              # a1 = end of the buffer
1:      bgeu    t3, a1, 2f
        lbu     a0, 0(t3)
        call    kputc
        addi    t3, t3, 1
        j       1b
2:      mv      ra, t2
        ret

# kputdec(a0 = unsigned number): print it in decimal. The digits come out
# least significant first, so they are stored backwards into a buffer on the
# stack and printed from the first digit.
kputdec:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sb      zero, 23(sp)            # the terminating NUL
        addi    t3, sp, 23              # t3 walks backwards over the buffer
        li      t1, 10
1:      remu    t2, a0, t1
        divu    a0, a0, t1
        addi    t2, t2, '0'
        addi    t3, t3, -1
        sb      t2, 0(t3)
        bnez    a0, 1b
        mv      a0, t3
        call    kputs
        ld      ra, 24(sp)
        addi    sp, sp, 32
        ret

# kputhex(a0 = number): print it as 0x... in hex, without leading zeros.
kputhex:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sb      zero, 23(sp)
        addi    t3, sp, 23
1:      andi    t2, a0, 15
        srli    a0, a0, 4
        addi    t2, t2, '0'
        li      t1, '9'
        ble     t2, t1, 2f
        addi    t2, t2, 'a' - '9' - 1   # 10..15 -> a..f
2:      addi    t3, t3, -1
        sb      t2, 0(t3)
        bnez    a0, 1b
        addi    t3, t3, -2
        li      t2, '0'
        sb      t2, 0(t3)
        li      t2, 'x'
        sb      t2, 1(t3)
        mv      a0, t3
        call    kputs
        ld      ra, 24(sp)
        addi    sp, sp, 32
        ret

# panic(a0 = message): something that must not happen did. Say so and power off,
# telling the firmware this was a failure.
panic:
        mv      s0, a0
        la      a0, msg_panic
        call    kputs
        mv      a0, s0
        call    kputs
        call    kputnl
        li      a0, 1                   # SRST reason 1: system failure
        j       sbi_shutdown

        .section .rodata
msg_panic:      .asciz "teachos: panic: "
