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
:mod:`vmlab.machine.virtio_blk`: both are :class:`vmlab.machine.virtio_mmio.VirtioMmio`
devices, sharing the transport's registers, feature negotiation and ring walking.

Spec: OASIS VIRTIO 1.1 -- §2.7 split virtqueues, §4.2 MMIO, §5.5 traditional memory balloon.
"""
from __future__ import annotations

import struct

from vmlab.machine.virtio_mmio import (
    ACKNOWLEDGE, DRIVER_OK, INT_CONFIG_CHANGE, INT_USED_BUFFER, VIRTIO_F_VERSION_1, WINDOW,
    Segment, VirtioMmio,
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


class VirtioBalloon(VirtioMmio):
    """The device; ``on_inflate``/``on_deflate`` get each batch of guest PFNs."""

    DEVICE_ID = VIRTIO_ID_BALLOON
    NUM_QUEUES = 3
    QUEUE_NUM_MAX = QUEUE_MAX
    # Linux's driver hands over its first stats buffer while probing, before DRIVER_OK;
    # QEMU serves it then, so we do.
    SERVE_BEFORE_DRIVER_OK = True

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

    def reset(self) -> None:
        """Status 0: forget what the driver negotiated (the host's target stays)."""
        super().reset()
        self.actual = 0
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
        self.publish(q, self._stats_head, 0)
        self._stats_head = None
        self.interrupt_status |= INT_USED_BUFFER
        return True

    @property
    def negotiated(self) -> set[str]:
        names = {VIRTIO_BALLOON_F_MUST_TELL_HOST: "must_tell_host",
                 VIRTIO_BALLOON_F_STATS_VQ: "stats_vq", VIRTIO_BALLOON_F_DEFLATE_ON_OOM: "deflate_on_oom"}
        return {n for bit, n in names.items() if self.driver_features >> bit & 1}

    # === config space ==========================================================================
    def config_bytes(self) -> bytes:
        """struct virtio_balloon_config: num_pages, actual (free_page_hint_cmd_id and
        poison_val belong to features we do not offer)."""
        return struct.pack("<II", self.num_pages, self.actual)

    def config_write(self, offset: int, size: int, value: int) -> None:
        """Only ``actual`` (bytes 4..7) is the driver's to write."""
        if 4 <= offset and offset + size <= 8:
            shift = 8 * (offset - 4)
            mask = ((1 << 8 * size) - 1) << shift
            self.actual = (self.actual & ~mask) | ((value << shift) & mask)

    # === the queues ============================================================================
    def serve(self, index: int, head: int, segments: list[Segment]) -> int | None:
        """An inflate or deflate buffer of PFNs is taken and returned at once; a stats
        buffer is kept until the host wants fresh numbers."""
        data = self._gather([s for s in segments if not s.writable])
        if index == STATS:
            self._take_stats(data, head)
            return None
        self._pages(index, data)
        return 0

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
            self.publish(self.queues[STATS], self._stats_head, 0)
        self._stats_head = head
        self.counters["stats_updates"] += 1

    def _gather(self, segments: list[Segment]) -> bytes:
        out = bytearray()
        for s in segments:
            n = min(s.length, 4 * MAX_PFNS_PER_BUFFER - len(out))
            if n <= 0:
                self.counters["bad_requests"] += 1
                break
            out += self.mem.read(s.gpa, n)
        return bytes(out)


#: where the balloon sits on the virt board: the second virtio-mmio slot, PLIC wire 2
BALLOON_BASE, BALLOON_SIZE, BALLOON_IRQ = 0x1000_2000, WINDOW, 2


def add_dt_node(tree, base: int = BALLOON_BASE, irq: int = BALLOON_IRQ) -> None:
    """Describe a virtio-mmio slot in a virt device tree (vmlab.machine.fdt.virt_tree's)."""
    soc = tree.find("/soc")
    plic = next(node for node in soc.children if node.name.startswith("plic@"))
    soc.add(f"virtio_mmio@{base:x}", {
        "compatible": "virtio,mmio", "reg": [base >> 32, base & 0xFFFFFFFF, 0, BALLOON_SIZE],
        "interrupts": irq, "interrupt-parent": tree.phandle(plic)})


__all__ = ["VirtioBalloon", "add_dt_node", "BALLOON_BASE", "BALLOON_IRQ", "ACKNOWLEDGE"]
