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
# We use BASE (0x10) to ask which others exist, TIME (0x54494D45, "TIME" in
# ASCII) to set the next timer interrupt, SRST (0x53525354, "SRST") to power off,
# and, when the firmware has it, STA (0x535441, "STA": steal-time accounting) to
# learn how long we were kept waiting. Every register other than a0/a1 survives.
#
# Steal time. Under a hypervisor our "hart" is a virtual CPU that shares a real
# one with other guests: between two of our instructions, the hypervisor may run
# someone else for milliseconds. We cannot notice that ourselves -- `time` just
# jumps. With STA we give the hypervisor the (physical) address of a 64-byte
# record, and it writes there how many ns we were runnable but not running:
#
#     0  sequence  u32   odd while the hypervisor is writing the record
#     4  flags     u32
#     8  steal     u64   ns runnable but not running, since the record was set
#    16  preempted u8    (the rest is padding)
#
# A reader may catch the record half written, so it reads the sequence, the
# steal time, and the sequence again, and tries again if the sequence was odd or
# changed. OpenSBI on a bare board has no STA (nothing steals a real hart): then
# teachos simply says nothing about steal time.

        .equ SBI_BASE,          0x10
        .equ SBI_BASE_PROBE,    3       # probe_extension(eid) -> a1 != 0 if present
        .equ SBI_TIME,          0x54494D45
        .equ SBI_TIME_SET,      0       # set_timer(stime_value)
        .equ SBI_SRST,          0x53525354
        .equ SBI_SRST_RESET,    0       # system_reset(type, reason)
        .equ SRST_SHUTDOWN,     0       # reset type 0 = shut down
        .equ SBI_STA,           0x535441
        .equ SBI_STA_SET_SHMEM, 0       # set_shmem(addr_lo, addr_hi, flags)
        .equ STA_SEQUENCE,      0       # the record's fields (above)
        .equ STA_STEAL,         8

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

# sta_init(a0 = a 64-byte aligned record): if the firmware offers STA, ask it to
# report this hart's steal time there. -> a0 = 1 if it will, 0 if not.
sta_init:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      a0, 0(sp)
        li      a0, SBI_STA
        call    sbi_probe
        beqz    a0, 1f
        ld      a0, 0(sp)               # the record's address (low and high half)
        li      a1, 0
        li      a2, 0                   # flags: none defined
        li      a7, SBI_STA
        li      a6, SBI_STA_SET_SHMEM
        ecall
        seqz    a0, a0                  # error 0: it will
1:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# sta_steal(a0 = the record) -> a0 = the steal time it holds, in ns: read between
# two reads of an even, unchanged sequence number (fences keep the reads in order).
sta_steal:
1:      lw      t0, STA_SEQUENCE(a0)
        andi    t1, t0, 1
        bnez    t1, 1b                  # odd: being written right now
        fence   r, r
        ld      t1, STA_STEAL(a0)
        fence   r, r
        lw      t2, STA_SEQUENCE(a0)
        bne     t0, t2, 1b              # it changed while we read: again
        mv      a0, t1
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
