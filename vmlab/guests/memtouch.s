# memtouch.s -- a guest that writes pseudo-random data over all of its RAM and reads it back.
#
# It is the test of a hypervisor's memory tricks: whatever the host does behind the
# guest's back (swapping pages out, merging identical pages, ballooning), every word the
# guest reads must be the word it wrote.  It starts in S-mode with paging off (the
# hypervisor is its SBI firmware) and, for each round:
#
#   write pass: every page from `region` up to `ram_end` gets 512 words of xorshift64,
#               seeded from (seed, round, page number modulo `distinct`)
#   check pass: the same sequence again, compared with what is in memory: a word that
#               differs counts in `mismatches`; every word read adds into `checksum`
#
# With `distinct` = k > 0 only k different page contents exist (the same in every VM with
# the same seed): pages a sharing scanner can merge.  With 0, every page differs.
# The host patches the parameters after loading (see vmlab/guests/memtouch.py) and reads
# the results when the guest has powered off through SBI SRST.

        .equ PAGE_K, 0x9E3779B97F4A7C15 # spreads page numbers over the seed space
        .equ ROUND_K, 0xD1B54A32D192ED03

        .text
        .globl _start
_start:
        la      sp, stack_top
        la      s0, region              # first page tested: just past the program
        ld      s1, ram_end
        li      s4, 0                   # mismatches
        li      s5, 0                   # checksum
        li      s6, 0                   # round
round:
        ld      t0, rounds
        bgeu    s6, t0, finish
        li      a2, 0
        call    sweep                   # write
        li      a2, 1
        call    sweep                   # check
        addi    s6, s6, 1
        sd      s6, done_rounds, t0
        j       round

finish:
        sd      s4, mismatches, t0
        sd      s5, checksum, t0
        li      a7, 0x53525354          # SBI SRST: shutdown
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
1:      j       1b

# sweep(a2 = 0 write / 1 check): every page in [s0, s1), in order.
sweep:
        mv      s7, ra
        mv      s2, s0                  # page address
        li      s3, 0                   # page number
1:      bgeu    s2, s1, 9f
        mv      a0, s3
        call    page_seed
        li      t4, 4096
        add     t4, t4, s2              # end of the page
        mv      t5, s2
2:      slli    t0, a0, 13              # xorshift64: the next word
        xor     a0, a0, t0
        srli    t0, a0, 7
        xor     a0, a0, t0
        slli    t0, a0, 17
        xor     a0, a0, t0
        bnez    a2, 3f
        sd      a0, 0(t5)
        j       4f
3:      ld      t0, 0(t5)
        add     s5, s5, t0
        beq     t0, a0, 4f
        addi    s4, s4, 1
4:      addi    t5, t5, 8
        bltu    t5, t4, 2b
        mv      s2, t4
        addi    s3, s3, 1
        j       1b
9:      mv      ra, s7
        ret

# page_seed(a0 = page number) -> a0: seed + round * ROUND_K + (page mod distinct) * PAGE_K, odd
page_seed:
        ld      t0, distinct
        beqz    t0, 1f
        remu    a0, a0, t0
1:      li      t0, PAGE_K
        mul     a0, a0, t0
        li      t0, ROUND_K
        mul     t1, s6, t0
        add     a0, a0, t1
        ld      t0, seed
        add     a0, a0, t0
        ori     a0, a0, 1               # xorshift needs a state that is not 0
        ret

        .data
        .balign 8
        .globl ram_end, seed, distinct, rounds, mismatches, checksum, done_rounds
ram_end:     .dword 0                   # parameters (the host writes them)
seed:        .dword 1
distinct:    .dword 0
rounds:      .dword 1
mismatches:  .dword 0                   # results
checksum:    .dword 0
done_rounds: .dword 0

        .bss
        .balign 16
        .space  4096
stack_top:
        .balign 4096
region:
