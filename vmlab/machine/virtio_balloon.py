"""A virtio memory balloon (device ID 5) on the virtio-mmio transport, in plain Python.

A balloon is how a host asks a guest for memory back *without* taking it by force: the
host sets a target (``num_pages``, in 4 KiB pages) in the device's config space and
raises a config-change interrupt; the guest's driver allocates that many pages from its
own allocator -- so the guest itself decides which pages it can spare -- and hands their
page frame numbers to the device on the *inflate* queue.  The host can then drop their
backing.  Lowering the target makes the driver give pages back to its allocator, telling
the device on the *deflate* queue.  ``actual`` is the driver's report of how many pages
the balloon holds now.  The *stats* queue carries the guest's memory statistics: the
driver keeps one buffer there; the device returns it when it wants fresh numbers, and the
driver refills it and puts it back::

    queue 0  inflateq   driver -> device   le32 PFNs (gpa >> 12) now in the balloon
    queue 1  deflateq   driver -> device   le32 PFNs leaving the balloon
    queue 2  statsq     driver -> device   {le16 tag, le64 value} records, tags 0..9

    config   +0 le32 num_pages  (the host's target)   +4 le32 actual  (the driver's count)

Features offered: VERSION_1, STATS_VQ, DEFLATE_ON_OOM (the driver may deflate by itself
when the guest runs out of memory, rather than let a process be killed).

What happens to the pages is not this module's business: ``on_inflate(pfns)`` and
``on_deflate(pfns)`` are called with every batch (the bare machine keeps counts; the
hypervisor gives the frames back to the host pool, :mod:`vmlab.hv.balloon`).  Everything
the guest wrote is untrusted and every loop is bounded by a queue size, as in
:mod:`vmlab.machine.virtio_blk`, whose register layout and ring structures this shares.

Spec: OASIS VIRTIO 1.1 -- §2.7 split virtqueues, §4.2 MMIO, §5.5 traditional memory balloon.
"""
from __future__ import annotations

import struct

from vmlab.machine.virtio_blk import (
    ACKNOWLEDGE, CONFIG, CONFIG_GENERATION, DESC, DEVICE_FEATURES, DEVICE_FEATURES_SEL,
    DEVICE_ID, DEVICE_NEEDS_RESET, DRIVER_FEATURES, DRIVER_FEATURES_SEL, DRIVER_OK,
    FEATURES_OK, INT_CONFIG_CHANGE, INT_USED_BUFFER, INTERRUPT_ACK, INTERRUPT_STATUS, MAGIC,
    MAGIC_VALUE, QUEUE_DESC_HIGH, QUEUE_DESC_LOW, QUEUE_DEVICE_HIGH, QUEUE_DEVICE_LOW,
    QUEUE_DRIVER_HIGH, QUEUE_DRIVER_LOW, QUEUE_NOTIFY, QUEUE_NUM, QUEUE_NUM_MAX, QUEUE_READY,
    QUEUE_SEL, SHM_LEN_HIGH, SHM_LEN_LOW, STATUS, VENDOR_ID, VENDOR_QEMU, VERSION,
    VIRTIO_F_VERSION_1, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
    BusError, QueueError, Segment, Virtqueue, _set_half,
)

VIRTIO_ID_BALLOON = 5
INFLATE, DEFLATE, STATS = range(3)
QUEUE_MAX = 128
MAX_PFNS_PER_BUFFER = 256 * 1024        # bounds the work of one request (1 GiB of pages)

# --- feature bits (§5.5.3) ---
VIRTIO_BALLOON_F_MUST_TELL_HOST = 0
VIRTIO_BALLOON_F_STATS_VQ = 1
VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2

#: statistics tags (§5.5.6.3), as the guest reports them
STAT_TAGS = {0: "swap_in", 1: "swap_out", 2: "major_faults", 3: "minor_faults",
             4: "free_memory", 5: "total_memory", 6: "available_memory", 7: "disk_caches",
             8: "hugetlb_allocations", 9: "hugetlb_failures"}
STAT = struct.Struct("<HQ")


class VirtioBalloon:
    """The device; ``on_inflate``/``on_deflate`` get each batch of guest PFNs."""

    def __init__(self, on_inflate=None, on_deflate=None):
        self.on_inflate = on_inflate or (lambda pfns: None)
        self.on_deflate = on_deflate or (lambda pfns: None)
        self.device_features = (1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_BALLOON_F_STATS_VQ
                                | 1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
        self.mem = None
        self.num_pages = 0              #: the host's target, in 4 KiB pages
        self.generation = 0
        self.stats: dict[str, int] = {}   #: the guest's last statistics, by name
        self.counters = {"inflated": 0, "deflated": 0, "stats_updates": 0, "bad_requests": 0}
        self.reset()

    def attach(self, mem) -> None:
        """The guest's RAM as the device does DMA: ``read(gpa, n)``, ``write(gpa, data)``."""
        self.mem = mem

    def reset(self) -> None:
        """Status 0: forget what the driver negotiated (the host's target stays)."""
        self.status = 0
        self.driver_features = 0
        self.device_features_sel = self.driver_features_sel = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.actual = 0
        self.queues = [Virtqueue() for _ in range(3)]
        self._stats_head: int | None = None      # the stats buffer the device holds

    # === what the host does ====================================================================
    def set_target(self, pages: int) -> None:
        """Ask the guest to hold ``pages`` pages in its balloon (a config-change interrupt)."""
        self.num_pages = max(0, min(int(pages), 0xFFFFFFFF))
        self.generation = (self.generation + 1) & 0xFFFFFFFF
        if self.status & DRIVER_OK:
            self.interrupt_status |= INT_CONFIG_CHANGE

    def request_stats(self) -> bool:
        """Give the held stats buffer back, so the driver sends fresh numbers; False if
        the driver has not offered one (yet)."""
        q = self.queues[STATS]
        if self._stats_head is None or not q.ready:
            return False
        self._publish(q, self._stats_head, 0)
        self._stats_head = None
        self.interrupt_status |= INT_USED_BUFFER
        return True

    @property
    def negotiated(self) -> set[str]:
        names = {VIRTIO_BALLOON_F_MUST_TELL_HOST: "must_tell_host",
                 VIRTIO_BALLOON_F_STATS_VQ: "stats_vq", VIRTIO_BALLOON_F_DEFLATE_ON_OOM: "deflate_on_oom"}
        return {n for bit, n in names.items() if self.driver_features >> bit & 1}

    # === the wire ==============================================================================
    @staticmethod
    def signals_after_write(offset: int) -> bool:
        """Writes after which the interrupt wire may change (as virtio_blk)."""
        return offset in (QUEUE_NOTIFY, INTERRUPT_ACK, STATUS)

    @property
    def irq_level(self) -> bool:
        return self.interrupt_status != 0

    # === registers =============================================================================
    def mmio_read(self, offset: int, size: int) -> int:
        if offset >= CONFIG:
            data = self.config_bytes()[offset - CONFIG: offset - CONFIG + size]
            return int.from_bytes(data.ljust(size, b"\0"), "little")
        if size != 4 or offset % 4:
            return 0
        q = self._queue()
        regs = {MAGIC_VALUE: MAGIC, VERSION: 2, DEVICE_ID: VIRTIO_ID_BALLOON, VENDOR_ID: VENDOR_QEMU,
                DEVICE_FEATURES: (self.device_features >> 32 * self.device_features_sel) & 0xFFFFFFFF
                if self.device_features_sel < 2 else 0,
                QUEUE_NUM_MAX: QUEUE_MAX if q else 0, QUEUE_READY: int(q.ready) if q else 0,
                INTERRUPT_STATUS: self.interrupt_status, STATUS: self.status,
                CONFIG_GENERATION: self.generation, SHM_LEN_LOW: 0xFFFFFFFF, SHM_LEN_HIGH: 0xFFFFFFFF}
        return regs.get(offset, 0)

    def config_bytes(self) -> bytes:
        """struct virtio_balloon_config: num_pages, actual (free_page_hint_cmd_id and
        poison_val belong to features we do not offer)."""
        return struct.pack("<II", self.num_pages, self.actual)

    def _queue(self) -> Virtqueue | None:
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        if offset >= CONFIG:
            self._config_write(offset - CONFIG, size, value)
            return
        if size != 4 or offset % 4:
            return
        value &= 0xFFFFFFFF
        if offset in _QUEUE_FIELDS:
            self._queue_field(*_QUEUE_FIELDS[offset], value)
        elif offset in _WRITERS:
            _WRITERS[offset](self, value)

    def _config_write(self, offset: int, size: int, value: int) -> None:
        """Only ``actual`` (bytes 4..7) is the driver's to write."""
        if 4 <= offset and offset + size <= 8:
            shift = 8 * (offset - 4)
            mask = ((1 << 8 * size) - 1) << shift
            self.actual = (self.actual & ~mask) | ((value << shift) & mask)

    def _queue_field(self, attr: str, half, value: int) -> None:
        q = self._queue()
        if q is None or q.ready:
            return
        setattr(q, attr, value if half is None else _set_half(getattr(q, attr), half, value))

    def _write_status(self, value: int) -> None:
        if value == 0:
            self.reset()
            return
        if value & FEATURES_OK and not self.status & FEATURES_OK:
            self.driver_features &= self.device_features
        self.status = (value & 0xFF) | (self.status & DEVICE_NEEDS_RESET)

    def _write_driver_features(self, value: int) -> None:
        if not self.status & FEATURES_OK and self.driver_features_sel < 2:
            self.driver_features = _set_half(self.driver_features, self.driver_features_sel, value)

    def _write_queue_ready(self, value: int) -> None:
        q = self._queue()
        if q is not None:
            q.ready = bool(value & 1)

    # === the queues ============================================================================
    def notify(self, index: int) -> None:
        """The driver made buffers available on queue ``index``."""
        q = self.queues[index] if 0 <= index < len(self.queues) else None
        # A ready queue is served even before DRIVER_OK, as QEMU does: Linux's driver hands
        # over its first stats buffer while probing, before it sets DRIVER_OK.
        if q is None or not q.ready or self.status & DEVICE_NEEDS_RESET:
            return
        try:
            self._drain(index, q)
        except (QueueError, BusError, struct.error):
            self.status |= DEVICE_NEEDS_RESET
            self.interrupt_status |= INT_CONFIG_CHANGE

    def _drain(self, index: int, q: Virtqueue) -> None:
        if not q.valid() or self.mem is None:
            raise QueueError("queue size is not a power of two within QueueNumMax")
        flags, avail_idx = struct.unpack("<HH", self.mem.read(q.driver, 4))
        pending = (avail_idx - q.last_avail) & 0xFFFF
        if pending > q.num:
            raise QueueError("available index ran more than a queue ahead")
        served = False
        for _ in range(pending):
            (head,) = struct.unpack("<H", self.mem.read(q.driver + 4 + 2 * (q.last_avail % q.num), 2))
            q.last_avail = (q.last_avail + 1) & 0xFFFF
            data = self._gather(self._chain(q, head))
            if index == STATS:
                self._take_stats(data, head)
                continue
            self._pages(index, data)
            self._publish(q, head, 0)
            served = True
        if served and not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            self.interrupt_status |= INT_USED_BUFFER

    def _pages(self, index: int, data: bytes) -> None:
        """One inflate or deflate buffer: le32 PFNs."""
        pfns = list(struct.unpack(f"<{len(data) // 4}I", data[: len(data) // 4 * 4]))
        if index == INFLATE:
            self.counters["inflated"] += len(pfns)
            self.on_inflate(pfns)
        else:
            self.counters["deflated"] += len(pfns)
            self.on_deflate(pfns)

    def _take_stats(self, data: bytes, head: int) -> None:
        """The driver's statistics: keep the numbers, hold the buffer until asked again."""
        for off in range(0, len(data) - STAT.size + 1, STAT.size):
            tag, value = STAT.unpack_from(data, off)
            self.stats[STAT_TAGS.get(tag, f"tag{tag}")] = value
        if self._stats_head is not None:              # a driver that sent two: return the old
            self._publish(self.queues[STATS], self._stats_head, 0)
        self._stats_head = head
        self.counters["stats_updates"] += 1

    def _chain(self, q: Virtqueue, head: int) -> list[Segment]:
        """The device-readable buffers of one chain (no indirect descriptors offered)."""
        if head >= q.num:
            raise QueueError(f"head {head} outside a queue of {q.num}")
        segments, index = [], head
        for _ in range(q.num):
            addr, length, flags, nxt = DESC.unpack(self.mem.read(q.desc + 16 * index, 16))
            if not flags & VIRTQ_DESC_F_WRITE:
                segments.append(Segment(addr, length, False))
            if not flags & VIRTQ_DESC_F_NEXT:
                return segments
            if nxt >= q.num:
                raise QueueError("descriptor chain leaves its table")
            index = nxt
        raise QueueError("descriptor chain loops")

    def _gather(self, segments: list[Segment]) -> bytes:
        out = bytearray()
        for s in segments:
            n = min(s.length, 4 * MAX_PFNS_PER_BUFFER - len(out))
            if n <= 0:
                self.counters["bad_requests"] += 1
                break
            out += self.mem.read(s.gpa, n)
        return bytes(out)

    def _publish(self, q: Virtqueue, head: int, written: int) -> None:
        slot = q.used_idx % q.num
        self.mem.write(q.device + 4 + 8 * slot, struct.pack("<II", head, written))
        q.used_idx = (q.used_idx + 1) & 0xFFFF
        self.mem.write(q.device + 2, struct.pack("<H", q.used_idx))


_QUEUE_FIELDS = {QUEUE_NUM: ("num", None), QUEUE_DESC_LOW: ("desc", 0), QUEUE_DESC_HIGH: ("desc", 1),
                 QUEUE_DRIVER_LOW: ("driver", 0), QUEUE_DRIVER_HIGH: ("driver", 1),
                 QUEUE_DEVICE_LOW: ("device", 0), QUEUE_DEVICE_HIGH: ("device", 1)}
_WRITERS = {
    DEVICE_FEATURES_SEL: lambda d, v: setattr(d, "device_features_sel", v),
    DRIVER_FEATURES_SEL: lambda d, v: setattr(d, "driver_features_sel", v),
    DRIVER_FEATURES: VirtioBalloon._write_driver_features,
    QUEUE_SEL: lambda d, v: setattr(d, "queue_sel", v),
    QUEUE_READY: VirtioBalloon._write_queue_ready,
    QUEUE_NOTIFY: VirtioBalloon.notify,
    INTERRUPT_ACK: lambda d, v: setattr(d, "interrupt_status", d.interrupt_status & ~v),
    STATUS: VirtioBalloon._write_status,
}

#: where the balloon sits on the virt board: the second virtio-mmio slot, PLIC wire 2
BALLOON_BASE, BALLOON_SIZE, BALLOON_IRQ = 0x1000_2000, 0x1000, 2


def add_dt_node(tree, base: int = BALLOON_BASE, irq: int = BALLOON_IRQ) -> None:
    """Describe a virtio-mmio slot in a virt device tree (vmlab.machine.fdt.virt_tree's)."""
    soc = tree.find("/soc")
    plic = next(node for node in soc.children if node.name.startswith("plic@"))
    soc.add(f"virtio_mmio@{base:x}", {
        "compatible": "virtio,mmio", "reg": [base >> 32, base & 0xFFFFFFFF, 0, BALLOON_SIZE],
        "interrupts": irq, "interrupt-parent": tree.phandle(plic)})


__all__ = ["VirtioBalloon", "add_dt_node", "BALLOON_BASE", "BALLOON_IRQ", "ACKNOWLEDGE"]
