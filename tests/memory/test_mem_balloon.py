"""virtio-balloon: the device's registers and queues as a driver uses them (through the VM's
MMIO path), inflated frames going back to the host pool -- and Debian's Linux with its own
virtio_balloon driver inflating to a target set from Python and deflating again."""
from __future__ import annotations

import struct

import pytest

from vmlab.hv.memory import BALLOONED, PAGE, UNTOUCHED
from vmlab.machine import layout as L
from vmlab.machine.virtio_balloon import (BALLOON_BASE, BALLOON_IRQ, STAT, VIRTIO_ID_BALLOON)
from vmlab.machine.virtio_blk import (ACKNOWLEDGE, CONFIG, DEVICE_NEEDS_RESET, DRIVER,
                                      DRIVER_OK, FEATURES_OK, INT_CONFIG_CHANGE, INT_USED_BUFFER)

RING = L.RAM_BASE + 0x10_0000          # where the test driver keeps its rings
QSIZE = 8


class RingDriver:
    """The steps a virtio driver takes (§3.1.1, §2.7), done by hand through the VM's MMIO
    handler, so the device model and the hypervisor's routing are exercised together."""

    def __init__(self, vm):
        self.vm, self.avail = vm, [0, 0, 0]

    def w(self, off: int, value: int, size: int = 4) -> None:
        assert self.vm.devices.write(BALLOON_BASE + off, size, value)

    def r(self, off: int, size: int = 4) -> int:
        return self.vm.devices.read(BALLOON_BASE + off, size)

    def queue_base(self, q: int) -> int:
        return RING + q * 0x1000

    def probe(self, features: int) -> None:
        self.w(0x70, 0)
        self.w(0x70, ACKNOWLEDGE | DRIVER)
        self.w(0x24, 0)
        self.w(0x20, features & 0xFFFFFFFF)
        self.w(0x24, 1)
        self.w(0x20, features >> 32)
        self.w(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK)
        for q in range(3):
            base = self.queue_base(q)
            self.vm.mem.write(base, bytes(PAGE))    # the driver's own pages, zeroed
            self.w(0x30, q)
            self.w(0x38, QSIZE)
            self.w(0x80, base)
            self.w(0x90, base + 0x400)
            self.w(0xA0, base + 0x800)
            self.w(0x44, 1)
        self.w(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)

    def give(self, q: int, data: bytes, notify: bool = True) -> None:
        """One device-readable buffer on queue ``q``."""
        base, mem = self.queue_base(q), self.vm.mem
        slot = self.avail[q] % QSIZE
        buf = base + 0xC00
        mem.write(buf, data)
        mem.write(base + 16 * slot, struct.pack("<QIHH", buf, len(data), 0, 0))
        mem.write(base + 0x400 + 4 + 2 * slot, struct.pack("<H", slot))
        self.avail[q] += 1
        mem.write(base + 0x400, struct.pack("<HH", 0, self.avail[q]))
        if notify:
            self.w(0x50, q)

    def used_idx(self, q: int) -> int:
        return struct.unpack("<H", self.vm.mem.read(self.queue_base(q) + 0x802, 2))[0]


@pytest.fixture
def vm_balloon():
    from vmlab.hv.balloon import Balloon
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=16 << 20))
    vm = HostMemory(hv).create_vm(ram_size=8 << 20)
    return vm, Balloon(vm)


def pfns(*pages) -> bytes:
    return struct.pack(f"<{len(pages)}I", *[(L.RAM_BASE >> 12) + p for p in pages])


def test_registers_and_features(vm_balloon):
    vm, balloon = vm_balloon
    d = RingDriver(vm)
    assert (d.r(0), d.r(4), d.r(8)) == (0x74726976, 2, VIRTIO_ID_BALLOON)
    d.w(0x14, 0)
    low = d.r(0x10)
    d.w(0x14, 1)
    assert low == 0b110 and d.r(0x10) == 1           # STATS_VQ, DEFLATE_ON_OOM; VERSION_1
    d.probe(1 << 32 | 0b111)                         # MUST_TELL_HOST was not offered
    assert balloon.device.negotiated == {"stats_vq", "deflate_on_oom"}
    assert any(base <= BALLOON_BASE and BALLOON_BASE + 0x1000 <= base + size
               for base, size in vm.shadow.device_ranges)        # MMIO to the shadow pager


def test_target_is_a_config_change_and_actual_is_the_drivers(vm_balloon):
    vm, balloon = vm_balloon
    d = RingDriver(vm)
    d.probe(1 << 32 | 0b110)
    generation = d.r(0xFC)
    balloon.set_target(mib=2)
    assert d.r(CONFIG) == 512 and d.r(0xFC) != generation
    assert d.r(0x60) & INT_CONFIG_CHANGE and vm.devices.dev[L.P_PENDING] >> BALLOON_IRQ & 1
    d.w(0x64, INT_CONFIG_CHANGE)
    assert not vm.devices.dev[L.P_PENDING] >> BALLOON_IRQ & 1   # acknowledged: the wire drops
    d.w(CONFIG + 4, 300)
    assert balloon.actual == 300 and d.r(CONFIG + 4) == 300
    with pytest.raises(ValueError):
        balloon.set_target(vm.mem.size // PAGE + 1)


def test_inflate_gives_frames_back_and_deflate_returns_the_pages(vm_balloon):
    vm, balloon = vm_balloon
    mem, frames = vm.mem, vm.frames
    for p in range(40, 48):
        mem.write(L.RAM_BASE + p * PAGE, b"guest data")
    d = RingDriver(vm)
    d.probe(1 << 32 | 0b110)
    free = frames.free_count
    d.give(0, pfns(*range(40, 48)) + struct.pack("<I", 0x10))   # and a PFN outside RAM
    assert d.used_idx(0) == 1 and d.r(0x60) & INT_USED_BUFFER
    assert frames.free_count == free + 8 and balloon.counters["ignored"] == 1
    assert all(mem.state[p] == BALLOONED for p in range(40, 48))
    d.give(1, pfns(40, 41))
    assert mem.state[40] == mem.state[41] == UNTOUCHED and mem.state[42] == BALLOONED
    assert mem.read(L.RAM_BASE + 40 * PAGE, 10) == bytes(10)    # a fresh page, not old data
    assert balloon.counters == {"inflated": 8, "deflated": 2, "ignored": 1}


def test_stats_buffer_is_held_until_the_host_asks(vm_balloon):
    vm, balloon = vm_balloon
    d = RingDriver(vm)
    d.probe(1 << 32 | 0b110)
    assert not balloon.request_stats()                          # nothing offered yet
    d.give(2, STAT.pack(4, 111 << 20) + STAT.pack(5, 128 << 20) + STAT.pack(42, 7))
    assert balloon.stats == {"free_memory": 111 << 20, "total_memory": 128 << 20, "tag42": 7}
    assert d.used_idx(2) == 0                                   # held
    assert balloon.request_stats() and d.used_idx(2) == 1


def test_a_broken_ring_asks_for_reset(vm_balloon):
    vm, balloon = vm_balloon
    d = RingDriver(vm)
    d.probe(1 << 32 | 0b110)
    base = d.queue_base(0)
    vm.mem.write(base, struct.pack("<QIHH", RING, 16, 1, 0))     # a chain that loops on itself
    vm.mem.write(base + 0x400, struct.pack("<HHH", 0, 1, 0))
    d.w(0x50, 0)
    assert d.r(0x70) & DEVICE_NEEDS_RESET and d.r(0x60) & INT_CONFIG_CHANGE
    vm.mem.write(base + 0x400, struct.pack("<HH", 0, 5000))     # and an index far ahead
    d.w(0x50, 0)
    assert balloon.counters["inflated"] == 0
