# sbi.s -- asking the firmware (or a hypervisor) for the things S-mode cannot do.
#
# S-mode cannot program the timer (the CLINT's mtimecmp is M-mode only) or power
# the machine off by itself. The SBI (Supervisor Binary Interface) is how it asks
# whoever runs below it -- OpenSBI on bare hardware, a hypervisor in a VM:
#
#      U-mode   user programs   --ecall-->  S-mode (syscall.s)
#      S-mode   teachos         --ecall-->  M-mode / hypervisor (here)
#      M-mode   OpenSBI
#
# The calling convention (SBI v0.2 and later):
#   a7 = extension id (EID), a6 = function id (FID), a0..a5 = arguments
#   ecall
#   a0 = error (0 = success, negative = failure), a1 = value
#
# We use three extensions: BASE (0x10) to ask which others exist, TIME
# (0x54494D45, "TIME" in ASCII) to set the next timer interrupt, and SRST
# (0x53525354, "SRST") to power off. Every register other than a0/a1 survives.

        .equ SBI_BASE,          0x10
        .equ SBI_BASE_PROBE,    3       # probe_extension(eid) -> a1 != 0 if present
        .equ SBI_TIME,          0x54494D45
        .equ SBI_TIME_SET,      0       # set_timer(stime_value)
        .equ SBI_SRST,          0x53525354
        .equ SBI_SRST_RESET,    0       # system_reset(type, reason)
        .equ SRST_SHUTDOWN,     0       # reset type 0 = shut down

        .text
# sbi_probe(a0 = EID) -> a0 = nonzero if the firmware implements that extension
sbi_probe:
        li      a7, SBI_BASE
        li      a6, SBI_BASE_PROBE
        ecall
        mv      a0, a1
        ret

# sbi_check: teachos needs TIME and SRST; without them, stop right here.
sbi_check:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        li      a0, SBI_TIME
        call    sbi_probe
        la      t0, msg_no_time
        beqz    a0, 1f
        li      a0, SBI_SRST
        call    sbi_probe
        la      t0, msg_no_srst
        beqz    a0, 1f
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret
1:      mv      a0, t0
        j       panic

# sbi_set_timer(a0 = time): ask for a supervisor timer interrupt once the `time`
# counter reaches a0. It also clears the pending one, so the handler calls this
# to acknowledge a tick.
sbi_set_timer:
        li      a7, SBI_TIME
        li      a6, SBI_TIME_SET
        ecall
        ret

# sbi_shutdown(a0 = reason: 0 = none, 1 = failure): power off. It does not return;
# if the firmware refuses, we wait for interrupts forever (with interrupts off).
sbi_shutdown:
        mv      a1, a0
        li      a0, SRST_SHUTDOWN
        li      a7, SBI_SRST
        li      a6, SBI_SRST_RESET
        ecall
1:      wfi
        j       1b

        .section .rodata
msg_no_time:    .asciz "the SBI has no TIME extension"
msg_no_srst:    .asciz "the SBI has no SRST extension"
