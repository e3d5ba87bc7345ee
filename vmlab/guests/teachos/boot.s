# boot.s -- the first instructions teachos runs, and the order it sets itself up in.
#
# OpenSBI's fw_jump firmware jumps here, to 0x8020_0000, in S-mode, with paging off
# (satp = 0), interrupts off, a0 = this hart's id and a1 = the device tree's address.
# There is no stack yet, so the very first thing is to point sp at one.
#
# Each step below is one call, so that boot reads like a table of contents:
#
#   zero .bss -> console -> trap vector -> check SBI -> steal time -> page tables -> paging on
#             -> disk -> timer -> the first process runs (and we never come back)
#
# We do not read the device tree: the virt board always puts its devices at the
# same addresses (layout.s). A real kernel would look them up in it.

        .text
        .globl _start
_start:
        la      sp, kstack_top          # the one kernel stack (see trap.s for why one)
        mv      s0, a0                  # keep the hart id to print it
        call    zero_bss
        call    uart_init
        call    trap_init               # from here on, a kernel bug is reported
        la      a0, msg_boot
        call    kputs
        mv      a0, s0
        call    kputdec
        call    kputnl

        call    sbi_check               # the firmware must offer TIME and SRST
        la      a0, sta_rec             # and may report steal time (sbi.s)
        call    sta_init
        la      t0, have_sta
        sd      a0, 0(t0)
        call    kvminit                 # the kernel's page table
        call    procinit                # three processes, each with its own table
        call    vm_on                   # satp: from here on, addresses are virtual
        call    virtio_init             # find the disk (or learn there is none)
        la      a0, msg_run
        call    kputs
        call    timer_start             # the first tick, TICK from now
        j       run_first               # proc.s: drop to U-mode in process 1

# zero_bss: clear .bss, which holds the page tables and the process table. The ELF
# loader clears it too, but a kernel that relies on that breaks the day it is
# loaded some other way. It uses no stack, so it may clear the stack too.
zero_bss:
        la      t0, bss_start
        la      t1, bss_end
1:      bgeu    t0, t1, 2f
        sd      zero, 0(t0)
        addi    t0, t0, 8
        j       1b
2:      ret

        .section .rodata
msg_boot:       .asciz "teachos: booting on hart "
msg_run:        .asciz "teachos: starting 3 processes\n"

        .data
        .balign 8
have_sta:       .dword 0                # 1: the firmware writes our steal time to sta_rec

        .bss
        .balign 64
bss_start:                              # (user.s puts bss_end at the very end)
sta_rec:        .skip 64                # the steal-time record (sbi.s), 64-byte aligned
kstack:         .skip 8192
kstack_top:
