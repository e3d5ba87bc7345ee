# blockio.s -- one job, two devices: read SECTORS sectors of a disk, starting at FIRST,
# and print a checksum of their bytes.  Built with PIO defined, it drives the
# register-by-register disk (vmlab.hv.piodisk: one load per byte); without, the virtio
# block device (a ring of requests in RAM, one store to QueueNotify per batch).  Both
# print the same "sum=0x..." line; under a hypervisor they differ only in their exits.
#
# vmlab.guests.blockio.build() puts .equ lines for SECTORS, FIRST (and PIO) before this.
# The console is SBI's legacy putchar, the same for both: only the disk's exits differ.

        .ifndef SECTORS                 # (defaults, so the file also assembles alone)
        .equ SECTORS,           4
        .equ FIRST,             0
        .endif
        .equ VIRTIO0,           0x10001000
        .equ PIO0,              0x10009000      # vmlab.hv.piodisk.PIO_BASE
        .equ PIO_DATA,          0x00
        .equ PIO_SECTOR,        0x04
        .equ PIO_COMMAND,       0x08
        .equ PIO_STATUS,        0x0c
        .equ PIO_ERR,           0x80
        .equ VIO_MAGIC,         0x000
        .equ VIO_VERSION,       0x004
        .equ VIO_DEVICE_ID,     0x008
        .equ VIO_DEV_FEAT,      0x010
        .equ VIO_DEV_FEAT_SEL,  0x014
        .equ VIO_DRV_FEAT,      0x020
        .equ VIO_DRV_FEAT_SEL,  0x024
        .equ VIO_QUEUE_SEL,     0x030
        .equ VIO_QUEUE_NUM_MAX, 0x034
        .equ VIO_QUEUE_NUM,     0x038
        .equ VIO_QUEUE_READY,   0x044
        .equ VIO_QUEUE_NOTIFY,  0x050
        .equ VIO_STATUS,        0x070
        .equ VIO_QUEUE_DESC,    0x080
        .equ VIO_QUEUE_DRIVER,  0x090
        .equ VIO_QUEUE_DEVICE,  0x0a0
        .equ QSIZE,             8       # descriptors; avail at +256, used at +512
        .equ VQ_AVAIL,          256
        .equ VQ_USED,           512
        .equ F_NEXT,            1
        .equ F_WRITE,           2
        .equ BATCH,             2       # requests per notify
        .equ SECTOR_BYTES,      512

        .text
        .globl _start
_start:
        la      sp, stack_top
        call    disk_init
        bnez    a0, fail
        li      s1, 0                   # the checksum: s1 = s1 * 31 + byte
        li      s2, 0                   # sectors done
1:      li      t0, SECTORS
        bgeu    s2, t0, 3f
        sub     a1, t0, s2              # this batch: min(BATCH, sectors left)
        li      t1, BATCH
        bleu    a1, t1, 2f
        mv      a1, t1
2:      mv      s3, a1
        li      a0, FIRST
        add     a0, a0, s2
        call    read_batch              # s3 sectors into buf
        bnez    a0, fail
        la      a0, buf
        slli    a1, s3, 9
        call    checksum
        add     s2, s2, s3
        j       1b
3:      la      a0, msg_sum
        call    puts
        mv      a0, s1
        call    puthex
        li      a0, '\n'
        call    putc
        li      a1, 0
        j       shutdown
fail:   la      a0, msg_fail
        call    puts
        li      a1, 1
        j       shutdown

# checksum(a0 = bytes, a1 = count): fold them into s1.
checksum:
        add     a1, a0, a1
        li      t1, 31
1:      bgeu    a0, a1, 2f
        lbu     t0, 0(a0)
        mul     s1, s1, t1
        add     s1, s1, t0
        addi    a0, a0, 1
        j       1b
2:      ret

        .ifdef PIO
# --- the register-by-register disk ---------------------------------------------------
disk_init:
        li      a0, 0                   # nothing to set up: no rings, no features
        ret

# read_batch(a0 = first sector, a1 = count) -> a0 = 0, or -1 if the disk said ERR
read_batch:
        li      t0, PIO0
        la      t3, buf
1:      beqz    a1, 3f
        sw      a0, PIO_SECTOR(t0)      # one exit
        li      t1, 1
        sw      t1, PIO_COMMAND(t0)     # one exit: read the sector into the buffer
        lw      t1, PIO_STATUS(t0)      # one exit
        andi    t1, t1, PIO_ERR
        bnez    t1, 9f
        li      t4, SECTOR_BYTES
2:      lbu     t1, PIO_DATA(t0)        # one exit per byte
        sb      t1, 0(t3)
        addi    t3, t3, 1
        addi    t4, t4, -1
        bnez    t4, 2b
        addi    a0, a0, 1
        addi    a1, a1, -1
        j       1b
3:      li      a0, 0
        ret
9:      li      a0, -1
        ret

        .else
# --- virtio-blk ----------------------------------------------------------------------
# disk_init -> a0 = 0 when queue 0 is set up (the virtio spec's sequence: reset,
# ACKNOWLEDGE, DRIVER, features, FEATURES_OK, the queue, DRIVER_OK), -1 otherwise.
disk_init:
        li      t0, VIRTIO0
        lw      t1, VIO_MAGIC(t0)
        li      t2, 0x74726976          # "virt"
        bne     t1, t2, 9f
        lw      t1, VIO_DEVICE_ID(t0)
        li      t2, 2                   # a block device
        bne     t1, t2, 9f
        sw      zero, VIO_STATUS(t0)    # reset
        li      t1, 3
        sw      t1, VIO_STATUS(t0)      # ACKNOWLEDGE | DRIVER
        li      t1, 1
        sw      t1, VIO_DRV_FEAT_SEL(t0)
        sw      t1, VIO_DRV_FEAT(t0)    # VIRTIO_F_VERSION_1 (bit 32), nothing else
        li      t1, 11
        sw      t1, VIO_STATUS(t0)      # ... | FEATURES_OK
        sw      zero, VIO_QUEUE_SEL(t0)
        li      t1, QSIZE
        sw      t1, VIO_QUEUE_NUM(t0)
        la      t1, vq
        sw      t1, VIO_QUEUE_DESC(t0)
        srli    t2, t1, 32
        sw      t2, VIO_QUEUE_DESC + 4(t0)
        addi    t2, t1, VQ_AVAIL
        sw      t2, VIO_QUEUE_DRIVER(t0)
        srli    t2, t2, 32
        sw      t2, VIO_QUEUE_DRIVER + 4(t0)
        addi    t2, t1, VQ_USED
        sw      t2, VIO_QUEUE_DEVICE(t0)
        srli    t2, t2, 32
        sw      t2, VIO_QUEUE_DEVICE + 4(t0)
        li      t2, 1
        sh      t2, VQ_AVAIL(t1)        # avail.flags: no interrupts, we poll
        sw      t2, VIO_QUEUE_READY(t0)
        li      t1, 15
        sw      t1, VIO_STATUS(t0)      # ... | DRIVER_OK
        li      a0, 0
        ret
9:      li      a0, -1
        ret

# read_batch(a0 = first sector, a1 = count <= BATCH) -> a0 = 0, or -1 if a status says no.
# Request j is the chain desc[j] -> desc[j+5] -> desc[j+2] (mod QSIZE): header, data,
# status -- out of order on purpose: a device must follow `next`, not count.
read_batch:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, vq
        lhu     t5, VQ_AVAIL + 2(t0)    # avail.idx
        li      t6, 0                   # j
1:      bgeu    t6, a1, 2f
        slli    t1, t6, 4
        la      t2, hdr
        add     t2, t2, t1              # hdr[j]: {type = IN (0), reserved, sector}
        sd      zero, 0(t2)
        add     t3, a0, t6
        sd      t3, 8(t2)
        la      t3, status
        add     t3, t3, t6
        li      t4, 0xff
        sb      t4, 0(t3)               # the device overwrites it: 0 = OK
        mv      a2, t6                  # desc[j] = header
        mv      a3, t2
        li      a4, 16
        li      a5, F_NEXT
        addi    a6, t6, 5
        call    set_desc
        addi    a2, t6, 5               # desc[j+5] = data
        la      a3, buf
        slli    t1, t6, 9
        add     a3, a3, t1
        li      a4, SECTOR_BYTES
        li      a5, F_NEXT | F_WRITE
        addi    a6, t6, 2
        call    set_desc
        addi    a2, t6, 2               # desc[j+2] = status
        la      a3, status
        add     a3, a3, t6
        li      a4, 1
        li      a5, F_WRITE
        li      a6, 0
        call    set_desc
        add     t1, t5, t6              # avail.ring[(idx + j) % QSIZE] = j
        andi    t1, t1, QSIZE - 1
        slli    t1, t1, 1
        add     t1, t1, t0
        sh      t6, VQ_AVAIL + 4(t1)
        addi    t6, t6, 1
        j       1b
2:      add     t5, t5, a1
        fence   rw, w
        sh      t5, VQ_AVAIL + 2(t0)    # publish: avail.idx += count
        fence   w, o
        li      t1, VIRTIO0
        sw      zero, VIO_QUEUE_NOTIFY(t1)      # the one exit of the batch
        slli    t5, t5, 48
        srli    t5, t5, 48              # the used idx we wait for (mod 2**16)
3:      lhu     t1, VQ_USED + 2(t0)     # poll: RAM, no exit
        bne     t1, t5, 3b
        fence   r, rw
        ld      ra, 8(sp)
        addi    sp, sp, 16
        la      t3, status
        li      t6, 0
5:      bgeu    t6, a1, 6f
        add     t1, t3, t6
        lbu     t1, 0(t1)
        bnez    t1, 9f
        addi    t6, t6, 1
        j       5b
6:      li      a0, 0
        ret
9:      li      a0, -1
        ret

# set_desc(a2 = index mod QSIZE, a3 = gpa, a4 = len, a5 = flags, a6 = next mod QSIZE)
set_desc:
        andi    a2, a2, QSIZE - 1
        andi    a6, a6, QSIZE - 1
        slli    a2, a2, 4
        la      t1, vq
        add     a2, a2, t1
        sd      a3, 0(a2)
        sw      a4, 8(a2)
        sh      a5, 12(a2)
        sh      a6, 14(a2)
        ret
        .endif

# --- the console: SBI legacy putchar, one call per byte ------------------------------
putc:   li      a7, 1
        ecall
        ret
puts:   mv      t6, a0
        mv      t5, ra
1:      lbu     a0, 0(t6)
        beqz    a0, 2f
        call    putc
        addi    t6, t6, 1
        j       1b
2:      mv      ra, t5
        ret
puthex: mv      t6, a0                  # 16 hex digits
        mv      t5, ra
        li      t4, 60
1:      srl     a0, t6, t4
        andi    a0, a0, 15
        addi    a0, a0, '0'
        li      t3, '9'
        ble     a0, t3, 2f
        addi    a0, a0, 'a' - '9' - 1
2:      call    putc
        addi    t4, t4, -4
        bgez    t4, 1b
        mv      ra, t5
        ret
shutdown:                               # SBI SRST: shutdown, reason a1
        li      a7, 0x53525354
        li      a6, 0
        li      a0, 0
        ecall
1:      j       1b

        .section .rodata
msg_sum:        .asciz "sum=0x"
msg_fail:       .asciz "disk error\n"

        .bss
        .balign 4096
vq:             .skip 4096
hdr:            .skip 16 * BATCH
status:         .skip 8
        .balign 16
buf:            .skip SECTOR_BYTES * BATCH
        .balign 16
        .skip 8192
stack_top:
