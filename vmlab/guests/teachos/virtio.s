# virtio.s -- a driver for the virtio block device (the disk), over virtio-mmio.
#
# virtio is the standard interface of virtual devices: instead of imitating a real
# disk controller, the device and the driver share queues of requests in RAM. The
# device's registers (version 2, "modern" virtio-mmio) are 32-bit words at VIRTIO0:
#
#   0x000 MagicValue "virt"        0x030 QueueSel            0x070 Status
#   0x004 Version (2)              0x034 QueueNumMax         0x080 QueueDesc   (lo, hi)
#   0x008 DeviceID (2 = block,     0x038 QueueNum            0x090 QueueDriver (lo, hi)
#         0 = nothing here)        0x044 QueueReady          0x0a0 QueueDevice (lo, hi)
#   0x010 DeviceFeatures (+Sel)    0x050 QueueNotify         0x0fc ConfigGeneration
#   0x020 DriverFeatures (+Sel)    0x060 InterruptStatus     0x100 capacity (sectors)
#
# One queue ("split virtqueue") is three arrays in our memory:
#
#   descriptors: {addr, len, flags, next}      what to read or write, chained
#   available:   {flags, idx, ring[]}           the driver: "requests start here"
#   used:        {flags, idx, ring[{id, len}]}  the device: "these are done"
#
# A read of one sector is a chain of three descriptors:
#
#   desc[0] --next--> desc[1] --next--> desc[2]
#   header             data              status
#   {type=IN,sector}   512 bytes         1 byte
#   device reads       device writes     device writes (0 = OK)
#
# We put head 0 in the available ring, bump its idx, write QueueNotify, and poll
# the used ring's idx until the device has moved it: no interrupts needed.
# Under a hypervisor, each register access here is one MMIO trap to emulate.

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
        .equ VIO_CONFIG_GEN,    0x0fc
        .equ VIO_CAPACITY,      0x100
        .equ VIRTIO_MAGIC,      0x74726976      # "virt", little-endian
        # Status bits: the driver reports its progress through initialization
        .equ ST_ACKNOWLEDGE,    1       # "I see a virtio device"
        .equ ST_DRIVER,         2       # "and I can drive it"
        .equ ST_DRIVER_OK,      4       # "and it is ready for use"
        .equ ST_FEATURES_OK,    8       # "and I accept these features"
        .equ ST_FAILED,         128     # "I give up"
        # the queue: QSIZE descriptors; its three parts inside one page `vq`
        .equ QSIZE,             8
        .equ VQ_DESC,           0       # 16 bytes each, 16-aligned
        .equ VQ_AVAIL,          256     # flags, idx, ring[QSIZE] (2 bytes each)
        .equ VQ_USED,           512     # flags, idx, ring[QSIZE] (8 bytes each)
        .equ VQ_F_NEXT,         1       # descriptor flags: the chain goes on
        .equ VQ_F_WRITE,        2       # the device writes this buffer
        .equ AVAIL_NO_INTERRUPT, 1      # "don't interrupt me, I poll"
        .equ BLK_T_IN,          0       # request type: read from the disk

        .text
# virtio_init: find the disk and set it up as the virtio spec's initialization
# sequence says (reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues,
# DRIVER_OK). Without a disk, say so: processes will get -1 from readblk.
virtio_init:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        li      s0, VIRTIO0
        la      a0, msg_vio_none        # is anything virtio here at all?
        lw      t0, VIO_MAGIC(s0)
        li      t1, VIRTIO_MAGIC
        bne     t0, t1, 9f
        la      a0, msg_vio_legacy
        lw      t0, VIO_VERSION(s0)
        li      t1, 2
        bne     t0, t1, 9f
        la      a0, msg_vio_nodisk      # device id 0: an empty slot
        lw      t0, VIO_DEVICE_ID(s0)
        beqz    t0, 9f
        la      a0, msg_vio_notblk
        li      t1, 2
        bne     t0, t1, 9f
        call    virtio_setup
        bnez    a0, 9f                  # a0 = what went wrong
        la      a0, msg_vio_disk
        call    kputs
        call    virtio_capacity
        call    kputdec
        la      a0, msg_vio_sectors
9:      call    kputs
        ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# virtio_setup(s0 = VIRTIO0) -> a0 = 0 if the device is ready, else a message.
virtio_setup:
        sw      zero, VIO_STATUS(s0)    # reset
        li      t0, ST_ACKNOWLEDGE
        sw      t0, VIO_STATUS(s0)
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER
        sw      t0, VIO_STATUS(s0)
        # Features are 64 bits, read and written 32 at a time (Sel = 0 or 1).
        # We need VIRTIO_F_VERSION_1 (bit 32: "modern" rules) and want no other.
        la      a0, msg_vio_feat
        li      t0, 1
        sw      t0, VIO_DEV_FEAT_SEL(s0)
        lw      t1, VIO_DEV_FEAT(s0)
        andi    t1, t1, 1               # bit 32 = bit 0 of the upper word
        beqz    t1, 8f
        sw      t0, VIO_DRV_FEAT_SEL(s0)
        sw      t0, VIO_DRV_FEAT(s0)    # accept bit 32
        sw      zero, VIO_DRV_FEAT_SEL(s0)
        sw      zero, VIO_DRV_FEAT(s0)  # and none of bits 0..31
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK
        sw      t0, VIO_STATUS(s0)
        lw      t1, VIO_STATUS(s0)      # the device may refuse our choice
        andi    t1, t1, ST_FEATURES_OK
        beqz    t1, 8f
        # queue 0: not in use yet, big enough; tell the device where it lives
        la      a0, msg_vio_queue
        sw      zero, VIO_QUEUE_SEL(s0)
        lw      t1, VIO_QUEUE_READY(s0)
        bnez    t1, 8f
        lw      t1, VIO_QUEUE_NUM_MAX(s0)
        li      t2, QSIZE
        bltu    t1, t2, 8f
        sw      t2, VIO_QUEUE_NUM(s0)
        la      t0, vq                  # physical addresses (VA = PA in the kernel)
        addi    t1, t0, VQ_DESC
        sw      t1, VIO_QUEUE_DESC(s0)
        srli    t1, t1, 32
        sw      t1, VIO_QUEUE_DESC + 4(s0)
        addi    t1, t0, VQ_AVAIL
        sw      t1, VIO_QUEUE_DRIVER(s0)
        srli    t1, t1, 32
        sw      t1, VIO_QUEUE_DRIVER + 4(s0)
        addi    t1, t0, VQ_USED
        sw      t1, VIO_QUEUE_DEVICE(s0)
        srli    t1, t1, 32
        sw      t1, VIO_QUEUE_DEVICE + 4(s0)
        li      t1, AVAIL_NO_INTERRUPT
        sh      t1, VQ_AVAIL(t0)
        li      t1, 1
        sw      t1, VIO_QUEUE_READY(s0)
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK
        sw      t0, VIO_STATUS(s0)
        li      t0, 1
        la      t1, disk_ok
        sd      t0, 0(t1)
        li      a0, 0
        ret
8:      li      t0, ST_FAILED
        sw      t0, VIO_STATUS(s0)
        ret

# virtio_capacity(s0 = VIRTIO0) -> a0 = the disk's size in 512-byte sectors.
# The 64-bit field is read as two words; ConfigGeneration changes if the device
# changed it in between, and then we read again.
virtio_capacity:
1:      lw      t0, VIO_CONFIG_GEN(s0)
        lwu     t1, VIO_CAPACITY(s0)
        lwu     t2, VIO_CAPACITY + 4(s0)
        lw      t3, VIO_CONFIG_GEN(s0)
        bne     t0, t3, 1b
        slli    t2, t2, 32
        or      a0, t1, t2
        ret

# virtio_read(a0 = sector) -> a0 = 0 with the sector in disk_buf, or -1.
virtio_read:
        la      t0, disk_ok
        ld      t0, 0(t0)
        beqz    t0, 9f
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, blk_req             # the request header
        li      t1, BLK_T_IN
        sw      t1, 0(t0)               # type
        sw      zero, 4(t0)             # reserved
        sd      a0, 8(t0)               # sector
        la      t1, blk_status
        li      t2, 0xff
        sb      t2, 0(t1)               # the device overwrites it: 0 = OK
        la      a0, vq + VQ_DESC
        la      a1, blk_req
        li      a2, 16
        li      a3, VQ_F_NEXT
        li      a4, 1
        call    set_desc                # desc[0]: the header, then desc[1]
        la      a1, disk_buf
        li      a2, 512
        li      a3, VQ_F_NEXT | VQ_F_WRITE
        li      a4, 2
        call    set_desc                # desc[1]: the data, then desc[2]
        la      a1, blk_status
        li      a2, 1
        li      a3, VQ_F_WRITE
        li      a4, 0
        call    set_desc                # desc[2]: the status byte, the end
        li      a0, 0
        call    submit                  # the chain that starts at desc[0]
        la      t0, blk_status
        lbu     a0, 0(t0)
        snez    a0, a0
        neg     a0, a0                  # status 0 -> 0, anything else -> -1
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret
9:      li      a0, -1
        ret

# set_desc(a0 = descriptor, a1 = buffer, a2 = length, a3 = flags, a4 = next)
# -> a0 = the descriptor after it
set_desc:
        sd      a1, 0(a0)               # addr: physical (VA = PA in the kernel)
        sw      a2, 8(a0)               # len
        sh      a3, 12(a0)              # flags
        sh      a4, 14(a0)              # next
        addi    a0, a0, 16
        ret

# submit(a0 = head descriptor): offer the chain to the device and wait until it
# is used. The fences matter: the device may see our stores in any order, so the
# descriptors must be visible before the new idx, and the idx before the notify;
# likewise, we read the results only after we saw the device's used idx move.
submit:
        la      t0, vq
        lhu     t1, VQ_AVAIL + 2(t0)    # avail.idx: where the next entry goes
        andi    t2, t1, QSIZE - 1
        slli    t2, t2, 1
        add     t2, t2, t0
        sh      a0, VQ_AVAIL + 4(t2)    # avail.ring[idx % QSIZE] = head
        fence   rw, w
        addi    t1, t1, 1
        sh      t1, VQ_AVAIL + 2(t0)    # avail.idx += 1: now the device may look
        fence   w, o
        li      t3, VIRTIO0
        sw      zero, VIO_QUEUE_NOTIFY(t3)      # "queue 0 has something for you"
1:      lhu     t2, VQ_USED + 2(t0)     # poll used.idx until it catches up
        bne     t2, t1, 1b
        fence   r, rw
        ret

        .section .rodata
msg_vio_none:   .asciz "virtio-blk: no disk (no virtio-mmio device at 0x10001000)\n"
msg_vio_legacy: .asciz "virtio: a legacy (version 1) device: not supported\n"
msg_vio_nodisk: .asciz "virtio-blk: no disk (device id 0)\n"
msg_vio_notblk: .asciz "virtio: not a block device\n"
msg_vio_feat:   .asciz "virtio-blk: the device does not offer VIRTIO_F_VERSION_1\n"
msg_vio_queue:  .asciz "virtio-blk: queue 0 is not usable\n"
msg_vio_disk:   .asciz "virtio-blk: a disk of "
msg_vio_sectors: .asciz " sectors\n"

        .data
        .balign 8
disk_ok:        .dword 0                # 1 once virtio_setup succeeded

        .bss
        .balign PGSIZE
vq:             .skip PGSIZE            # the queue: descriptors, avail, used
blk_req:        .skip 16                # the request header
disk_buf:       .skip 512               # the data of the last read
blk_status:     .skip 8                 # the status byte (and padding)
