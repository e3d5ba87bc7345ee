# hello.s -- the smallest guest that shows the machine working.
#
# It runs in M-mode straight from reset (no firmware), prints a greeting on the
# 16550 UART of the virt board, takes one deliberate trap (an ecall) to show that a
# trap jumps to mtvec and records mcause/mepc, then powers the board off through
# the sifive_test device with "pass".

        .equ UART_BASE, 0x10000000      # 16550: THR at +0, LSR at +5
        .equ LSR_THRE,  0x20            # "transmit holding register empty"
        .equ TEST_BASE, 0x100000        # sifive_test: write 0x5555 = pass
        .equ TEST_PASS, 0x5555

        .text
        .globl _start
_start:
        la      sp, stack_top
        la      t0, trap_handler
        csrw    mtvec, t0               # traps now land in trap_handler

        la      a0, greeting
        call    puts

        ecall                           # a trap on purpose: mcause = 11 (ecall from M)
        la      a0, back
        call    puts

        li      t0, TEST_BASE
        li      t1, TEST_PASS
        sw      t1, 0(t0)               # power off: the run ends with exit code 0
1:      j       1b

# puts(a0 = NUL-terminated string): write each byte once the UART can take it.
puts:
        li      t0, UART_BASE
1:      lbu     t1, 0(a0)
        beqz    t1, 3f
2:      lbu     t2, 5(t0)               # wait for THR empty
        andi    t2, t2, LSR_THRE
        beqz    t2, 2b
        sb      t1, 0(t0)
        addi    a0, a0, 1
        j       1b
3:      ret

# The trap handler: report the cause, then step over the ecall (4 bytes) and return.
# mtvec keeps its mode in the low two bits, so a handler must be 4-byte aligned.
        .balign 4
trap_handler:
        mv      s1, ra                  # puts clobbers ra; keep the interrupted one
        csrr    t0, mcause
        li      t1, 11                  # 11 = environment call from M-mode
        la      a0, trapped
        beq     t0, t1, 1f
        la      a0, unexpected
1:      call    puts
        csrr    t0, mepc                # mepc = address of the ecall itself...
        addi    t0, t0, 4               # ...so resume after it
        csrw    mepc, t0
        mv      ra, s1
        mret

        .section .rodata
greeting: .asciz "Hello from a RISC-V guest on vmlab!\n"
trapped:  .asciz "  trap: ecall from M-mode taken, handler at mtvec runs\n"
unexpected: .asciz "  trap: an unexpected cause!\n"
back:     .asciz "  back from the trap with mret\n"

        .bss
        .balign 16
stack:  .skip 4096
stack_top:
