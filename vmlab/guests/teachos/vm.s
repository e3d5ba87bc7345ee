# vm.s -- Sv39 paging: the kernel's page table, one per process, and turning it on.
#
# With satp.MODE = Sv39 every address the hart uses is virtual. Sv39 splits a
# 39-bit virtual address into three 9-bit indexes and an offset:
#
#     38        30 29        21 20        12 11            0
#    +------------+------------+------------+---------------+
#    |   VPN[2]   |   VPN[1]   |   VPN[0]   |  page offset  |
#    +------------+------------+------------+---------------+
#         |             |            |
#         |   root      |  level 1   |  level 0        each table: one 4 KiB page
#         +-> table ----+-> table ---+-> table -> PA    of 512 eight-byte PTEs
#            (satp.PPN)
#
# A page-table entry (PTE):
#
#     63      54 53                              10 9   8 7 6 5 4 3 2 1 0
#    +----------+----------------------------------+-----+-+-+-+-+-+-+-+-+
#    | reserved |  PPN: physical address >> 12     | RSW |D|A|G|U|X|W|R|V|
#    +----------+----------------------------------+-----+-+-+-+-+-+-+-+-+
#
# V = valid; R/W/X = what may be done; U = user mode may use it; G = global (in
# every address space); A/D = accessed/dirty. A valid PTE with R = W = X = 0
# points at the next table; one with R or X set is a leaf -- and a leaf in the
# root table maps a whole 1 GiB "gigapage", in a level-1 table a 2 MiB "megapage".
#
# teachos uses all three sizes, so a student can see each kind of walk:
#
#   VA 0x8000_0000  root[2]              -> a gigapage: all of RAM, kernel only
#   VA 0x1000_0000  root[0] -> l1[128]   -> a megapage: UART and virtio, kernel only
#   VA 0x0000_1000  root[0] -> l1[0] -> l0[1]   user text,  4 KiB, U
#   VA 0x0000_2000  root[0] -> l1[0] -> l0[2]   user stack, 4 KiB, U
#
# The kernel's table (kroot) has only the first two. Each process gets its own
# root, level-1 and level-0 table with all four, so the kernel stays mapped while a
# process runs: a trap lands in kernel code without switching tables, and U = 0
# keeps the process out of it. We set A and D ourselves, so the hardware never
# has to (some implementations fault instead of setting them).
#
# Every process also gets its own ASID (address-space id, in satp): the TLB tags
# its entries with it, so switching between processes needs no TLB flush. Kernel
# mappings are G (global) and shared by all ASIDs.

        .equ ROOT_RAM,      RAMBASE >> 30               # 2: root index of RAM
        .equ L1_DEVICES,    (UART0 >> 21) & 511         # 128: level-1 index of the devices
        .equ PTE_TABLE,     PTE_V                       # a pointer to the next table
        .equ PTE_KERNEL,    PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D
        .equ PTE_DEVICE,    PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D
        .equ PTE_UTEXT,     PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
        .equ PTE_USTACK,    PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D

        .text
# mkpte(a0 = physical address, a1 = flags) -> a0 = the PTE
mkpte:
        srli    a0, a0, PGSHIFT
        slli    a0, a0, 10
        or      a0, a0, a1
        ret

# kvminit: build the kernel's table: RAM as one gigapage, devices as one megapage.
kvminit:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      a0, kl1                 # kroot[0] -> kl1
        li      a1, PTE_TABLE
        call    mkpte
        la      t0, kroot
        sd      a0, 0(t0)
        li      a0, RAMBASE             # kroot[2]: 0x8000_0000.. = RAM, one gigapage
        li      a1, PTE_KERNEL
        call    mkpte
        la      t0, kroot
        sd      a0, ROOT_RAM * 8(t0)
        li      a0, UART0               # kl1[128]: 0x1000_0000.. = devices, one megapage
        li      a1, PTE_DEVICE
        call    mkpte
        la      t0, kl1
        sd      a0, L1_DEVICES * 8(t0)
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# uvminit(a0 = struct proc, a1 = its index): build the process's three tables in
# its own pages (procmem), map the user text and its stack, and record the satp
# value that selects them, with ASID = pid.
#
#   its pages:  +0 root   +4096 level 1   +8192 level 0   +12288 user stack
uvminit:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sd      s0, 16(sp)
        sd      s1, 8(sp)
        mv      s0, a0
        li      t0, PROC_PAGES * PGSIZE
        mul     a1, a1, t0
        la      s1, procmem
        add     s1, s1, a1              # s1 = this process's root table
        # root[0] -> level 1; root[2] = the kernel's gigapage
        li      t0, PGSIZE
        add     a0, s1, t0
        li      a1, PTE_TABLE
        call    mkpte
        sd      a0, 0(s1)
        la      t0, kroot
        ld      t1, ROOT_RAM * 8(t0)
        sd      t1, ROOT_RAM * 8(s1)
        # l1[0] -> level 0; l1[128] = the kernel's device megapage
        li      t0, PGSIZE
        add     t2, s1, t0              # t2 = level-1 table
        add     a0, t2, t0              # a0 = level-0 table
        li      a1, PTE_TABLE
        call    mkpte
        li      t0, PGSIZE
        add     t2, s1, t0
        sd      a0, 0(t2)
        la      t0, kl1
        ld      t1, L1_DEVICES * 8(t0)
        sd      t1, L1_DEVICES * 8(t2)
        # l0[1] = the user text (shared), l0[2] = this process's stack page
        la      a0, user_start
        li      a1, PTE_UTEXT
        call    mkpte
        li      t0, 2 * PGSIZE
        add     t2, s1, t0              # t2 = level-0 table
        sd      a0, (USER_TEXT >> PGSHIFT) * 8(t2)
        li      t0, 3 * PGSIZE
        add     a0, s1, t0              # the stack page
        li      a1, PTE_USTACK
        call    mkpte
        li      t0, 2 * PGSIZE
        add     t2, s1, t0
        sd      a0, (USER_STACK >> PGSHIFT) * 8(t2)
        # satp = MODE | ASID | PPN of the root
        ld      t0, P_PID(s0)
        slli    t0, t0, ASID_SHIFT
        srli    t1, s1, PGSHIFT
        or      t0, t0, t1
        li      t1, SATP_SV39
        slli    t1, t1, 60
        or      t0, t0, t1
        sd      t0, P_SATP(s0)
        ld      ra, 24(sp)
        ld      s0, 16(sp)
        ld      s1, 8(sp)
        addi    sp, sp, 32
        ret

# vm_on: switch paging on with the kernel's table, and find out whether the hart
# has enough ASIDs for our processes.
#
# The page walker reads page tables through its own path, not through our stores,
# so `sfence.vma` comes first: it orders the table stores above before any walk.
# Writing satp flushes nothing either, so a second sfence.vma drops whatever the
# TLB may hold from before. The number of ASID bits is up to the implementation
# (possibly zero): write all ones into satp.ASID and read back which bits stuck.
vm_on:
        sfence.vma zero, zero
        mv      t5, ra
        call    kernel_satp
        mv      ra, t5
        mv      t0, a0                  # t0 = Sv39, ASID 0, kroot
        li      t1, 0xffff
        slli    t1, t1, ASID_SHIFT
        or      t1, t0, t1
        csrw    satp, t1                # from here on, every address is virtual
        csrr    t1, satp
        csrw    satp, t0
        sfence.vma zero, zero
        srli    t2, t1, 60              # a hart without Sv39 ignores the write
        li      t3, SATP_SV39
        bne     t2, t3, 1f
        srli    t1, t1, ASID_SHIFT
        li      t2, 0xffff
        and     t1, t1, t2              # the ASID bits that exist
        sltiu   t1, t1, NPROC           # 1 if pids 1..NPROC do not all fit
        xori    t1, t1, 1
        la      t2, have_asids
        sd      t1, 0(t2)
        la      a0, msg_paging
        j       kputs                   # tail call
1:      la      a0, msg_no_sv39
        j       panic

# kernel_satp -> a0 = the satp value that selects the kernel's table (ASID 0)
kernel_satp:
        la      a0, kroot
        srli    a0, a0, PGSHIFT
        li      t1, SATP_SV39
        slli    t1, t1, 60
        or      a0, a0, t1
        ret

# vm_enter: paging on for a hart started later (smp.s), on the table vm_on built.
vm_enter:
        mv      t2, ra
        call    kernel_satp
        sfence.vma zero, zero
        csrw    satp, a0
        sfence.vma zero, zero
        mv      ra, t2
        ret

# uvmfree(a0 = struct proc): a process is gone: unmap its user text and stack.
# Its translations may still sit in TLBs -- ours and, on a board with several
# harts, those of every hart it ever ran on -- so flush them everywhere (smp.s):
# a page table that changes must be followed by an sfence.vma on *each* hart.
uvmfree:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, procs
        sub     t0, a0, t0
        li      t1, PROC_SIZE
        divu    t0, t0, t1              # its index in the table
        li      t1, PROC_PAGES * PGSIZE
        mul     t0, t0, t1
        la      t1, procmem
        add     t1, t1, t0
        li      t0, 2 * PGSIZE
        add     t1, t1, t0              # its level-0 table
        sd      zero, (USER_TEXT >> PGSHIFT) * 8(t1)
        sd      zero, (USER_STACK >> PGSHIFT) * 8(t1)
        ld      a0, P_PID(a0)           # its ASID
        call    flush_asid
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# vm_switch(a0 = satp): run on another process's table. With ASIDs the TLB keeps
# each process's entries apart; without them, stale ones must be flushed.
vm_switch:
        csrw    satp, a0
        la      t0, have_asids
        ld      t0, 0(t0)
        bnez    t0, 1f
        sfence.vma zero, zero
1:      ret

        .section .rodata
msg_paging:     .asciz "teachos: Sv39 paging on (RAM: one 1 GiB page, devices: one 2 MiB page)\n"
msg_no_sv39:    .asciz "this hart has no Sv39 paging"

        .data
        .balign 8
have_asids:     .dword 0                # set by vm_on

        .bss
        .balign PGSIZE
kroot:          .skip PGSIZE            # the kernel's root table
kl1:            .skip PGSIZE            # its level-1 table for 0..1 GiB (devices)
procmem:        .skip NPROC * PROC_PAGES * PGSIZE
