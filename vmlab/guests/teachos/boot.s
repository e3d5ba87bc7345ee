# boot.s -- the first instructions teachos runs, and the order it sets itself up in.
#
# OpenSBI's fw_jump firmware jumps here, to 0x8020_0000, in S-mode, with paging off
# (satp = 0), interrupts off, a0 = this hart's id and a1 = the device tree's address.
# There is no stack yet: hart_setup (smp.s) gives this hart its own, and tp.
# The other harts, if any, are still stopped; this one sets everything up alone,
# then starts them.
#
# Each step below is one call, so that boot reads like a table of contents:
#
#   zero .bss -> this hart's stack -> console -> trap vector -> check SBI
#     -> steal time -> page tables -> paging on -> disk -> other harts
#     -> the scheduler runs the processes (and we never come back)
#
# We do not read the device tree: the virt board always puts its devices at the
# same addresses (layout.s). A real kernel would look them up in it.

        .text
        .globl _start
_start:
        mv      s0, a0                  # keep the hart id
        call    zero_bss                # (it needs no stack)
        mv      a0, s0
        call    hart_setup              # smp.s: tp = this hart's struct cpu, sp = its stack
        call    uart_init
        call    trap_init               # from here on, a kernel bug is reported
        la      a0, msg_boot
        call    kputs
        mv      a0, s0
        call    kputdec
        call    kputnl

        call    sbi_check               # the firmware must offer TIME and SRST
        addi    a0, tp, C_STA           # and may report steal time (sbi.s)
        call    sta_init
        la      t0, have_sta
        sd      a0, 0(t0)
        call    kvminit                 # the kernel's page table
        call    procinit                # three processes, each with its own table
        call    vm_on                   # satp: from here on, addresses are virtual
        call    virtio_init             # find the disk (or learn there is none)
        call    count_harts             # smp.s: are there other harts?
        la      a0, msg_run
        call    kputs
        call    start_harts             # smp.s: they join in at secondary_start
        j       hart_loop               # sched.s: run processes (we never come back)

# zero_bss: clear .bss, which holds the page tables, the process table and the
# harts' stacks. The ELF
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
have_sta:       .dword 0                # 1: the firmware writes steal time (C_STA)

        .bss
        .balign 64
bss_start:                              # (user.s puts bss_end at the very end)
