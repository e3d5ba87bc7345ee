"""A virtio block device on the virtio-mmio transport (version 2, "modern"), in plain Python.

Why virtio?  Emulating a real disk controller means copying its quirks register by register.
Virtio is a disk designed *for* virtual machines: the guest puts requests in a ring in its own
RAM and writes one register ("notify"); the device reads the ring, does the work, writes the
results back into RAM and raises an interrupt.  One exit per batch of requests, not per byte.

The pieces, as the guest driver sees them::

    MMIO window (0x1000_1000)            guest RAM
    +-------------------------+          +--------------------------------------------+
    | 0x000 magic "virt"      |          | descriptor table: {addr, len, flags, next} |
    | 0x010 features ...      |  desc ──►| [0] -> header  (type, sector)     readable |
    | 0x030 queue select/size |          | [1] -> 512*n bytes of data   read/writable |
    | 0x050 queue notify      |          | [2] -> 1 status byte              writable |
    | 0x070 status            | driver ─►| available ring: idx, heads the driver gave |
    | 0x080 ring addresses    | device ─►| used ring:      idx, {head, bytes written} |
    | 0x100 config: capacity  |          +--------------------------------------------+
    +-------------------------+

Everything the guest wrote is untrusted: a wrong address, a looping chain or a ring index that
runs ahead must fail one request or put the device in DEVICE_NEEDS_RESET — never crash or hang
the host.  Work per notify is bounded by the queue size.

Spec: OASIS VIRTIO 1.1/1.2 — §2.1 status, §2.7 split virtqueues, §4.2 MMIO, §5.2 block device.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass

try:  # the bus's error type; a stand-in keeps this module usable on its own
    from vmlab.machine.errors import BusError
except ImportError:  # pragma: no cover - only before the machine core exists
    class BusError(Exception):
        """An access to a physical address outside RAM."""

SECTOR = 512

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
VIRTIO_ID_BLOCK = 2
VENDOR_QEMU = 0x554D4551  # "QEMU": the vendor QEMU's virt machine reports

# --- device status bits (§2.1) ---
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
DEVICE_NEEDS_RESET, FAILED = 64, 128

# --- interrupt status bits (§4.2.2) ---
INT_USED_BUFFER, INT_CONFIG_CHANGE = 1, 2

# --- feature bits (§5.2.3, §6) ---
VIRTIO_BLK_F_SIZE_MAX = 1
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_VERSION_1 = 32

# --- request types and status (§5.2.6) ---
VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID = 0, 1, 4, 8
VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP = 0, 1, 2
VIRTIO_BLK_ID_BYTES = 20
REQUEST_HEADER = struct.Struct("<IIQ")  # type, reserved, sector

# --- split virtqueue layout (§2.7) ---
DESC = struct.Struct("<QIHH")  # addr, len, flags, next
VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT = 1, 2, 4
VIRTQ_AVAIL_F_NO_INTERRUPT = 1

QUEUE_NUM_MAX_VALUE = 256
SIZE_MAX = 1 << 20  # largest single data segment we promise to handle


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

    def valid(self) -> bool:
        """Split queue sizes are powers of two no larger than what the device offered."""
        return 0 < self.num <= QUEUE_NUM_MAX_VALUE and self.num & (self.num - 1) == 0


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


def _open_image(path: str, read_only: bool):
    """Open a disk image; one we may not write (or whose mode has no write bit for anyone)
    becomes a read-only disk rather than an error."""
    if not read_only and not os.stat(path).st_mode & 0o222:
        read_only = True
    if not read_only:
        try:
            return open(path, "r+b"), False
        except OSError:              # EACCES, EROFS: fall back to reading only
            pass
    return open(path, "rb"), True


class VirtioBlk:
    """A virtio-mmio block device backed by a host file (or by nothing: an empty disk)."""

    def __init__(self, path: str | None, read_only: bool = False):
        self.path = path
        self._file = None
        self.capacity = 0  # in 512-byte sectors
        if path is not None:
            self._file, read_only = _open_image(path, read_only)
            self.capacity = os.fstat(self._file.fileno()).st_size // SECTOR
        self.read_only = read_only
        self.mem = None
        self.device_features = (1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_F_INDIRECT_DESC
                                | 1 << VIRTIO_BLK_F_SIZE_MAX | 1 << VIRTIO_BLK_F_SEG_MAX
                                | 1 << VIRTIO_BLK_F_BLK_SIZE | 1 << VIRTIO_BLK_F_FLUSH
                                | (1 << VIRTIO_BLK_F_RO if read_only else 0))
        name = os.path.basename(path) if path else "empty"
        self.serial = ("vmlab-" + name).encode()[:VIRTIO_BLK_ID_BYTES]
        self.requests = 0  # completed requests, for counters and tests
        self.reset()

    # ----------------------------------------------------------------------------- lifecycle
    def attach(self, mem) -> None:
        """Give the device the guest's RAM: ``mem.read(gpa, n)`` and ``mem.write(gpa, data)``."""
        self.mem = mem

    def reset(self) -> None:
        """Writing 0 to Status: forget everything the driver negotiated (§2.1, §4.2.3.1)."""
        self.status = 0
        self.driver_features = 0
        self.device_features_sel = 0
        self.driver_features_sel = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.queue = Virtqueue()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def contents(self) -> bytes:
        """The whole disk, for snapshots."""
        if self._file is None:
            return b""
        self._file.flush()
        self._file.seek(0)
        return self._file.read()

    def make_read_only(self) -> None:
        """Offer the disk as read-only (VIRTIO_BLK_F_RO): writes fail with IOERR."""
        self.read_only = True
        self.device_features |= 1 << VIRTIO_BLK_F_RO

    @staticmethod
    def signals_after_write(offset: int) -> bool:
        """Writes after which QEMU's virtio-mmio signals its wire (virtio_update_irq): a
        notify (requests completed), InterruptACK, Status (a reset clears the reasons).
        Reads never do."""
        return offset in (QUEUE_NOTIFY, INTERRUPT_ACK, STATUS)

    @property
    def irq_level(self) -> bool:
        """The wire to PLIC source 1: high while any interrupt reason is unacknowledged."""
        return self.interrupt_status != 0

    # ------------------------------------------------------------------------------ registers
    def mmio_read(self, offset: int, size: int) -> int:
        """A guest load from the device window (offset from its base)."""
        if offset >= CONFIG:
            return self._config_read(offset - CONFIG, size)
        if size != 4 or offset % 4:
            return 0  # registers are 32-bit only (§4.2.2)
        return self._register_read(offset)

    def _register_read(self, offset: int) -> int:
        q = self.queue if self.queue_sel == 0 else None
        simple = {
            MAGIC_VALUE: MAGIC, VERSION: 2, DEVICE_ID: VIRTIO_ID_BLOCK, VENDOR_ID: VENDOR_QEMU,
            DEVICE_FEATURES: self._features_word(self.device_features, self.device_features_sel),
            QUEUE_NUM_MAX: QUEUE_NUM_MAX_VALUE if q else 0,
            QUEUE_READY: int(q.ready) if q else 0,
            INTERRUPT_STATUS: self.interrupt_status,
            STATUS: self.status,
            CONFIG_GENERATION: 0,  # our config never changes under the driver's feet
            SHM_LEN_LOW: 0xFFFFFFFF, SHM_LEN_HIGH: 0xFFFFFFFF,  # "no shared memory region"
        }
        return simple.get(offset, 0)

    @staticmethod
    def _features_word(features: int, sel: int) -> int:
        """Features are 64 bits (or more) read 32 at a time through a selector."""
        return (features >> (32 * sel)) & 0xFFFFFFFF if sel < 2 else 0

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        """A guest store to the device window."""
        if offset >= CONFIG or size != 4 or offset % 4:
            return  # the block config space has nothing a driver may write without CONFIG_WCE
        value &= 0xFFFFFFFF
        handler = self._WRITERS.get(offset)
        if handler is not None:
            handler(self, value)

    def _write_device_features_sel(self, value: int) -> None:
        self.device_features_sel = value

    def _write_driver_features_sel(self, value: int) -> None:
        self.driver_features_sel = value

    def _write_driver_features(self, value: int) -> None:
        if self.status & FEATURES_OK or self.driver_features_sel > 1:
            return  # features are frozen once FEATURES_OK is set (§3.1.1)
        self.driver_features = _set_half(self.driver_features, self.driver_features_sel, value)

    def _write_queue_sel(self, value: int) -> None:
        self.queue_sel = value

    @staticmethod
    def _queue_register(attr: str, half: int | None = None):
        """A setter for a queue register; ignored for absent queues or while the queue runs."""
        def write(self: "VirtioBlk", value: int) -> None:
            q = self.queue
            if self.queue_sel != 0 or q.ready:
                return
            setattr(q, attr, value if half is None else _set_half(getattr(q, attr), half, value))
        return write

    def _write_queue_ready(self, value: int) -> None:
        if self.queue_sel == 0:
            self.queue.ready = bool(value & 1)

    def _write_queue_notify(self, value: int) -> None:
        if value == 0:
            self.notify()

    def _write_interrupt_ack(self, value: int) -> None:
        self.interrupt_status &= ~value

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

    # ------------------------------------------------------------------------- config space
    def config_bytes(self) -> bytes:
        """struct virtio_blk_config (§5.2.4), little-endian, up to ``blk_size``."""
        return struct.pack("<QII HBB I", self.capacity, SIZE_MAX, QUEUE_NUM_MAX_VALUE - 2,
                           0, 0, 0, SECTOR)

    def _config_read(self, offset: int, size: int) -> int:
        data = self.config_bytes()[offset:offset + size]
        return int.from_bytes(data.ljust(size, b"\0"), "little")

    # -------------------------------------------------------------------------- the queue
    def notify(self) -> None:
        """The driver says "new requests": serve every one it has made available so far."""
        q = self.queue
        if not (self.status & DRIVER_OK and q.ready) or self.status & DEVICE_NEEDS_RESET:
            return
        try:
            self._drain(q)
        except (QueueError, BusError):
            self._needs_reset()

    def _drain(self, q: Virtqueue) -> None:
        if not q.valid() or self.mem is None:
            raise QueueError("queue size is not a power of two within QueueNumMax")
        flags, avail_idx = struct.unpack("<HH", self.mem.read(q.driver, 4))
        pending = (avail_idx - q.last_avail) & 0xFFFF
        if pending > q.num:
            raise QueueError("available index ran more than a queue ahead")
        served = 0
        for _ in range(pending):  # bounded: at most q.num requests per notify
            slot = q.last_avail % q.num
            (head,) = struct.unpack("<H", self.mem.read(q.driver + 4 + 2 * slot, 2))
            written = self._serve(self._chain(q, head))
            self._publish(q, head, written)
            q.last_avail = (q.last_avail + 1) & 0xFFFF
            served += 1
        if served and not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            self.interrupt_status |= INT_USED_BUFFER

    def _publish(self, q: Virtqueue, head: int, written: int) -> None:
        """Put (head, bytes written) in the used ring, then bump its index: the driver's signal."""
        slot = q.used_idx % q.num
        self.mem.write(q.device + 4 + 8 * slot, struct.pack("<II", head, written))
        q.used_idx = (q.used_idx + 1) & 0xFFFF
        self.mem.write(q.device + 2, struct.pack("<H", q.used_idx))
        self.requests += 1

    def _needs_reset(self) -> None:
        """A broken ring: stop using it and tell the driver through a config-change interrupt."""
        self.status |= DEVICE_NEEDS_RESET
        if self.status & DRIVER_OK:
            self.interrupt_status |= INT_CONFIG_CHANGE

    # ------------------------------------------------------------------- descriptor chains
    def _descriptor(self, table: int, index: int) -> tuple[int, int, int, int]:
        return DESC.unpack(self.mem.read(table + 16 * index, 16))

    def _chain(self, q: Virtqueue, head: int) -> list[Segment]:
        """Follow a descriptor chain from ``head``; a chain longer than its table is a loop."""
        if head >= q.num:
            raise QueueError(f"head {head} outside a queue of {q.num}")
        segments: list[Segment] = []
        index, table, size, indirect = head, q.desc, q.num, False
        for _ in range(q.num + 1):
            addr, length, flags, nxt = self._descriptor(table, index)
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

    # ------------------------------------------------------------------------- requests
    def _serve(self, segments: list[Segment]) -> int:
        """Carry out one request; return how many bytes we wrote into the guest's buffers."""
        readable = [s for s in segments if not s.writable]
        writable = [s for s in segments if s.writable]
        if not writable or writable[-1].length == 0:
            return 0  # nowhere to put a status byte: the driver gets nothing back
        status_seg = writable[-1]
        data_out = writable[:-1] + ([Segment(status_seg.gpa, status_seg.length - 1, True)]
                                    if status_seg.length > 1 else [])
        status_gpa = status_seg.gpa + status_seg.length - 1
        try:
            status, written = self._execute(readable, data_out)
        except BusError:
            status, written = VIRTIO_BLK_S_IOERR, 0
        try:
            self.mem.write(status_gpa, bytes([status]))
        except BusError:
            return written
        return written + 1

    def _execute(self, readable: list[Segment], data_out: list[Segment]) -> tuple[int, int]:
        header = self._gather(readable, REQUEST_HEADER.size)
        if len(header) < REQUEST_HEADER.size:
            return VIRTIO_BLK_S_IOERR, 0
        rtype, _, sector = REQUEST_HEADER.unpack(header)
        if rtype == VIRTIO_BLK_T_IN:
            return self._read_sectors(sector, data_out)
        if rtype == VIRTIO_BLK_T_OUT:
            return self._write_sectors(sector, readable), 0
        if rtype == VIRTIO_BLK_T_FLUSH:
            if self._file is not None and not self.read_only:
                self._file.flush()
                os.fsync(self._file.fileno())    # "on stable storage", as FLUSH promises
            return VIRTIO_BLK_S_OK, 0
        if rtype == VIRTIO_BLK_T_GET_ID:
            ident = self.serial.ljust(VIRTIO_BLK_ID_BYTES, b"\0")
            return VIRTIO_BLK_S_OK, self._scatter(data_out, ident)
        return VIRTIO_BLK_S_UNSUPP, 0

    def _in_range(self, sector: int, nbytes: int) -> bool:
        return nbytes % SECTOR == 0 and sector * SECTOR + nbytes <= self.capacity * SECTOR

    def _read_sectors(self, sector: int, data_out: list[Segment]) -> tuple[int, int]:
        nbytes = sum(s.length for s in data_out)
        if not self._in_range(sector, nbytes):
            return VIRTIO_BLK_S_IOERR, 0
        self._file.seek(sector * SECTOR)
        return VIRTIO_BLK_S_OK, self._scatter(data_out, self._file.read(nbytes))

    def _write_sectors(self, sector: int, readable: list[Segment]) -> int:
        nbytes = sum(s.length for s in readable) - REQUEST_HEADER.size
        if self.read_only or not self._in_range(sector, nbytes):
            return VIRTIO_BLK_S_IOERR
        data = self._gather(readable, REQUEST_HEADER.size + nbytes)[REQUEST_HEADER.size:]
        self._file.seek(sector * SECTOR)
        self._file.write(data)
        self._file.flush()        # a completed write is in the file, whatever happens to us
        return VIRTIO_BLK_S_OK

    def _gather(self, segments: list[Segment], limit: int) -> bytes:
        """Read up to ``limit`` bytes from the guest buffers, in chain order."""
        out = bytearray()
        for s in segments:
            if len(out) >= limit:
                break
            out += self.mem.read(s.gpa, min(s.length, limit - len(out)))
        return bytes(out)

    def _scatter(self, segments: list[Segment], data: bytes) -> int:
        """Write ``data`` across the guest buffers in chain order; return bytes written."""
        done = 0
        for s in segments:
            if done >= len(data):
                break
            piece = data[done:done + s.length]
            self.mem.write(s.gpa, piece)
            done += len(piece)
        return done

    # ----------------------------------------------------------------------- snapshots
    def __getstate__(self) -> dict:
        """Pickle without the open file and the RAM (the machine re-attaches its own)."""
        state = dict(self.__dict__)
        state["_file"] = None
        state["mem"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.path is not None:
            self._file = open(self.path, "rb" if self.read_only else "r+b")

    def get_state(self) -> dict:
        """Register and ring state (not the disk contents) as plain values, for snapshots."""
        q = self.queue
        return {"status": self.status, "driver_features": self.driver_features,
                "device_features_sel": self.device_features_sel,
                "driver_features_sel": self.driver_features_sel, "queue_sel": self.queue_sel,
                "interrupt_status": self.interrupt_status,
                "queue": [q.num, int(q.ready), q.desc, q.driver, q.device, q.last_avail,
                          q.used_idx]}

    def set_state(self, state: dict) -> None:
        for key in ("status", "driver_features", "device_features_sel", "driver_features_sel",
                    "queue_sel", "interrupt_status"):
            setattr(self, key, int(state[key]))
        num, ready, desc, driver, device, last_avail, used_idx = (int(v) for v in state["queue"])
        self.queue = Virtqueue(num, bool(ready), desc, driver, device, last_avail, used_idx)


VirtioBlk._WRITERS = {
    DEVICE_FEATURES_SEL: VirtioBlk._write_device_features_sel,
    DRIVER_FEATURES: VirtioBlk._write_driver_features,
    DRIVER_FEATURES_SEL: VirtioBlk._write_driver_features_sel,
    QUEUE_SEL: VirtioBlk._write_queue_sel,
    QUEUE_NUM: VirtioBlk._queue_register("num"),
    QUEUE_READY: VirtioBlk._write_queue_ready,
    QUEUE_NOTIFY: VirtioBlk._write_queue_notify,
    INTERRUPT_ACK: VirtioBlk._write_interrupt_ack,
    STATUS: VirtioBlk._write_status,
    QUEUE_DESC_LOW: VirtioBlk._queue_register("desc", 0),
    QUEUE_DESC_HIGH: VirtioBlk._queue_register("desc", 1),
    QUEUE_DRIVER_LOW: VirtioBlk._queue_register("driver", 0),
    QUEUE_DRIVER_HIGH: VirtioBlk._queue_register("driver", 1),
    QUEUE_DEVICE_LOW: VirtioBlk._queue_register("device", 0),
    QUEUE_DEVICE_HIGH: VirtioBlk._queue_register("device", 1),
}
