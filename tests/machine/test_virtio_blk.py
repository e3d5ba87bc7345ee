"""The virtio block device, driven the way a guest driver drives it.

A fake RAM (a bytearray that raises BusError outside its range) stands in for the machine, and a
tiny driver below follows the spec's initialization sequence (§3.1) and builds requests in split
virtqueues (§2.7) — independently of the device code, from the spec's layouts.
"""
from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from vmlab.hv.devices import _GuestDma
from vmlab.hv.memory import FrameAllocator, GuestMemory
from hypothesis import given, settings, strategies as st

from vmlab.machine import virtio_blk as vb
from vmlab.machine.virtio_blk import BusError, VirtioBlk

RAM_BASE = 0x8000_0000
RAM_SIZE = 1 << 20
DESC, AVAIL, USED, BUFS = RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000, RAM_BASE + 0x10000
QSIZE = 16


class FakeRam:
    """Guest RAM as the bus presents it to devices: physical addresses, errors outside RAM."""

    def __init__(self) -> None:
        self.data = bytearray(RAM_SIZE)
        self.reads = 0

    def _offset(self, gpa: int, n: int) -> int:
        if gpa < RAM_BASE or gpa + n > RAM_BASE + RAM_SIZE or n < 0:
            raise BusError(f"{gpa:#x}+{n}")
        return gpa - RAM_BASE

    def read(self, gpa: int, n: int) -> bytes:
        self.reads += 1
        o = self._offset(gpa, n)
        return bytes(self.data[o:o + n])

    def write(self, gpa: int, data: bytes) -> None:
        o = self._offset(gpa, len(data))
        self.data[o:o + len(data)] = data


class Driver:
    """Just enough of a virtio-blk driver to exercise the device."""

    def __init__(self, dev: VirtioBlk, ram: FakeRam) -> None:
        self.dev, self.ram = dev, ram
        self.avail_idx = 0
        self.used_seen = 0
        self.next_buf = BUFS
        dev.attach(ram)

    # -- registers --
    def r(self, off: int) -> int:
        return self.dev.mmio_read(off, 4)

    def w(self, off: int, value: int) -> None:
        self.dev.mmio_write(off, 4, value)

    def device_features(self) -> int:
        self.w(vb.DEVICE_FEATURES_SEL, 0)
        low = self.r(vb.DEVICE_FEATURES)
        self.w(vb.DEVICE_FEATURES_SEL, 1)
        return low | self.r(vb.DEVICE_FEATURES) << 32

    def negotiate(self, features: int) -> bool:
        """Steps 1-6 of §3.1.1: reset, ACK, DRIVER, features, FEATURES_OK, re-read status."""
        self.w(vb.STATUS, 0)
        assert self.r(vb.STATUS) == 0
        self.w(vb.STATUS, vb.ACKNOWLEDGE)
        self.w(vb.STATUS, vb.ACKNOWLEDGE | vb.DRIVER)
        for sel in (0, 1):
            self.w(vb.DRIVER_FEATURES_SEL, sel)
            self.w(vb.DRIVER_FEATURES, features >> (32 * sel) & 0xFFFFFFFF)
        self.w(vb.STATUS, vb.ACKNOWLEDGE | vb.DRIVER | vb.FEATURES_OK)
        return bool(self.r(vb.STATUS) & vb.FEATURES_OK)

    def init(self, features: int | None = None, qsize: int = QSIZE) -> None:
        if features is None:
            features = 1 << vb.VIRTIO_F_VERSION_1 | 1 << vb.VIRTIO_F_INDIRECT_DESC
        assert self.negotiate(features)
        self.w(vb.QUEUE_SEL, 0)
        assert self.r(vb.QUEUE_NUM_MAX) >= qsize and self.r(vb.QUEUE_READY) == 0
        self.w(vb.QUEUE_NUM, qsize)
        for (lo, hi), gpa in (((vb.QUEUE_DESC_LOW, vb.QUEUE_DESC_HIGH), DESC),
                              ((vb.QUEUE_DRIVER_LOW, vb.QUEUE_DRIVER_HIGH), AVAIL),
                              ((vb.QUEUE_DEVICE_LOW, vb.QUEUE_DEVICE_HIGH), USED)):
            self.w(lo, gpa & 0xFFFFFFFF)
            self.w(hi, gpa >> 32)
        self.w(vb.QUEUE_READY, 1)
        self.w(vb.STATUS, vb.ACKNOWLEDGE | vb.DRIVER | vb.FEATURES_OK | vb.DRIVER_OK)
        self.qsize = qsize

    # -- guest memory --
    def alloc(self, data: bytes | int) -> int:
        """Place bytes (or reserve n zero bytes) in guest RAM; return the address."""
        blob = bytes(data) if isinstance(data, int) else data
        gpa = self.next_buf
        self.ram.write(gpa, blob)
        self.next_buf += (len(blob) + 15) & ~15
        return gpa

    def set_desc(self, table: int, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.ram.write(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def make_chain(self, first: int, bufs, table: int = DESC) -> None:
        """``bufs``: list of (gpa, len, writable); descriptors first, first+1, ..."""
        for k, (addr, length, writable) in enumerate(bufs):
            flags = (vb.VIRTQ_DESC_F_WRITE if writable else 0) | \
                    (vb.VIRTQ_DESC_F_NEXT if k + 1 < len(bufs) else 0)
            self.set_desc(table, first + k, addr, length, flags, first + k + 1)

    def offer(self, head: int, notify: bool = True, flags: int = 0) -> None:
        slot = self.avail_idx % self.qsize
        self.ram.write(AVAIL + 4 + 2 * slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.ram.write(AVAIL, struct.pack("<HH", flags, self.avail_idx))
        if notify:
            self.w(vb.QUEUE_NOTIFY, 0)

    def used(self) -> list[tuple[int, int]]:
        """New (head, len) entries the device has published since we last looked."""
        _, idx = struct.unpack("<HH", self.ram.read(USED, 4))
        out = []
        while self.used_seen != idx:
            slot = self.used_seen % self.qsize
            out.append(struct.unpack("<II", self.ram.read(USED + 4 + 8 * slot, 8)))
            self.used_seen = (self.used_seen + 1) & 0xFFFF
        return out

    # -- whole requests --
    def request(self, rtype: int, sector: int, data: bytes | int = 0, head: int = 0):
        """One request as three descriptors: header, data, status.  Returns (status, data, len)."""
        hdr = self.alloc(struct.pack("<IIQ", rtype, 0, sector))
        writable = rtype != vb.VIRTIO_BLK_T_OUT
        size = data if isinstance(data, int) else len(data)
        buf = self.alloc(data) if size else None
        status = self.alloc(b"\xff")
        bufs = [(hdr, 16, False)] + ([(buf, size, writable)] if size else []) + [(status, 1, True)]
        self.make_chain(head, bufs)
        self.offer(head)
        (entry,) = self.used()
        assert entry[0] == head
        got = self.ram.read(buf, size) if size else b""
        return self.ram.read(status, 1)[0], got, entry[1]


@pytest.fixture
def image(tmp_path):
    rng = random.Random(1)
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(64 * 512)))
    return path


class HvRam(_GuestDma):
    """A VM's guest-physical RAM (host frames behind a gpa map), as the hypervisor's virtio
    device reaches it: the same bad addresses must give the guest the same errors."""

    def __init__(self) -> None:
        frames = FrameAllocator(np.zeros(RAM_SIZE + (1 << 20), dtype=np.uint8), RAM_BASE)
        super().__init__(GuestMemory(frames, 0, RAM_BASE, RAM_SIZE))
        self.reads = 0

    def read(self, gpa: int, n: int) -> bytes:
        self.reads += 1
        return super().read(gpa, n)


@pytest.fixture(params=["bare", "hv"])
def drv(image, request):
    dev = VirtioBlk(str(image))
    d = Driver(dev, FakeRam() if request.param == "bare" else HvRam())
    d.init()
    yield d
    dev.close()


# ------------------------------------------------------------------------ registers

def test_identity_registers():
    d = Driver(VirtioBlk(None), FakeRam())
    assert d.r(vb.MAGIC_VALUE) == 0x74726976  # "virt"
    assert d.r(vb.VERSION) == 2 and d.r(vb.DEVICE_ID) == 2
    d.w(vb.QUEUE_SEL, 1)
    assert d.r(vb.QUEUE_NUM_MAX) == 0, "a block device has one request queue"
    d.w(vb.QUEUE_SEL, 0)
    assert d.r(vb.QUEUE_NUM_MAX) > 0


def test_feature_negotiation_is_as_lenient_as_qemus():
    """QEMU's virtio-mmio masks the driver's features to the offered ones and sets
    FEATURES_OK whatever they are (virtio_mmio_write ignores virtio_set_features' result):
    a minimal driver that writes only the low word and never VERSION_1 works there."""
    d = Driver(VirtioBlk(None), FakeRam())
    features = d.device_features()
    assert features >> vb.VIRTIO_F_VERSION_1 & 1
    low_word_only = features & 0xFFFFFFFF & ~(1 << vb.VIRTIO_F_INDIRECT_DESC)
    assert d.negotiate(low_word_only), "a low-word-only driver gets FEATURES_OK, as on QEMU"
    assert d.dev.driver_features == low_word_only
    assert d.negotiate(features | 1 << 40), "an unoffered bit is dropped, not refused"
    assert not d.dev.driver_features >> 40 & 1
    assert d.negotiate(1 << vb.VIRTIO_F_VERSION_1)


def test_features_freeze_after_features_ok():
    d = Driver(VirtioBlk(None), FakeRam())
    assert d.negotiate(1 << vb.VIRTIO_F_VERSION_1)
    d.w(vb.DRIVER_FEATURES_SEL, 0)
    d.w(vb.DRIVER_FEATURES, 1 << vb.VIRTIO_BLK_F_FLUSH)
    assert d.dev.driver_features == 1 << vb.VIRTIO_F_VERSION_1


def test_read_only_is_advertised(image):
    d = Driver(VirtioBlk(str(image), read_only=True), FakeRam())
    assert d.device_features() >> vb.VIRTIO_BLK_F_RO & 1
    d2 = Driver(VirtioBlk(str(image)), FakeRam())
    assert not d2.device_features() >> vb.VIRTIO_BLK_F_RO & 1


def test_config_space(image):
    dev = VirtioBlk(str(image))
    capacity = image.stat().st_size // 512
    assert dev.mmio_read(0x100, 4) | dev.mmio_read(0x104, 4) << 32 == capacity
    assert dev.mmio_read(0x100, 8) == capacity
    assert sum(dev.mmio_read(0x100 + i, 1) << 8 * i for i in range(8)) == capacity
    assert dev.mmio_read(0x100 + 20, 4) == 512  # blk_size
    assert dev.mmio_read(0x100 + 12, 4) >= 1    # seg_max
    assert VirtioBlk(None).mmio_read(0x100, 8) == 0


def test_reset_forgets_the_queue(drv):
    drv.w(vb.STATUS, 0)
    assert drv.r(vb.STATUS) == 0 and drv.r(vb.QUEUE_READY) == 0
    assert drv.dev.queue.num == 0


# ------------------------------------------------------------------------- requests

def test_read_sectors(drv, image):
    status, data, length = drv.request(vb.VIRTIO_BLK_T_IN, 3, 1024)
    assert status == vb.VIRTIO_BLK_S_OK
    assert data == image.read_bytes()[3 * 512:5 * 512]
    assert length == 1024 + 1, "used length counts data and the status byte"


def test_interrupt_raised_and_acknowledged(drv):
    drv.request(vb.VIRTIO_BLK_T_IN, 0, 512)
    assert drv.dev.irq_level and drv.r(vb.INTERRUPT_STATUS) & vb.INT_USED_BUFFER
    drv.w(vb.INTERRUPT_ACK, vb.INT_USED_BUFFER)
    assert not drv.dev.irq_level


def test_no_interrupt_flag_suppresses_interrupt(drv):
    hdr = drv.alloc(struct.pack("<IIQ", vb.VIRTIO_BLK_T_FLUSH, 0, 0))
    st_ = drv.alloc(1)
    drv.make_chain(0, [(hdr, 16, False), (st_, 1, True)])
    drv.offer(0, flags=vb.VIRTQ_AVAIL_F_NO_INTERRUPT)
    assert drv.used() and not drv.dev.irq_level


def test_write_then_read_back(drv, image):
    payload = bytes(range(256)) * 4
    status, _, length = drv.request(vb.VIRTIO_BLK_T_OUT, 10, payload)
    assert status == vb.VIRTIO_BLK_S_OK and length == 1
    drv.request(vb.VIRTIO_BLK_T_FLUSH, 0)
    assert image.read_bytes()[10 * 512:12 * 512] == payload
    assert drv.request(vb.VIRTIO_BLK_T_IN, 10, 1024)[1] == payload


def test_framing_is_free(drv, image):
    """Header, data and status may be cut into descriptors any way the driver likes (§2.6.4)."""
    header = struct.pack("<IIQ", vb.VIRTIO_BLK_T_IN, 0, 1)
    hdr = drv.alloc(header)
    pieces = [drv.alloc(100), drv.alloc(412), drv.alloc(513)]  # last one also holds status
    drv.make_chain(0, [(hdr, 8, False), (hdr + 8, 8, False)] +
                   [(p, n, True) for p, n in zip(pieces, (100, 412, 513))])
    drv.offer(0)
    assert drv.used() == [(0, 1025)]
    got = drv.ram.read(pieces[0], 100) + drv.ram.read(pieces[1], 412) + drv.ram.read(pieces[2], 512)
    assert got == image.read_bytes()[512:1536]
    assert drv.ram.read(pieces[2] + 512, 1) == b"\0"


def test_indirect_descriptors(drv, image):
    table = drv.alloc(16 * 3)
    hdr = drv.alloc(struct.pack("<IIQ", vb.VIRTIO_BLK_T_IN, 0, 7))
    buf, st_ = drv.alloc(512), drv.alloc(1)
    drv.make_chain(0, [(hdr, 16, False), (buf, 512, True), (st_, 1, True)], table=table)
    drv.set_desc(DESC, 5, table, 48, vb.VIRTQ_DESC_F_INDIRECT, 0)
    drv.offer(5)
    assert drv.used() == [(5, 513)]
    assert drv.ram.read(st_, 1) == b"\0"
    assert drv.ram.read(buf, 512) == image.read_bytes()[7 * 512:8 * 512]


def test_many_requests_wrap_the_rings(drv, image):
    disk = image.read_bytes()
    for i in range(3 * QSIZE + 5):
        head = (3 * i) % (QSIZE - 2)  # header, data, status: three descriptors from head
        status, data, _ = drv.request(vb.VIRTIO_BLK_T_IN, i % 64, 512, head=head)
        assert status == 0 and data == disk[(i % 64) * 512:(i % 64 + 1) * 512]
    assert drv.dev.requests == 3 * QSIZE + 5


def test_batch_in_one_notify(drv):
    heads = []
    for k in range(4):
        hdr = drv.alloc(struct.pack("<IIQ", vb.VIRTIO_BLK_T_IN, 0, k))
        drv.make_chain(3 * k, [(hdr, 16, False), (drv.alloc(512), 512, True),
                               (drv.alloc(1), 1, True)])
        drv.offer(3 * k, notify=False)
        heads.append(3 * k)
    drv.w(vb.QUEUE_NOTIFY, 0)
    assert [h for h, _ in drv.used()] == heads


def test_get_id(drv):
    status, data, length = drv.request(vb.VIRTIO_BLK_T_GET_ID, 0, 20)
    assert status == vb.VIRTIO_BLK_S_OK and data.startswith(b"vmlab-disk.img")
    assert length == 21


@pytest.mark.parametrize("sector,size", [(64, 512), (63, 1024), (2**63, 512), (0, 100)])
def test_out_of_range_or_partial_sectors_fail(drv, sector, size):
    assert drv.request(vb.VIRTIO_BLK_T_IN, sector, size)[0] == vb.VIRTIO_BLK_S_IOERR


def test_unknown_request_type_is_unsupported(drv):
    assert drv.request(0x1234, 0, 512)[0] == vb.VIRTIO_BLK_S_UNSUPP


def test_write_to_read_only_disk_fails(image):
    before = image.read_bytes()
    dev = VirtioBlk(str(image), read_only=True)
    d = Driver(dev, FakeRam())
    d.init(1 << vb.VIRTIO_F_VERSION_1 | 1 << vb.VIRTIO_BLK_F_RO)
    assert d.request(vb.VIRTIO_BLK_T_OUT, 0, b"x" * 512)[0] == vb.VIRTIO_BLK_S_IOERR
    assert d.request(vb.VIRTIO_BLK_T_IN, 0, 512)[0] == vb.VIRTIO_BLK_S_OK
    dev.close()
    assert image.read_bytes() == before


def test_empty_disk_has_no_sectors():
    d = Driver(VirtioBlk(None), FakeRam())
    d.init()
    assert d.request(vb.VIRTIO_BLK_T_IN, 0, 512)[0] == vb.VIRTIO_BLK_S_IOERR
    assert d.request(vb.VIRTIO_BLK_T_OUT, 0, b"\0" * 512)[0] == vb.VIRTIO_BLK_S_IOERR


def test_buffer_outside_ram_fails_only_that_request(drv):
    hdr = drv.alloc(struct.pack("<IIQ", vb.VIRTIO_BLK_T_IN, 0, 0))
    st_ = drv.alloc(b"\xff")
    drv.make_chain(0, [(hdr, 16, False), (0x1000, 512, True), (st_, 1, True)])
    drv.offer(0)
    assert drv.used() == [(0, 1)]
    assert drv.ram.read(st_, 1)[0] == vb.VIRTIO_BLK_S_IOERR
    assert drv.request(vb.VIRTIO_BLK_T_IN, 0, 512, head=4)[0] == vb.VIRTIO_BLK_S_OK


def test_notify_before_driver_ok_is_ignored(image):
    d = Driver(VirtioBlk(str(image)), FakeRam())
    d.init()
    d.w(vb.STATUS, 0)  # reset
    d.qsize = QSIZE
    d.offer(0)
    assert not d.dev.irq_level and d.dev.requests == 0


# ------------------------------------------------------------------- broken rings

def needs_reset(d: Driver) -> bool:
    return bool(d.r(vb.STATUS) & vb.DEVICE_NEEDS_RESET)


def test_descriptor_loop_needs_reset(drv):
    drv.set_desc(DESC, 0, drv.alloc(16), 16, vb.VIRTQ_DESC_F_NEXT, 1)
    drv.set_desc(DESC, 1, drv.alloc(16), 16, vb.VIRTQ_DESC_F_NEXT, 0)
    drv.offer(0)
    assert needs_reset(drv) and drv.used() == []
    assert drv.r(vb.INTERRUPT_STATUS) & vb.INT_CONFIG_CHANGE
    assert drv.ram.reads < 10 * QSIZE, "work per notify is bounded"


def test_head_outside_queue_needs_reset(drv):
    drv.offer(QSIZE)
    assert needs_reset(drv)


def test_next_outside_queue_needs_reset(drv):
    drv.set_desc(DESC, 0, drv.alloc(16), 16, vb.VIRTQ_DESC_F_NEXT, 999)
    drv.offer(0)
    assert needs_reset(drv)


def test_nested_indirect_needs_reset(drv):
    inner = drv.alloc(16)
    drv.set_desc(inner, 0, inner, 16, vb.VIRTQ_DESC_F_INDIRECT, 0)
    drv.set_desc(DESC, 0, inner, 16, vb.VIRTQ_DESC_F_INDIRECT, 0)
    drv.offer(0)
    assert needs_reset(drv)


def test_ring_outside_ram_needs_reset(drv):
    drv.dev.queue.desc = 0x10  # as if programmed to a hole in the address space
    drv.make_chain(0, [(drv.alloc(16), 16, False), (drv.alloc(1), 1, True)])
    drv.offer(0)
    assert needs_reset(drv)


def test_available_index_running_ahead_needs_reset(drv):
    drv.ram.write(AVAIL, struct.pack("<HH", 0, QSIZE + 1))
    drv.w(vb.QUEUE_NOTIFY, 0)
    assert needs_reset(drv)


def test_bad_queue_size_needs_reset(image):
    d = Driver(VirtioBlk(str(image)), FakeRam())
    d.init(qsize=12)  # not a power of two
    d.offer(0)
    assert needs_reset(d)


def test_device_recovers_after_reset(drv, image):
    drv.offer(QSIZE)
    assert needs_reset(drv)
    drv2 = Driver(drv.dev, drv.ram)
    drv2.init()
    assert not needs_reset(drv2)
    assert drv2.request(vb.VIRTIO_BLK_T_IN, 2, 512)[1] == image.read_bytes()[1024:1536]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(desc=st.binary(min_size=16 * QSIZE, max_size=16 * QSIZE),
       avail=st.binary(min_size=4 + 2 * QSIZE, max_size=4 + 2 * QSIZE),
       near=st.lists(st.integers(0, 0x3FFF), min_size=QSIZE, max_size=QSIZE))
def test_garbage_rings_never_crash(tmp_path_factory, desc, avail, near):
    """Random tables (half the addresses aimed into RAM) end in a defined state, quickly."""
    path = tmp_path_factory.mktemp("g") / "d.img"
    path.write_bytes(bytes(8 * 512))
    dev = VirtioBlk(str(path))
    d = Driver(dev, FakeRam())
    d.init()
    table = bytearray(desc)
    for i, off in enumerate(near):
        if off & 1:  # point this descriptor's buffer at real RAM
            struct.pack_into("<Q", table, 16 * i, BUFS + off)
    d.ram.write(DESC, bytes(table))
    d.ram.write(AVAIL, avail)
    d.w(vb.QUEUE_NOTIFY, 0)
    dev.close()
    used = struct.unpack("<H", d.ram.read(USED + 2, 2))[0]
    assert used <= QSIZE
    assert needs_reset(d) or used == struct.unpack("<H", avail[2:4])[0]
    assert d.ram.reads < 40 * QSIZE


def test_pickled_device_carries_on(drv, image):
    """A machine snapshot pickles the device: the copy reopens the disk and keeps its rings."""
    import pickle
    drv.request(vb.VIRTIO_BLK_T_IN, 0, 512)
    copy = pickle.loads(pickle.dumps(drv.dev))
    copy.attach(drv.ram)
    drv.dev = copy
    status, data, _ = drv.request(vb.VIRTIO_BLK_T_IN, 5, 512, head=3)
    assert status == vb.VIRTIO_BLK_S_OK and data == image.read_bytes()[5 * 512:6 * 512]
    copy.close()


@pytest.mark.slow
def test_uboot_reads_and_writes_the_disk(opensbi_fw_jump, uboot_smode, image):
    """A real driver: U-Boot's virtio-blk, on the whole machine, behind OpenSBI."""
    from vmlab.machine import Machine
    disk = image.read_bytes()
    m = Machine(ram_size=128 << 20, harts=1, drive=str(image))
    m.boot_virt(bios=str(opensbi_fw_jump), kernel=str(uboot_smode))
    assert m.run(instructions=300_000_000, until_output="Hit any key").reason == "output"
    m.send_input(" ")
    commands = ["virtio scan", "virtio info", "virtio read 0x84000000 3 1", "md.b 0x84000000 8",
                "mw.b 0x84000000 0x5a 0x200", "virtio write 0x84000000 9 1"]
    for command in ["", *commands]:
        if command:
            m.send_input(command + "\r")
        assert m.run(instructions=300_000_000, until_output="=>").reason == "output"
    out = m.console_output
    assert "Capacity: 32.0 KB" in out or "(64 x 512)" in out, out[-800:]
    first = " ".join(f"{b:02x}" for b in disk[3 * 512:3 * 512 + 8])
    assert f"84000000: {first}" in out
    m.virtio.close()
    assert image.read_bytes()[9 * 512:10 * 512] == b"Z" * 512
    assert image.read_bytes()[:9 * 512] == disk[:9 * 512]
