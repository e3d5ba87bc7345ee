"""The host side of a split virtqueue, one readable step at a time (lab 10's reference).

When a virtio driver writes QueueNotify, the device (the hypervisor) does four things::

    1. available(ram, q)        which chains did the driver offer since last time?
                                avail.idx - last_avail of them, never more than a queue
    2. walk_chain(ram, q, head) follow desc[head].next ... to the end of the request;
                                a chain longer than the table is a loop
    3. block_request(...)       read the header, do the I/O on the *guest's* buffers,
                                write the status byte -- every address checked
    4. put_used(ram, q, ...)    (head, bytes written) into the used ring, then used.idx

Everything in the ring was written by the guest, so it is untrusted: a loop, an index past
the table or an available index running ahead means the ring itself is broken (raise
:class:`QueueError`: the device stops and asks the driver to reset it); a buffer outside
guest RAM, a length that wraps around 2**64, a buffer the device must write but the driver
marked read-only (or the other way round) fail *that request* with IOERR.  Guest RAM is
reached only through :class:`GuestRam`, which checks every address and counts the work, so
a walker that loops forever is stopped (:class:`Hung`) instead of hanging the host.

:class:`HostedBlk` is the machine's virtio-blk with its queue served by any function of the
shape of :func:`serve` -- this module's, or a student's -- so a real guest driver runs
against it (``hosted(vm, serve)``).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from vmlab.hv.devices import GuestDma
from vmlab.machine.errors import BusError  # noqa: F401 - re-exported
from vmlab.machine.virtio_blk import (DESC, INT_USED_BUFFER, REQUEST_HEADER, SECTOR,
                                      VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
                                      VIRTIO_BLK_T_IN, VIRTQ_AVAIL_F_NO_INTERRUPT,
                                      VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
                                      VIRTQ_DESC_F_WRITE, QueueError, Segment, VirtioBlk)

__all__ = ["BusError", "GuestRam", "Queue", "Segment", "QueueError", "Hung", "available", "walk_chain",
           "block_request", "put_used", "serve", "HostedBlk", "hosted", "IOERR", "OK"]

OK, IOERR, UNSUPP = VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP
NEXT, WRITE, INDIRECT = VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT
MASK64 = (1 << 64) - 1
WORK_BUDGET = 100_000           # guest-RAM accesses one notify may make


class Hung(Exception):
    """The device code made more guest-RAM accesses than one notify can need (a loop)."""


class GuestRam:
    """Guest RAM as the device sees it: guest-physical addresses, every one checked.

    ``mem`` is anything with ``contains(gpa, n)``, ``read(gpa, n)`` and ``write(gpa, data)``
    (a VM's GuestMemory).  Reads and writes outside guest RAM raise BusError; more than
    ``budget`` accesses raise :class:`Hung`."""

    def __init__(self, mem, budget: int = WORK_BUDGET):
        self.mem, self.left = mem, budget

    def contains(self, gpa: int, n: int) -> bool:
        """True if [gpa, gpa + n) is guest RAM (a range that wraps around 2**64 is not)."""
        return 0 <= gpa and 0 <= n and gpa + n <= MASK64 + 1 and self.mem.contains(gpa, n)

    def _charge(self, gpa: int, n: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise Hung("too many guest-RAM accesses for one notify")
        if not self.contains(gpa, n):
            raise BusError(f"gpa {gpa:#x}+{n:#x} is outside guest RAM")

    def read(self, gpa: int, n: int) -> bytes:
        self._charge(gpa, n)
        return bytes(self.mem.read(gpa, n))

    def write(self, gpa: int, data: bytes) -> None:
        self._charge(gpa, len(data))
        self.mem.write(gpa, bytes(data))

    def u16(self, gpa: int) -> int:
        return int.from_bytes(self.read(gpa, 2), "little")

    def put_u16(self, gpa: int, value: int) -> None:
        self.write(gpa, (value & 0xFFFF).to_bytes(2, "little"))


@dataclass
class Queue:
    """One split virtqueue as the driver programmed it (gpas), and the device's place in it."""

    num: int                    # entries (a power of two)
    desc: int                   # descriptor table: num x {addr u64, len u32, flags u16, next u16}
    avail: int                  # {flags u16, idx u16, ring[num] u16}
    used: int                   # {flags u16, idx u16, ring[num] {id u32, len u32}}
    last_avail: int = 0         # the next avail entry the device will take (mod 2**16)
    used_idx: int = 0           # the next used entry the device will fill (mod 2**16)


def available(ram: GuestRam, q: Queue) -> list[int]:
    """The heads the driver made available since ``q.last_avail`` (consumed here)."""
    pending = (ram.u16(q.avail + 2) - q.last_avail) & 0xFFFF
    if pending > q.num:
        raise QueueError(f"avail.idx is {pending} entries ahead in a queue of {q.num}")
    heads = []
    for _ in range(pending):
        heads.append(ram.u16(q.avail + 4 + 2 * (q.last_avail % q.num)))
        q.last_avail = (q.last_avail + 1) & 0xFFFF
    return heads


def walk_chain(ram: GuestRam, q: Queue, head: int) -> list[Segment]:
    """The buffers of the chain starting at ``head``, in order.  At most ``q.num``
    descriptors: one more would have to visit some descriptor twice -- a loop."""
    segments, index = [], head
    for _ in range(q.num):
        if index >= q.num:
            raise QueueError(f"descriptor {index} is outside a table of {q.num}")
        addr, length, flags, nxt = DESC.unpack(ram.read(q.desc + 16 * index, 16))
        if flags & INDIRECT:
            raise QueueError("an indirect descriptor, which this device did not offer")
        segments.append(Segment(addr, length, bool(flags & WRITE)))
        if not flags & NEXT:
            return segments
        index = nxt
    raise QueueError(f"the chain from {head} is longer than the table: a loop")


def put_used(ram: GuestRam, q: Queue, head: int, written: int) -> None:
    """Publish a finished request: the entry first, then the index the driver polls."""
    ram.write(q.used + 4 + 8 * (q.used_idx % q.num), struct.pack("<II", head, written))
    q.used_idx = (q.used_idx + 1) & 0xFFFF
    ram.put_u16(q.used + 2, q.used_idx)


def block_request(ram: GuestRam, chain: list[Segment], disk) -> int:
    """Serve one virtio-blk request; return the bytes written into guest buffers.

    The chain must be: a readable header (type, reserved, sector), then buffers the device
    writes, then a writable status byte last.  Anything else is IOERR (or, with no place to
    put a status, nothing at all)."""
    status = chain[-1]
    if len(chain) < 2 or not status.writable or status.length < 1 \
            or not ram.contains(status.gpa, status.length):
        return 0                               # nowhere to say "error": write nothing
    code, written = _do_read(ram, chain[0], chain[1:-1], disk)
    ram.write(status.gpa, bytes([code]))
    return written + 1


def _do_read(ram: GuestRam, header: Segment, data: list[Segment], disk) -> tuple[int, int]:
    """(status, bytes written) of the request whose header and data buffers these are."""
    if header.writable or header.length < REQUEST_HEADER.size \
            or not ram.contains(header.gpa, REQUEST_HEADER.size):
        return IOERR, 0
    rtype, _, sector = REQUEST_HEADER.unpack(ram.read(header.gpa, REQUEST_HEADER.size))
    if rtype != VIRTIO_BLK_T_IN:
        return UNSUPP, 0
    if any(not s.writable or not ram.contains(s.gpa, s.length) for s in data):
        return IOERR, 0
    nbytes = sum(s.length for s in data)
    content = disk.read(sector, nbytes)
    if content is None:
        return IOERR, 0
    done = 0
    for s in data:
        ram.write(s.gpa, content[done:done + s.length])
        done += s.length
    return OK, done


def serve(ram: GuestRam, q: Queue, disk) -> None:
    """Everything a notify asks for: each available chain walked, done and published."""
    for head in available(ram, q):
        put_used(ram, q, head, block_request(ram, walk_chain(ram, q, head), disk))


class Disk:
    """What a served request may ask of the disk image: sectors, or None past its end."""

    def __init__(self, device: VirtioBlk):
        self.device = device
        self.capacity = device.capacity

    def read(self, sector: int, nbytes: int) -> bytes | None:
        """``nbytes`` (whole sectors) from ``sector`` on, or None if that is not on the disk."""
        if nbytes % SECTOR or sector < 0 or sector * SECTOR + nbytes > self.capacity * SECTOR:
            return None
        f = self.device._file
        f.seek(sector * SECTOR)
        return f.read(nbytes)


class HostedBlk(VirtioBlk):
    """virtio-blk whose queue is served by ``host(ram, queue, disk)`` (see :func:`serve`).

    The registers, the status handshake and the interrupt are the machine's device; only the
    ring work is the host function's.  Whatever it raises, the host survives: QueueError
    and BusError mean "the ring is broken" (DEVICE_NEEDS_RESET, as the spec says), anything
    else is a bug of the host function, recorded in ``failures`` and handled the same way."""

    def __init__(self, path, host=serve, read_only: bool = True):
        super().__init__(path, read_only=read_only)
        self.host = host
        self.failures: list[str] = []

    def _drain(self, *where) -> None:
        """The transport's drain step, ours: ``where`` ends with the queue's registers (the
        transport may pass the queue's index before it)."""
        vq = where[-1]
        if not vq.valid() or self.mem is None:
            raise QueueError("queue size is not a power of two within QueueNumMax")
        q = Queue(vq.num, vq.desc, vq.driver, vq.device, vq.last_avail, vq.used_idx)
        ram = GuestRam(getattr(self.mem, "mem", self.mem))    # GuestDma's GuestMemory
        before = q.used_idx
        try:
            self.host(ram, q, Disk(self))
        except (QueueError, BusError):
            raise
        except Hung as exc:
            self.failures.append(f"hung: {exc}")
            raise QueueError(str(exc)) from None
        except Exception as exc:   # noqa: BLE001 - a host bug must not take the VM down
            self.failures.append(f"{type(exc).__name__}: {exc}"[:200])
            raise QueueError("the host function failed") from None
        finally:
            vq.last_avail, vq.used_idx = q.last_avail & 0xFFFF, q.used_idx & 0xFFFF
        self.requests += (q.used_idx - before) & 0xFFFF
        flags = ram.u16(q.avail) if ram.contains(q.avail, 2) else 0
        if q.used_idx != before and not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            self.interrupt_status |= INT_USED_BUFFER


def hosted(vm, path, host=serve) -> HostedBlk:
    """Give ``vm`` the disk image ``path`` on virtio-blk served by ``host`` (before booting)."""
    dev = HostedBlk(str(path), host)
    dev.attach(GuestDma(vm.mem))
    vm.devices.virtio = dev
    return dev
