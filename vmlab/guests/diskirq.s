# diskirq.s -- a minimal interrupt-driven virtio disk driver, as teaching OSes write one.
#
# It runs in M-mode from reset (bare metal, or as a guest of the hypervisor in virtual
# M-mode) and drives the virtio-mmio block device the way a small teaching kernel does:
#
#   - features: it reads the *low* 32 feature bits only, drops the ones it does not
#     handle and writes them back -- it never selects the high word, so it never accepts
#     VIRTIO_F_VERSION_1 (QEMU's virt accepts that; so must we);
#   - one request at a time: a three-descriptor chain (header, data, status);
#   - completion by interrupt: the device raises its wire (PLIC source 1), the PLIC
#     interrupts the hart (MEIP), the handler claims the source, reads InterruptStatus,
#     acknowledges it (InterruptACK), takes the finished request from the used ring and
#     completes the claim. The request loop sleeps in wfi until the handler says "done".
#
# What it does with the disk (at least 16 sectors):
#   read sectors 0..7 and print   "r <sector> <checksum>"
#   write sectors 8..15 with a pattern, read them back, print "w <sector> <checksum> ok"
#   (or BAD if what came back differs), then "irqs <claimed> spurious <claims of 0>"
# and powers off through sifive_test.  checksum: c = c * 31 + byte over the 512 bytes.

        .equ UART,          0x10000000
        .equ TEST,          0x100000
        .equ VIRTIO0,       0x10001000
        .equ PLIC,          0x0c000000
        .equ PLIC_PRIO1,    PLIC + 4            # priority of source 1 (virtio)
        .equ PLIC_ENABLE0,  PLIC + 0x2000       # context 0 = hart 0, M-mode
        .equ PLIC_THRESH0,  PLIC + 0x200000
        .equ PLIC_CLAIM0,   PLIC + 0x200004
        .equ VIRTIO_IRQ,    1

        .equ VIO_DEV_FEAT,      0x010
        .equ VIO_DEV_FEAT_SEL,  0x014
        .equ VIO_DRV_FEAT,      0x020
        .equ VIO_DRV_FEAT_SEL,  0x024
        .equ VIO_QUEUE_SEL,     0x030
        .equ VIO_QUEUE_NUM,     0x038
        .equ VIO_QUEUE_READY,   0x044
        .equ VIO_QUEUE_NOTIFY,  0x050
        .equ VIO_INT_STATUS,    0x060
        .equ VIO_INT_ACK,       0x064
        .equ VIO_STATUS,        0x070
        .equ VIO_QUEUE_DESC,    0x080
        .equ VIO_QUEUE_DRIVER,  0x090
        .equ VIO_QUEUE_DEVICE,  0x0a0
        # feature bits a minimal driver refuses (as xv6 does): RO, SCSI, CONFIG_WCE, MQ,
        # ANY_LAYOUT, EVENT_IDX, INDIRECT_DESC
        .equ REFUSED, (1 << 5) | (1 << 7) | (1 << 11) | (1 << 12) | (1 << 27) | (1 << 29) | (1 << 28)
        .equ QSIZE,   8
        .equ SECTOR,  512

        .text
        .globl _start
_start:
        la      sp, stack_top
        la      t0, trap
        csrw    mtvec, t0
        call    disk_init
        call    irq_init
        li      s0, 0                   # read sectors 0..7
1:      mv      a0, s0
        la      a1, buf
        li      a2, 0                   # 0 = read (VIRTIO_BLK_T_IN)
        call    disk_rw
        li      a0, 'r'
        mv      a1, s0
        la      a2, buf
        call    report
        li      a0, '\n'
        call    putc
        addi    s0, s0, 1
        li      t0, 8
        bltu    s0, t0, 1b
2:      mv      a0, s0                  # sectors 8..15: write a pattern, read it back
        call    fill_pattern
        mv      a0, s0
        la      a1, pattern
        li      a2, 1                   # 1 = write (VIRTIO_BLK_T_OUT)
        call    disk_rw
        mv      a0, s0
        la      a1, buf
        li      a2, 0
        call    disk_rw
        li      a0, 'w'
        mv      a1, s0
        la      a2, buf
        call    report
        call    compare
        addi    s0, s0, 1
        li      t0, 16
        bltu    s0, t0, 2b
        la      a0, msg_irqs
        call    puts
        ld      a0, claimed
        call    putdec
        la      a0, msg_spurious
        call    puts
        ld      a0, spurious
        call    putdec
        li      a0, '\n'
        call    putc
        li      t0, TEST
        li      t1, 0x5555
        sw      t1, 0(t0)
3:      j       3b

# disk_init: reset, ACKNOWLEDGE, DRIVER, low feature word, FEATURES_OK, queue 0, DRIVER_OK.
disk_init:
        li      s1, VIRTIO0
        sw      zero, VIO_STATUS(s1)
        li      t0, 1
        sw      t0, VIO_STATUS(s1)
        li      t0, 3
        sw      t0, VIO_STATUS(s1)
        lw      t1, VIO_DEV_FEAT(s1)    # selector 0: bits 0..31 only
        li      t2, REFUSED
        not     t2, t2
        and     t1, t1, t2
        sw      t1, VIO_DRV_FEAT(s1)
        li      t0, 11                  # ACKNOWLEDGE | DRIVER | FEATURES_OK
        sw      t0, VIO_STATUS(s1)
        lw      t1, VIO_STATUS(s1)
        andi    t1, t1, 8
        beqz    t1, fail
        sw      zero, VIO_QUEUE_SEL(s1)
        li      t0, QSIZE
        sw      t0, VIO_QUEUE_NUM(s1)
        la      t0, desc
        sw      t0, VIO_QUEUE_DESC(s1)
        srli    t0, t0, 32
        sw      t0, VIO_QUEUE_DESC + 4(s1)
        la      t0, avail
        sw      t0, VIO_QUEUE_DRIVER(s1)
        srli    t0, t0, 32
        sw      t0, VIO_QUEUE_DRIVER + 4(s1)
        la      t0, used
        sw      t0, VIO_QUEUE_DEVICE(s1)
        srli    t0, t0, 32
        sw      t0, VIO_QUEUE_DEVICE + 4(s1)
        li      t0, 1
        sw      t0, VIO_QUEUE_READY(s1)
        li      t0, 15                  # ... | DRIVER_OK
        sw      t0, VIO_STATUS(s1)
        ret

fail:   la      a0, msg_fail
        call    puts
        li      t0, TEST
        li      t1, 0x13333             # fail with code 1
        sw      t1, 0(t0)
1:      j       1b

# irq_init: PLIC source 1 at priority 1, enabled for hart 0's M context, threshold 0;
# then external interrupts on in mie and mstatus.
irq_init:
        li      t0, PLIC_PRIO1
        li      t1, 1
        sw      t1, 0(t0)
        li      t0, PLIC_ENABLE0
        li      t1, 1 << VIRTIO_IRQ
        sw      t1, 0(t0)
        li      t0, PLIC_THRESH0
        sw      zero, 0(t0)
        li      t0, 1 << 11             # MEIE
        csrs    mie, t0
        csrsi   mstatus, 8              # MIE
        ret

# disk_rw(a0 = sector, a1 = buffer, a2 = 0 read / 1 write): one request, sleep until done.
disk_rw:
        la      t0, header
        sw      a2, 0(t0)               # type
        sw      zero, 4(t0)
        sd      a0, 8(t0)               # sector
        la      t1, desc                # desc[0]: header, device reads
        sd      t0, 0(t1)
        li      t2, 16
        sw      t2, 8(t1)
        li      t2, 1                   # NEXT
        sh      t2, 12(t1)
        li      t2, 1
        sh      t2, 14(t1)
        sd      a1, 16(t1)              # desc[1]: data
        li      t2, SECTOR
        sw      t2, 24(t1)
        li      t2, 3                   # NEXT | WRITE (the device writes: a read)
        beqz    a2, 1f
        li      t2, 1                   # NEXT only (the device reads: a write)
1:      sh      t2, 28(t1)
        li      t2, 2
        sh      t2, 30(t1)
        la      t0, status              # desc[2]: status byte, device writes
        li      t2, 0xff
        sb      t2, 0(t0)
        sd      t0, 32(t1)
        li      t2, 1
        sw      t2, 40(t1)
        li      t2, 2                   # WRITE
        sh      t2, 44(t1)
        sh      zero, 46(t1)
        la      t0, done
        sd      zero, 0(t0)
        la      t0, avail               # ring[idx % QSIZE] = head 0, then idx += 1
        lhu     t1, 2(t0)
        andi    t2, t1, QSIZE - 1
        slli    t2, t2, 1
        add     t2, t2, t0
        sh      zero, 4(t2)
        fence   w, w
        addi    t1, t1, 1
        sh      t1, 2(t0)
        fence   w, w
        li      t0, VIRTIO0
        sw      zero, VIO_QUEUE_NOTIFY(t0)
2:      ld      t1, done                # the interrupt handler sets done
        bnez    t1, 3f
        wfi
        j       2b
3:      lbu     t1, status
        bnez    t1, fail
        ret

# The trap handler: only the machine external interrupt is expected.
        .align  2
trap:
        addi    sp, sp, -32
        sd      t0, 0(sp)
        sd      t1, 8(sp)
        sd      t2, 16(sp)
        csrr    t0, mcause
        bgez    t0, fail                # an exception: something is wrong
        li      t1, PLIC_CLAIM0
        lw      t2, 0(t1)               # claim
        bnez    t2, 1f
        la      t1, spurious            # nothing to claim: count it (a storm shows here)
        ld      t0, 0(t1)
        addi    t0, t0, 1
        sd      t0, 0(t1)
        j       2f
1:      la      t1, claimed
        ld      t0, 0(t1)
        addi    t0, t0, 1
        sd      t0, 0(t1)
        li      t0, VIRTIO0
        lw      t1, VIO_INT_STATUS(t0)
        andi    t1, t1, 3
        sw      t1, VIO_INT_ACK(t0)     # acknowledge: the device lowers its wire
        la      t0, used                # a used entry for our request?
        lhu     t1, 2(t0)
        la      t0, used_seen
        ld      t0, 0(t0)
        beq     t0, t1, 3f
        la      t0, used_seen
        sd      t1, 0(t0)
        la      t0, done
        li      t1, 1
        sd      t1, 0(t0)
3:      li      t1, PLIC_CLAIM0
        sw      t2, 0(t1)               # complete
2:      ld      t0, 0(sp)
        ld      t1, 8(sp)
        ld      t2, 16(sp)
        addi    sp, sp, 32
        mret

# fill_pattern(a0 = sector): pattern[i] = (sector * 7 + i * 13) & 0xff
fill_pattern:
        la      t0, pattern
        li      t1, 0
        li      t3, 7
        mul     t3, a0, t3
1:      li      t2, 13
        mul     t2, t1, t2
        add     t2, t2, t3
        add     t4, t0, t1
        sb      t2, 0(t4)
        addi    t1, t1, 1
        li      t2, SECTOR
        bltu    t1, t2, 1b
        ret

# compare: print " ok" if buf == pattern, else " BAD"; then a newline.
compare:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, buf
        la      t1, pattern
        li      t2, SECTOR
        la      a0, msg_ok
1:      lbu     t3, 0(t0)
        lbu     t4, 0(t1)
        beq     t3, t4, 2f
        la      a0, msg_bad
2:      addi    t0, t0, 1
        addi    t1, t1, 1
        addi    t2, t2, -1
        bnez    t2, 1b
        call    puts
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# report(a0 = letter, a1 = sector, a2 = buffer): "<letter> <sector> <checksum hex>"
report:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sd      a1, 16(sp)
        sd      a2, 8(sp)
        call    putc
        li      a0, ' '
        call    putc
        ld      a0, 16(sp)
        call    putdec
        li      a0, ' '
        call    putc
        ld      t0, 8(sp)               # checksum: c = c * 31 + byte
        li      t1, SECTOR
        li      a0, 0
        li      t3, 31
1:      lbu     t2, 0(t0)
        mul     a0, a0, t3
        add     a0, a0, t2
        addi    t0, t0, 1
        addi    t1, t1, -1
        bnez    t1, 1b
        call    puthex
        ld      ra, 24(sp)
        addi    sp, sp, 32
        ret

# console: putc(a0), puts(a0 = string), putdec(a0), puthex(a0: 16 digits)
putc:
        li      t0, UART
1:      lbu     t1, 5(t0)               # LSR: wait for THR empty
        andi    t1, t1, 0x20
        beqz    t1, 1b
        sb      a0, 0(t0)
        ret

puts:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s2, 0(sp)
        mv      s2, a0
1:      lbu     a0, 0(s2)
        beqz    a0, 2f
        call    putc
        addi    s2, s2, 1
        j       1b
2:      ld      ra, 8(sp)
        ld      s2, 0(sp)
        addi    sp, sp, 16
        ret

putdec:
        addi    sp, sp, -48
        sd      ra, 40(sp)
        addi    t0, sp, 32              # digits backwards from sp+32
        sb      zero, 0(t0)
        li      t1, 10
1:      remu    t2, a0, t1
        addi    t2, t2, '0'
        addi    t0, t0, -1
        sb      t2, 0(t0)
        divu    a0, a0, t1
        bnez    a0, 1b
        mv      a0, t0
        call    puts
        ld      ra, 40(sp)
        addi    sp, sp, 48
        ret

puthex:
        addi    sp, sp, -48
        sd      ra, 40(sp)
        addi    t0, sp, 16
        sb      zero, 16(t0)
        li      t1, 15
1:      andi    t2, a0, 15
        li      t3, 10
        bltu    t2, t3, 2f
        addi    t2, t2, 'a' - '0' - 10
2:      addi    t2, t2, '0'
        add     t3, t0, t1
        sb      t2, 0(t3)
        srli    a0, a0, 4
        addi    t1, t1, -1
        bgez    t1, 1b
        mv      a0, t0
        call    puts
        ld      ra, 40(sp)
        addi    sp, sp, 48
        ret

        .data
msg_irqs:       .asciz  "irqs "
msg_spurious:   .asciz  " spurious "
msg_ok:         .asciz  " ok\n"
msg_bad:        .asciz  " BAD\n"
msg_fail:       .asciz  "disk: request failed\n"
        .align  3
claimed:        .dword  0
spurious:       .dword  0
done:           .dword  0
used_seen:      .dword  0
header:         .dword  0, 0
status:         .byte   0
        .align  12
desc:           .zero   16 * QSIZE
avail:          .zero   4 + 2 * QSIZE + 2
        .align  12
used:           .zero   4 + 8 * QSIZE + 2
        .align  9
buf:            .zero   SECTOR
pattern:        .zero   SECTOR
        .align  4
                .zero   4096
stack_top:
