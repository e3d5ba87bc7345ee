# balloon.s -- a driver for the virtio memory balloon (teachos.build(balloon=True)).
#
# A balloon lets the host ask for memory back instead of taking it: the host writes
# a target, num_pages, into the device's config space; the driver picks that many
# pages it can spare and tells the device their page frame numbers (PFN = PA >> 12)
# on the inflate queue. The host may then drop those pages' backing. A lower target
# makes the driver take pages back, named on the deflate queue. The driver writes
# how many pages the balloon holds into `actual`, so the host knows it is done.
#
#   VIRTIO1 + 0x100   num_pages   le32, the host's target (we only read it)
#   VIRTIO1 + 0x104   actual      le32, what the balloon holds (we write it)
#   queue 0  inflateq   buffers of le32 PFNs now in the balloon
#   queue 1  deflateq   buffers of le32 PFNs leaving it
#
# teachos has no page allocator: it uses nothing above its .bss. So the balloon is a
# stack of pages at a fixed place, BAL_POOL up: inflating gives away the next pages
# above the ones already given, deflating takes back the top ones.
#
# We do not use interrupts: on every timer tick (trap.s's tick) balloon_poll reads
# num_pages and moves towards it, at most BAL_STEPS requests a tick -- so a tick
# stays short whatever the host asks. The queue setup and polling for "used" are
# the disk driver's (virtio.s), on a second device.

        .equ VIRTIO1,           0x10002000      # virtio-mmio slot 1
        .equ BAL_ID,            5               # device id of a memory balloon
        .equ BAL_NUM_PAGES,     0x100
        .equ BAL_ACTUAL,        0x104
        .equ BAL_POOL,          0x84000000      # the pages the balloon may take
        .equ BAL_MAX,           4096            # ... 16 MiB of them at most
        .equ BAL_BATCH,         256             # PFNs per request
        .equ BAL_STEPS,         4               # requests per tick, at most

        .text
# balloon_init: find the balloon in slot 1 and set it up (reset, ACKNOWLEDGE,
# DRIVER, features, FEATURES_OK, queues 0 and 1, DRIVER_OK); then move to the
# host's target at once, in case it set one before we booted.
balloon_init:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sd      s0, 0(sp)
        la      t0, bal_ok
        sd      zero, 0(t0)
        la      t0, bal_actual
        sd      zero, 0(t0)
        li      s0, VIRTIO1
        la      a0, msg_bal_none
        lw      t0, VIO_MAGIC(s0)
        li      t1, VIRTIO_MAGIC
        bne     t0, t1, 9f
        lw      t0, VIO_VERSION(s0)
        li      t1, 2
        bne     t0, t1, 9f
        lw      t0, VIO_DEVICE_ID(s0)
        li      t1, BAL_ID
        bne     t0, t1, 9f
        call    balloon_setup
        bnez    a0, 9f
        la      t0, bal_ok
        li      t1, 1
        sd      t1, 0(t0)
        la      a0, msg_bal_ready
        call    kputs
        call    balloon_poll
        j       8f
9:      call    kputs
8:      ld      ra, 8(sp)
        ld      s0, 0(sp)
        addi    sp, sp, 16
        ret

# balloon_setup(s0 = VIRTIO1) -> a0 = 0 if the device is ready, else a message.
# We accept VIRTIO_F_VERSION_1 and nothing else: no statistics queue, and no
# DEFLATE_ON_OOM (teachos never runs short: it would never deflate by itself).
balloon_setup:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sw      zero, VIO_STATUS(s0)    # reset
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER
        sw      t0, VIO_STATUS(s0)
        la      a0, msg_bal_feat
        li      t0, 1
        sw      t0, VIO_DEV_FEAT_SEL(s0)
        lw      t1, VIO_DEV_FEAT(s0)
        andi    t1, t1, 1               # bit 32: VERSION_1
        beqz    t1, 8f
        sw      t0, VIO_DRV_FEAT_SEL(s0)
        sw      t0, VIO_DRV_FEAT(s0)
        sw      zero, VIO_DRV_FEAT_SEL(s0)
        sw      zero, VIO_DRV_FEAT(s0)
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK
        sw      t0, VIO_STATUS(s0)
        lw      t1, VIO_STATUS(s0)
        andi    t1, t1, ST_FEATURES_OK
        beqz    t1, 8f
        la      a0, msg_bal_queue
        li      a1, 0
        la      a2, bal_vq0
        call    balloon_queue           # queue 0: inflate
        bnez    a0, 8f
        li      a1, 1
        la      a2, bal_vq1
        call    balloon_queue           # queue 1: deflate
        bnez    a0, 8f
        li      t0, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK
        sw      t0, VIO_STATUS(s0)
        li      a0, 0
        j       9f
8:      li      t0, ST_FAILED
        sw      t0, VIO_STATUS(s0)
9:      ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# balloon_queue(s0 = device, a1 = queue index, a2 = its page) -> a0 = 0, or a0
# unchanged (the caller's message) if the queue cannot be used.
balloon_queue:
        sw      a1, VIO_QUEUE_SEL(s0)
        lw      t1, VIO_QUEUE_READY(s0)
        bnez    t1, 9f
        lw      t1, VIO_QUEUE_NUM_MAX(s0)
        li      t2, QSIZE
        bltu    t1, t2, 9f
        sw      t2, VIO_QUEUE_NUM(s0)
        sw      zero, VIO_QUEUE_DESC + 4(s0)    # the high halves: RAM is below 4 GiB
        sw      zero, VIO_QUEUE_DRIVER + 4(s0)
        sw      zero, VIO_QUEUE_DEVICE + 4(s0)
        addi    t1, a2, VQ_DESC
        sw      t1, VIO_QUEUE_DESC(s0)
        addi    t1, a2, VQ_AVAIL
        sw      t1, VIO_QUEUE_DRIVER(s0)
        addi    t1, a2, VQ_USED
        sw      t1, VIO_QUEUE_DEVICE(s0)
        sd      zero, VQ_AVAIL(a2)      # avail flags and idx
        sd      zero, VQ_USED(a2)       # used flags and idx
        li      t1, AVAIL_NO_INTERRUPT
        sh      t1, VQ_AVAIL(a2)
        li      t1, 1
        sw      t1, VIO_QUEUE_READY(s0)
        li      a0, 0
9:      ret

# balloon_poll: called on every tick. Read the target and take up to BAL_STEPS
# steps of at most BAL_BATCH pages towards it; tell the host the new count.
balloon_poll:
        la      t0, bal_ok
        ld      t0, 0(t0)
        beqz    t0, 9f
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sd      s0, 16(sp)
        sd      s1, 8(sp)
        li      s1, BAL_STEPS
1:      li      t0, VIRTIO1
        lwu     a0, BAL_NUM_PAGES(t0)   # the target (never more than our pool)
        li      t1, BAL_MAX
        bleu    a0, t1, 2f
        mv      a0, t1
2:      la      t0, bal_actual
        ld      s0, 0(t0)               # s0 = pages in the balloon now
        beq     a0, s0, 8f
        call    balloon_step
        addi    s1, s1, -1
        bnez    s1, 1b
8:      ld      ra, 24(sp)
        ld      s0, 16(sp)
        ld      s1, 8(sp)
        addi    sp, sp, 32
9:      ret

# balloon_step(a0 = target, s0 = actual != target): one request (a3 = new actual). Inflating, the
# pages [actual, actual + n) of the pool go on queue 0; deflating, the pages
# [actual - n, actual) on queue 1. Then actual is updated, here and in the device.
balloon_step:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        sub     t0, a0, s0              # t0 = pages to move: + inflate, - deflate
        li      a1, 0                   # a1 = queue
        mv      a2, s0                  # a2 = first pool page named
        bgez    t0, 1f
        neg     t0, t0
        li      a1, 1
1:      li      t1, BAL_BATCH
        bleu    t0, t1, 2f
        mv      t0, t1                  # t0 = n, at most a batch
2:      add     a3, s0, t0              # a3 = the new actual, inflating
        beqz    a1, 3f
        sub     a2, s0, t0              # deflating: the top n pages
        mv      a3, a2
3:      li      t1, BAL_POOL >> PGSHIFT
        add     t1, t1, a2              # the first PFN
        la      t2, bal_pfns
        mv      t3, t0
4:      sw      t1, 0(t2)               # the PFNs, one le32 each
        addi    t1, t1, 1
        addi    t2, t2, 4
        addi    t3, t3, -1
        bnez    t3, 4b
        la      t1, bal_actual
        sd      a3, 0(t1)
        slli    a0, t0, 2               # bytes of PFNs
        call    balloon_submit          # (leaves a3 alone)
        li      t0, VIRTIO1
        sw      a3, BAL_ACTUAL(t0)      # "the balloon holds this many now"
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# balloon_submit(a0 = bytes of bal_pfns, a1 = queue): one descriptor, offered on
# the queue; wait until the device has used it (as virtio.s's submit does).
balloon_submit:
        la      t0, bal_vq0
        beqz    a1, 1f
        la      t0, bal_vq1
1:      la      t1, bal_pfns
        sd      t1, VQ_DESC(t0)         # desc[0]: addr, len, flags 0 (device reads)
        sw      a0, VQ_DESC + 8(t0)
        sw      zero, VQ_DESC + 12(t0)
        lhu     t1, VQ_AVAIL + 2(t0)
        andi    t2, t1, QSIZE - 1
        slli    t2, t2, 1
        add     t2, t2, t0
        sh      zero, VQ_AVAIL + 4(t2)  # avail.ring[idx % QSIZE] = desc 0
        fence   rw, w
        addi    t1, t1, 1
        slli    t1, t1, 48
        srli    t1, t1, 48              # idx wraps at 2^16
        sh      t1, VQ_AVAIL + 2(t0)
        fence   w, o
        li      t3, VIRTIO1
        sw      a1, VIO_QUEUE_NOTIFY(t3)
2:      lhu     t2, VQ_USED + 2(t0)
        bne     t2, t1, 2b
        fence   r, rw
        ret

        .section .rodata
msg_bal_none:   .asciz "virtio-balloon: none (no balloon at 0x10002000)\n"
msg_bal_feat:   .asciz "virtio-balloon: the device does not offer VIRTIO_F_VERSION_1\n"
msg_bal_queue:  .asciz "virtio-balloon: its queues are not usable\n"
msg_bal_ready:  .asciz "virtio-balloon: ready\n"

        .data
        .balign 8
bal_ok:         .dword 0                # 1 once balloon_setup succeeded
bal_actual:     .dword 0                # pages the balloon holds

        .bss
        .balign PGSIZE
bal_vq0:        .skip PGSIZE            # inflate queue: descriptors, avail, used
bal_vq1:        .skip PGSIZE            # deflate queue
bal_pfns:       .skip 4 * BAL_BATCH     # the PFNs of one request
