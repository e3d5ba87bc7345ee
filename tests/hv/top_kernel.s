# A small kernel that runs in the top megapage of Sv39 (0xffff_ffff_ffe0_0000) and tests
# U-mode below it, bare or as a guest; then it probes the corners of the 64-bit address
# space from there.  Its pc is >= 2**63 the whole time it runs in S-mode: every CSR access,
# ecall, device access and fault it makes is an exit with a "negative" pc for a hypervisor
# that forgets guest values are unsigned.
#
# Entry: m_entry (M-mode: bare, or a guest in virtual M-mode) or s_boot (S-mode: a guest
# kernel with the hypervisor as SBI firmware).  The test picks one as _start.
# Results: LOG holds one (scause, stval, sepc) triple per trap the kernel saw, then the test
# reads it; the U-mode program's checksum is checked by the kernel.  It powers off through
# sifive_test: status 0 (pass) or the number of the check that failed.

        .equ TOP, 0xffffffffffe00000       # the top megapage of Sv39
        .equ RAM, 0x80000000               # ... maps the first 2 MiB of RAM
        .equ UVA, 0x40000000               # user code page; user data at UVA + 0x1000
        .equ TEST, 0x100000                # sifive_test
        .equ UART, 0x10000000
        .equ V, 1
        .equ RWX, 0xe
        .equ AD, 0xc0
        .equ U, 0x10

        .text
{entry_m}
m_entry:                                    # M-mode: firmware for the kernel below
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, -1                      # PMP: all of memory for S and U
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0
        li      t0, 0xb1ff                  # every exception but ecalls from S and M to S
        csrw    medeleg, t0
        call    build_tables
        csrw    satp, a0
        sfence.vma
        li      t0, 0x1800                  # MPP = S
        csrc    mstatus, t0
        li      t0, 0x800
        csrs    mstatus, t0
        la      t0, s_entry
        li      t1, TOP - RAM               # s_entry as the top megapage shows it
        add     t0, t0, t1
        csrw    mepc, t0
        mret

        .balign 4                           # (xtvec's base is 4-byte aligned)
m_trap:                                     # SBI for the kernel: any call returns a0 = 0
        csrr    t0, mcause
        li      t1, 9
        bne     t0, t1, m_fail
        csrr    t0, mepc
        addi    t0, t0, 4
        csrw    mepc, t0
        li      a0, 0
        mret
m_fail:
        li      a0, 99
        j       power_off_phys

{entry_s}
s_boot:                                     # S-mode with the hypervisor as firmware
        call    build_tables
        csrw    satp, a0
        sfence.vma
        la      t0, s_entry
        li      t1, TOP - RAM
        add     t0, t0, t1
        jr      t0

power_off_phys:                             # a0 = status (0 pass)
        li      t0, TEST
        li      t1, 0x5555
        beqz    a0, 1f
        slli    t1, a0, 16
        li      t2, 0x3333
        or      t1, t1, t2
1:      sw      t1, 0(t0)
2:      j       2b

# Sv39 tables, built at physical addresses: root[0] = gigapage 0 (devices), root[1] -> the
# user's tables, root[2] = gigapage RAM (identity, for the jump up), root[511] -> L1 whose
# last entry is the top megapage.  Returns satp in a0.
build_tables:
        la      t0, root
        li      t1, (0 >> 2) | V | RWX | AD
        sd      t1, 0(t0)
        li      t1, (RAM >> 2) | V | RWX | AD
        sd      t1, 16(t0)
        la      t2, l1_user
        srli    t2, t2, 12
        slli    t2, t2, 10
        ori     t2, t2, V
        sd      t2, 8(t0)
        la      t2, l1_top
        srli    t3, t2, 12
        slli    t3, t3, 10
        ori     t3, t3, V
        li      t4, 511 * 8
        add     t4, t0, t4
        sd      t3, 0(t4)
        li      t1, (RAM >> 2) | V | RWX | AD
        li      t4, 511 * 8
        add     t4, t2, t4
        sd      t1, 0(t4)                   # l1_top[511]: TOP -> RAM, 2 MiB
        la      t2, l1_user                 # l1_user[0] -> l0_user
        la      t3, l0_user
        srli    t3, t3, 12
        slli    t3, t3, 10
        ori     t3, t3, V
        sd      t3, 0(t2)
        la      t3, user_code               # l0_user[0]: UVA -> user_code, U R X
        srli    t3, t3, 12
        slli    t3, t3, 10
        ori     t3, t3, V | 0xa | U | AD
        la      t2, l0_user
        sd      t3, 0(t2)
        la      t3, user_data               # l0_user[1]: UVA + 4K -> user_data, U R W
        srli    t3, t3, 12
        slli    t3, t3, 10
        ori     t3, t3, V | 0x6 | U | AD
        sd      t3, 8(t2)
        srli    a0, t0, 12
        li      t1, 8 << 60
        or      a0, a0, t1
        ret

# ---- the kernel, running at TOP + offset -------------------------------------------------
s_entry:
        la      sp, kstack_top
        la      t0, s_trap
        csrw    stvec, t0
        la      s0, log                     # s0: where the next log triple goes
        li      s1, 0                       # s1: the user's checksum, as syscalls report it
        li      t0, 0x100                   # SPP = U
        csrc    sstatus, t0
        li      t0, UVA
        csrw    sepc, t0
        sret                                # to user_code

        .balign 4
s_trap:                                     # log every trap, then see what it was
        csrr    t0, scause
        csrr    t1, stval
        csrr    t2, sepc
        sd      t0, 0(s0)
        sd      t1, 8(s0)
        sd      t2, 16(s0)
        addi    s0, s0, 24
        csrr    t3, sstatus
        andi    t3, t3, 0x100
        bnez    t3, probe_trap              # from S-mode: a probe; resume at s11
        li      t3, 8
        beq     t0, t3, syscall
        addi    t2, t2, 4                   # a U-mode fault: skip the instruction
        csrw    sepc, t2
        sret
syscall:
        addi    t2, t2, 4
        csrw    sepc, t2
        beqz    a7, user_done
        add     s1, s1, a0                  # a7 = 1: add a0 to the checksum
        sret
probe_trap:
        csrw    sepc, s11
        li      t0, 0x100                   # back to S-mode at s11
        csrs    sstatus, t0
        sret

user_done:                                  # the user program finished: check its work
        li      t0, 5050 + 1234
        li      a0, 1
        bne     s1, t0, fail
        j       probes

# ---- probes from the top: every exit kind with pc >= 2**63 --------------------------------
.macro probe_load addr
        la      s11, 1f
        li      t5, \addr
        ld      t6, 0(t5)
1:
.endm
.macro probe_store addr
        la      s11, 1f
        li      t5, \addr
        sd      t5, 0(t5)
1:
.endm
.macro probe_jump addr
        la      s11, 1f
        li      t5, \addr
        jalr    t5
1:
.endm

probes:
        probe_load  0x8000000000000000      # non-canonical, just past 2**63
        probe_load  0x7ffffffffffffff8      # non-canonical, just below 2**63
        probe_load  0x0000004000000000      # non-canonical, just past Sv39's low half
        probe_store 0xffffffffc0000000      # canonical, unmapped
        probe_store 0xffffffc000000000      # the lowest canonical high address
        probe_jump  0x8000000000000000
        probe_jump  0xfffffffffffffffc      # mapped (the megapage's last word: zeros)
        probe_jump  0x0000003ffffff000      # the highest low page, unmapped
        la      s11, 1f                     # sret to a non-canonical target
        li      t5, 0xfffffffffffff000 ^ 0x8000000000000000
        csrw    sepc, t5
        li      t0, 0x100
        csrs    sstatus, t0
        sret
1:
        li      t0, -1                      # CSRs holding values >= 2**63
        csrw    sscratch, t0
        csrr    t1, sscratch
        li      a0, 2
        bne     t0, t1, fail
        li      t0, 0x8000000000000001
        csrw    stval, t0
        csrr    t1, stval
        li      a0, 3
        bne     t0, t1, fail
        li      a7, 0x10                    # an SBI call from the top (BASE, spec version)
        li      a6, 0
        li      a0, -1
        ecall
        mv      t0, a0                      # returns here with a0 = 0 (SUCCESS)
        li      a0, 4
        bnez    t0, fail
        li      t0, UART                    # device accesses from the top
        li      t1, 'T'
        sb      t1, 0(t0)
        li      t1, '\n'
        sb      t1, 0(t0)
        lbu     t1, 5(t0)                   # LSR: transmitter empty
        andi    t1, t1, 0x20
        li      a0, 5
        beqz    t1, fail
        li      a0, 0
fail:                                       # a0: 0 pass, else the failed check
        la      t0, result
        sd      a0, 0(t0)
        j       power_off_phys              # pc-relative: runs at this alias, TEST is mapped

# ---- the user program (mapped at UVA) ----------------------------------------------------
        .balign 4096
user_code:
        li      a0, 0
        li      t0, 100
1:      add     a0, a0, t0                  # 5050 = 1 + ... + 100
        addi    t0, t0, -1
        bnez    t0, 1b
        li      t1, UVA + 0x1000
        sd      a0, 0(t1)                   # through its data page
        ld      a0, 0(t1)
        li      a7, 1
        ecall                               # checksum += 5050
        li      t2, 0x50000000
        ld      t3, 0(t2)                   # unmapped: the kernel logs and skips it
        li      t2, TOP
        ld      t3, 0(t2)                   # the kernel's page: no U bit
        li      t2, 0x8000000000000000
        sd      t3, 0(t2)                   # non-canonical, from low code
        li      a0, 1234
        li      a7, 1
        ecall
        li      a7, 0
        ecall                               # done
3:      j       3b

        .balign 4096
user_data:
        .space  4096

        .data
        .balign 4096
root:   .space  4096
l1_user: .space 4096
l0_user: .space 4096
l1_top: .space  4096
        .balign 8
result: .dword  -1
log:    .space  24 * 32
        .balign 16
        .space  4096
kstack_top:
