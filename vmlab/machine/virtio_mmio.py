"""The virtio-mmio transport (version 2, "modern"): what every virtio device on the board shares.

A virtio device is two things: a *transport* -- how the driver finds the device, agrees on
features, hands over its rings and learns about interrupts -- and the device proper: its
config space and what a request on each queue means.  On the virt board the transport is a
4 KiB register window (§4.2.2); this module is that window, the split-virtqueue walking
(§2.7) and the status/reset rules (§2.1, §3.1.1).  A device (virtio_blk.py,
virtio_balloon.py) subclasses :class:`VirtioMmio` and supplies only its ID, features,
queues, config space and :meth:`VirtioMmio.serve`::

    0x000 magic "virt"   0x004 version 2   0x008 device id   0x00c vendor
    0x010 device features (32 bits at a time, through 0x014 DeviceFeaturesSel)
    0x020 driver features (through 0x024 DriverFeaturesSel)
    0x030 queue select -> 0x034 QueueNumMax, 0x038 QueueNum, 0x044 QueueReady,
                          0x080/0x090/0x0a0 descriptor table / available / used ring
    0x050 queue notify   0x060 interrupt status   0x064 interrupt ack   0x070 status
    0x0fc config generation   0x100... the device's config space

Everything the guest wrote is untrusted: a wrong address, a looping chain or a ring index
that runs ahead puts the device in DEVICE_NEEDS_RESET -- never crashes or hangs the host.
Work per notify is bounded by the queue size.

Spec: OASIS VIRTIO 1.1/1.2 -- §2.1 status, §2.7 split virtqueues, §4.2 MMIO.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

try:  # the bus's error type; a stand-in keeps this module usable on its own
    from vmlab.machine.errors import BusError
except ImportError:  # pragma: no cover - only before the machine core exists
    class BusError(Exception):
        """An access to a physical address outside RAM."""

# --- MMIO register offsets (§4.2.2) ---
MAGIC_VALUE = 0x000
VERSION = 0x004
DEVICE_ID = 0x008
VENDOR_ID = 0x00C
DEVICE_FEATURES = 0x010
DEVICE_FEATURES_SEL = 0x014
DRIVER_FEATURES = 0x020
DRIVER_FEATURES_SEL = 0x024
QUEUE_SEL = 0x030
QUEUE_NUM_MAX = 0x034
QUEUE_NUM = 0x038
QUEUE_READY = 0x044
QUEUE_NOTIFY = 0x050
INTERRUPT_STATUS = 0x060
INTERRUPT_ACK = 0x064
STATUS = 0x070
QUEUE_DESC_LOW = 0x080
QUEUE_DESC_HIGH = 0x084
QUEUE_DRIVER_LOW = 0x090
QUEUE_DRIVER_HIGH = 0x094
QUEUE_DEVICE_LOW = 0x0A0
QUEUE_DEVICE_HIGH = 0x0A4
SHM_SEL = 0x0AC
SHM_LEN_LOW = 0x0B0
SHM_LEN_HIGH = 0x0B4
SHM_BASE_LOW = 0x0B8
SHM_BASE_HIGH = 0x0BC
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

MAGIC = 0x74726976  # "virt", little-endian
VENDOR_QEMU = 0x554D4551  # "QEMU": the vendor QEMU's virt machine reports
WINDOW = 0x1000           # bytes of one virtio-mmio slot

# --- device status bits (§2.1) ---
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
DEVICE_NEEDS_RESET, FAILED = 64, 128

# --- interrupt status bits (§4.2.2) ---
INT_USED_BUFFER, INT_CONFIG_CHANGE = 1, 2

# --- transport feature bits (§6) ---
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_VERSION_1 = 32

# --- split virtqueue layout (§2.7) ---
DESC = struct.Struct("<QIHH")  # addr, len, flags, next
VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT = 1, 2, 4
VIRTQ_AVAIL_F_NO_INTERRUPT = 1

QUEUE_NUM_MAX_VALUE = 256      # the largest queue a device offers unless it says otherwise


class QueueError(Exception):
    """The driver broke the ring itself; the device can only ask to be reset."""


@dataclass
class Virtqueue:
    """The driver-programmed registers of one split virtqueue, plus where the device is in it."""

    num: int = 0          # queue size the driver chose
    ready: bool = False
    desc: int = 0         # descriptor table (guest physical)
    driver: int = 0       # available ring
    device: int = 0       # used ring
    last_avail: int = 0   # next available-ring index the device will consume (mod 2**16)
    used_idx: int = 0     # next used-ring index the device will publish (mod 2**16)

    def valid(self, num_max: int = QUEUE_NUM_MAX_VALUE) -> bool:
        """Split queue sizes are powers of two no larger than what the device offered."""
        return 0 < self.num <= num_max and self.num & (self.num - 1) == 0

    def as_list(self) -> list[int]:
        return [self.num, int(self.ready), self.desc, self.driver, self.device,
                self.last_avail, self.used_idx]

    @classmethod
    def from_list(cls, values) -> "Virtqueue":
        num, ready, desc, driver, device, last_avail, used_idx = (int(v) for v in values)
        return cls(num, bool(ready), desc, driver, device, last_avail, used_idx)


@dataclass
class Segment:
    """One guest buffer of a request: ``length`` bytes at ``gpa``; ``writable`` by the device."""

    gpa: int
    length: int
    writable: bool


def _set_half(value: int, half: int, word: int) -> int:
    """Replace the low (half=0) or high (half=1) 32 bits of a 64-bit register."""
    shift = 32 * half
    return (value & ~(0xFFFFFFFF << shift)) | ((word & 0xFFFFFFFF) << shift)


def empty_slot_read(offset: int, size: int) -> int:
    """A load from a slot with no device behind it, as QEMU's virtio-mmio answers one: a
    version-2 transport saying "device id 0" -- so a driver tells "nothing plugged in"
    from "no virtio here"."""
    if size != 4:
        return 0
    return {MAGIC_VALUE: MAGIC, VERSION: 2, VENDOR_ID: VENDOR_QEMU}.get(offset, 0)


#: queue registers the driver programs while a queue is not ready: (attribute, 32-bit half)
_QUEUE_FIELDS = {QUEUE_NUM: ("num", None), QUEUE_DESC_LOW: ("desc", 0),
                 QUEUE_DESC_HIGH: ("desc", 1), QUEUE_DRIVER_LOW: ("driver", 0),
                 QUEUE_DRIVER_HIGH: ("driver", 1), QUEUE_DEVICE_LOW: ("device", 0),
                 QUEUE_DEVICE_HIGH: ("device", 1)}
#: the transport's state a snapshot keeps (beside the queues)
STATE_KEYS = ("status", "driver_features", "device_features_sel", "driver_features_sel",
              "queue_sel", "interrupt_status")


class VirtioMmio:
    """One virtio-mmio slot.  Subclasses set :attr:`DEVICE_ID`, :attr:`NUM_QUEUES`,
    :attr:`QUEUE_NUM_MAX`, ``device_features``, and implement :meth:`serve` and
    :meth:`config_bytes` (and :meth:`config_write` if the driver may write config)."""

    DEVICE_ID = 0
    NUM_QUEUES = 1
    QUEUE_NUM_MAX = QUEUE_NUM_MAX_VALUE
    #: serve a ready queue before DRIVER_OK (QEMU's balloon takes Linux's first stats
    #: buffer while the driver is still probing)
    SERVE_BEFORE_DRIVER_OK = False

    device_features = 1 << VIRTIO_F_VERSION_1
    mem = None
    generation = 0     #: config generation: bumped when the device changes its config

    def attach(self, mem) -> None:
        """The guest's RAM as the device does DMA: ``read(gpa, n)``, ``write(gpa, data)``."""
        self.mem = mem

    def reset(self) -> None:
        """Status 0: forget everything the driver negotiated (§2.1, §4.2.3.1)."""
        self.status = 0
        self.driver_features = 0
        self.device_features_sel = self.driver_features_sel = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.queues = [Virtqueue() for _ in range(self.NUM_QUEUES)]

    # === the wire ==============================================================================
    @staticmethod
    def signals_after_write(offset: int) -> bool:
        """Writes after which QEMU's virtio-mmio signals its wire (virtio_update_irq): a
        notify (requests completed), InterruptACK, Status (a reset clears the reasons).
        Reads never do."""
        return offset in (QUEUE_NOTIFY, INTERRUPT_ACK, STATUS)

    @property
    def irq_level(self) -> bool:
        """The wire to the PLIC: high while any interrupt reason is unacknowledged."""
        return self.interrupt_status != 0

    # === registers =============================================================================
    def mmio_read(self, offset: int, size: int) -> int:
        """A guest load from the device window (offset from its base)."""
        if offset >= CONFIG:
            data = self.config_bytes()[offset - CONFIG: offset - CONFIG + size]
            return int.from_bytes(data.ljust(size, b"\0"), "little")
        if size != 4 or offset % 4:
            return 0  # registers are 32-bit only (§4.2.2)
        q = self._queue()
        regs = {MAGIC_VALUE: MAGIC, VERSION: 2, DEVICE_ID: self.DEVICE_ID, VENDOR_ID: VENDOR_QEMU,
                DEVICE_FEATURES: self._features_word(),
                QUEUE_NUM_MAX: self.QUEUE_NUM_MAX if q else 0,
                QUEUE_READY: int(q.ready) if q else 0,
                INTERRUPT_STATUS: self.interrupt_status, STATUS: self.status,
                CONFIG_GENERATION: self.generation,
                SHM_LEN_LOW: 0xFFFFFFFF, SHM_LEN_HIGH: 0xFFFFFFFF}  # "no shared memory"
        return regs.get(offset, 0)

    def _features_word(self) -> int:
        """Features are 64 bits read 32 at a time through a selector."""
        sel = self.device_features_sel
        return (self.device_features >> (32 * sel)) & 0xFFFFFFFF if sel < 2 else 0

    def _queue(self) -> Virtqueue | None:
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        """A guest store to the device window."""
        if offset >= CONFIG:
            self.config_write(offset - CONFIG, size, value)
            return
        if size != 4 or offset % 4:
            return
        value &= 0xFFFFFFFF
        if offset in _QUEUE_FIELDS:
            self._queue_field(*_QUEUE_FIELDS[offset], value)
        elif offset in _WRITERS:
            _WRITERS[offset](self, value)

    def _queue_field(self, attr: str, half, value: int) -> None:
        """Ignored for an absent queue or while the queue runs."""
        q = self._queue()
        if q is None or q.ready:
            return
        setattr(q, attr, value if half is None else _set_half(getattr(q, attr), half, value))

    def _write_driver_features(self, value: int) -> None:
        if self.status & FEATURES_OK or self.driver_features_sel > 1:
            return  # features are frozen once FEATURES_OK is set (§3.1.1)
        self.driver_features = _set_half(self.driver_features, self.driver_features_sel, value)

    def _write_queue_ready(self, value: int) -> None:
        q = self._queue()
        if q is not None:
            q.ready = bool(value & 1)

    def _write_status(self, value: int) -> None:
        if value == 0:
            self.reset()
            return
        if value & FEATURES_OK and not self.status & FEATURES_OK:
            self._accept_features()
        self.status = (value & 0xFF) | (self.status & DEVICE_NEEDS_RESET)

    def _accept_features(self) -> None:
        """FEATURES_OK as QEMU's virtio-mmio gives it: the driver's features are masked to
        what we offered and always accepted.  A strict device (§3.1.1) would refuse a driver
        that never sets VERSION_1 -- but minimal teaching drivers write only the low feature
        word, and on QEMU's virt they work; so they work here."""
        self.driver_features &= self.device_features

    # === the device's part =======================================================================
    def config_bytes(self) -> bytes:
        """The device's config space, little-endian."""
        return b""

    def config_write(self, offset: int, size: int, value: int) -> None:
        """A driver store into config space: ignored unless the device allows one."""

    def serve(self, index: int, head: int, segments: list[Segment]) -> int | None:
        """Carry out one request from queue ``index``; return the bytes written into the
        guest's buffers (the used ring's length), or None to keep the buffer for later."""
        raise NotImplementedError

    # === the queues ============================================================================
    def notify(self, index: int = 0) -> None:
        """The driver made buffers available on queue ``index``: serve every one so far."""
        q = self.queues[index] if 0 <= index < len(self.queues) else None
        running = self.status & DRIVER_OK or self.SERVE_BEFORE_DRIVER_OK
        if q is None or not q.ready or not running or self.status & DEVICE_NEEDS_RESET:
            return
        try:
            self._drain(index, q)
        except (QueueError, BusError, struct.error):
            self._needs_reset()

    def _drain(self, index: int, q: Virtqueue) -> None:
        if not q.valid(self.QUEUE_NUM_MAX) or self.mem is None:
            raise QueueError("queue size is not a power of two within QueueNumMax")
        flags, avail_idx = struct.unpack("<HH", self.mem.read(q.driver, 4))
        pending = (avail_idx - q.last_avail) & 0xFFFF
        if pending > q.num:
            raise QueueError("available index ran more than a queue ahead")
        served = 0
        for _ in range(pending):  # bounded: at most q.num requests per notify
            slot = q.last_avail % q.num
            (head,) = struct.unpack("<H", self.mem.read(q.driver + 4 + 2 * slot, 2))
            q.last_avail = (q.last_avail + 1) & 0xFFFF
            written = self.serve(index, head, self._chain(q, head))
            if written is not None:
                self.publish(q, head, written)
                served += 1
        if served and not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            self.interrupt_status |= INT_USED_BUFFER

    def publish(self, q: Virtqueue, head: int, written: int) -> None:
        """Put (head, bytes written) in the used ring, then bump its index: the driver's signal."""
        slot = q.used_idx % q.num
        self.mem.write(q.device + 4 + 8 * slot, struct.pack("<II", head, written))
        q.used_idx = (q.used_idx + 1) & 0xFFFF
        self.mem.write(q.device + 2, struct.pack("<H", q.used_idx))

    def _needs_reset(self) -> None:
        """A broken ring: stop using it and tell the driver through a config-change interrupt."""
        self.status |= DEVICE_NEEDS_RESET
        if self.status & DRIVER_OK:
            self.interrupt_status |= INT_CONFIG_CHANGE

    def _chain(self, q: Virtqueue, head: int) -> list[Segment]:
        """Follow a descriptor chain from ``head`` (through at most one indirect table); a
        chain longer than its table is a loop."""
        if head >= q.num:
            raise QueueError(f"head {head} outside a queue of {q.num}")
        segments: list[Segment] = []
        index, table, size, indirect = head, q.desc, q.num, False
        for _ in range(q.num + 1):
            addr, length, flags, nxt = DESC.unpack(self.mem.read(table + 16 * index, 16))
            if flags & VIRTQ_DESC_F_INDIRECT:
                if indirect or flags & VIRTQ_DESC_F_NEXT or length % 16 or length == 0:
                    raise QueueError("malformed indirect descriptor")
                table, size, index, indirect = addr, length // 16, 0, True
                continue
            segments.append(Segment(addr, length, bool(flags & VIRTQ_DESC_F_WRITE)))
            if not flags & VIRTQ_DESC_F_NEXT:
                return segments
            if nxt >= size or len(segments) >= size:
                raise QueueError("descriptor chain leaves its table or loops")
            index = nxt
        raise QueueError("descriptor chain loops")

    # === snapshots =============================================================================
    def transport_state(self) -> dict:
        """Register and ring state as plain values."""
        state = {key: getattr(self, key) for key in STATE_KEYS}
        state["queues"] = [q.as_list() for q in self.queues]
        return state

    def set_transport_state(self, state: dict) -> None:
        for key in STATE_KEYS:
            setattr(self, key, int(state[key]))
        self.queues = [Virtqueue.from_list(q) for q in state["queues"]]


_WRITERS = {
    DEVICE_FEATURES_SEL: lambda d, v: setattr(d, "device_features_sel", v),
    DRIVER_FEATURES_SEL: lambda d, v: setattr(d, "driver_features_sel", v),
    DRIVER_FEATURES: lambda d, v: d._write_driver_features(v),
    QUEUE_SEL: lambda d, v: setattr(d, "queue_sel", v),
    QUEUE_READY: lambda d, v: d._write_queue_ready(v),
    QUEUE_NOTIFY: lambda d, v: d.notify(v),
    INTERRUPT_ACK: lambda d, v: setattr(d, "interrupt_status", d.interrupt_status & ~v),
    STATUS: lambda d, v: d._write_status(v),
}
