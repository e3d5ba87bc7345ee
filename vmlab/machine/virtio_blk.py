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

The transport (registers, feature negotiation, queue setup, status/reset, interrupt status)
is vmlab.machine.virtio_mmio's, shared with the balloon; this module is the block device's
config space and requests.

Spec: OASIS VIRTIO 1.1/1.2 — §2.1 status, §2.7 split virtqueues, §4.2 MMIO, §5.2 block device.
"""
from __future__ import annotations

import os
import struct

from vmlab.machine.virtio_mmio import (  # noqa: F401  (the transport's names, re-exported)
    ACKNOWLEDGE, CONFIG, CONFIG_GENERATION, DESC, DEVICE_FEATURES, DEVICE_FEATURES_SEL,
    DEVICE_ID, DEVICE_NEEDS_RESET, DRIVER, DRIVER_FEATURES, DRIVER_FEATURES_SEL, DRIVER_OK,
    FAILED, FEATURES_OK, INT_CONFIG_CHANGE, INT_USED_BUFFER, INTERRUPT_ACK, INTERRUPT_STATUS,
    MAGIC, MAGIC_VALUE, QUEUE_DESC_HIGH, QUEUE_DESC_LOW, QUEUE_DEVICE_HIGH, QUEUE_DEVICE_LOW,
    QUEUE_DRIVER_HIGH, QUEUE_DRIVER_LOW, QUEUE_NOTIFY, QUEUE_NUM, QUEUE_NUM_MAX,
    QUEUE_NUM_MAX_VALUE, QUEUE_READY, QUEUE_SEL, SHM_BASE_HIGH, SHM_BASE_LOW, SHM_LEN_HIGH,
    SHM_LEN_LOW, SHM_SEL, STATUS, VENDOR_ID, VENDOR_QEMU, VERSION, VIRTIO_F_INDIRECT_DESC,
    VIRTIO_F_VERSION_1, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE, BusError, QueueError, Segment, Virtqueue, VirtioMmio, _set_half,
)

SECTOR = 512
VIRTIO_ID_BLOCK = 2

# --- feature bits (§5.2.3) ---
VIRTIO_BLK_F_SIZE_MAX = 1
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9

# --- request types and status (§5.2.6) ---
VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID = 0, 1, 4, 8
VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP = 0, 1, 2
VIRTIO_BLK_ID_BYTES = 20
REQUEST_HEADER = struct.Struct("<IIQ")  # type, reserved, sector

SIZE_MAX = 1 << 20  # largest single data segment we promise to handle


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


class VirtioBlk(VirtioMmio):
    """A virtio-mmio block device backed by a host file (or by nothing: an empty disk)."""

    DEVICE_ID = VIRTIO_ID_BLOCK
    NUM_QUEUES = 1

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

    @property
    def queue(self) -> Virtqueue:
        """The device's one request queue."""
        return self.queues[0]

    # ----------------------------------------------------------------------------- lifecycle
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

    # ------------------------------------------------------------------------- config space
    def config_bytes(self) -> bytes:
        """struct virtio_blk_config (§5.2.4), little-endian, up to ``blk_size``: nothing in
        it is the driver's to write without CONFIG_WCE, which we do not offer."""
        return struct.pack("<QII HBB I", self.capacity, SIZE_MAX, QUEUE_NUM_MAX_VALUE - 2,
                           0, 0, 0, SECTOR)

    # ------------------------------------------------------------------------- requests
    def serve(self, index: int, head: int, segments: list[Segment]) -> int:
        """Carry out one request; return how many bytes we wrote into the guest's buffers."""
        self.requests += 1
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
        state = self.transport_state()
        state["queue"] = state.pop("queues")[0]
        return state

    def set_state(self, state: dict) -> None:
        self.set_transport_state({**state, "queues": [state["queue"]]})
