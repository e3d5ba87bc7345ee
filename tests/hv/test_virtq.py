"""The host side of a virtqueue (vmlab.hv.virtq) and the register-by-register disk
(vmlab.hv.piodisk), each against a real guest driver: the block-I/O guest prints the checksum
the disk image says, whichever device serves it, and a hostile ring never reaches outside
the request's buffers."""
from __future__ import annotations

import random

import pytest

from vmlab.grading import lab10_run as R
from vmlab.guests import blockio
from vmlab.hv import piodisk, virtq


@pytest.mark.parametrize("kind", piodisk.KINDS)
def test_blockio_guest_reads_the_disk_through_either_device(kind):
    vm, counts = R.run_blockio(kind, 5, 7)
    assert vm.console_output == blockio.checksum(R.disk_image(), 5, 7)
    per_sector = 515 if kind == "pio" else 0.5      # LSR+cmd+status+512 data / a notify per 2
    _, none = R.run_blockio(kind, 0, 7)
    assert counts["mmio"] - none["mmio"] == 5 * per_sector + (0.5 if kind == "virtio" else 0)


def test_the_reference_host_side_serves_a_real_driver():
    report = R.drive_serve(virtq.serve, {"guest": {"sectors": 6, "first": 11}})
    assert report["console"] == blockio.checksum(R.disk_image(), 6, 11)
    assert report["halted"] and not report["needs_reset"] and report["failures"] == 0


def test_teachos_virtio_driver_reads_through_the_reference_host_side():
    """A driver written apart from the host side (teachos's virtio.s) gets its sector."""
    report = R.drive_serve(virtq.serve, {"teachos": True})
    assert report["halted"] and not report["needs_reset"] and report["failures"] == 0
    assert "pid 3: the disk says: " + R.DISK_GREETING.decode().strip() in report["disk_lines"]


def _expect(kind):
    if kind in ("loop", "next_outside", "head_outside", "avail_ahead", "indirect"):
        return {"needs_reset": True, "published": False}
    if kind == "status_read_only":
        return {"needs_reset": False, "published": True, "used_len": 0, "status": 0xEE}
    return {"needs_reset": False, "published": True, "used_len": 1, "status": virtq.IOERR}


@pytest.mark.parametrize("kind", R.HOSTILE)
def test_hostile_requests_are_refused_and_touch_nothing(kind):
    rep = R.drive_serve(virtq.serve, {"hostile": kind, "seed": 3})
    assert {k: rep[k] for k in _expect(kind)} == _expect(kind)
    assert not rep["data_written"] and not rep["stray_writes"] and not rep["host_memory_changed"]
    assert rep["crashed"] == 0


def _trusting_serve(ram, q, disk):
    """A host side that believes the driver: no writability or range checks."""
    for head in virtq.available(ram, q):
        chain = virtq.walk_chain(ram, q, head)
        _, _, sector = virtq.REQUEST_HEADER.unpack(ram.read(chain[0].gpa, 16))
        data = chain[1:-1]
        content = disk.read(sector, sum(s.length for s in data)) or b""
        for s in data:
            ram.write(s.gpa, content[:s.length])
        ram.write(chain[-1].gpa, b"\0")
        virtq.put_used(ram, q, head, sum(s.length for s in data) + 1)


def test_a_trusting_host_side_is_caught_but_cannot_reach_the_host():
    ro = R.drive_serve(_trusting_serve, {"hostile": "data_read_only", "seed": 1})
    assert ro["data_written"] and ro["status"] == 0          # wrote into a read-only buffer
    out = R.drive_serve(_trusting_serve, {"hostile": "data_outside_ram", "seed": 1})
    assert out["needs_reset"] and not out["host_memory_changed"]   # GuestRam refused it


def test_a_walker_without_a_bound_is_stopped():
    def forever(ram, q, head):
        while True:
            ram.read(q.desc, 16)
    got = R.drive_walk(forever, {"num": 4, "descs": [[0, 0, 0, 0]] * 4, "head": 0})
    assert got.startswith("hung")


def test_guest_ram_refuses_wrapping_and_outside_ranges():
    ram = virtq.GuestRam(R.FlatRam(0x8000_0000, 4096))
    assert ram.contains(0x8000_0000, 4096) and not ram.contains(0x8000_0001, 4096)
    assert not ram.contains((1 << 64) - 16, 32) and not ram.contains(0x8000_0000, -1)
    with pytest.raises(virtq.BusError):
        ram.write(0x7FFF_FFFF, b"x")


def test_pio_disk_registers():
    import tempfile
    path = tempfile.mktemp()
    image = bytes(random.Random(1).randrange(256) for _ in range(4 * 512))
    open(path, "wb").write(image)
    d = piodisk.PioDisk(path)
    d.mmio_write(piodisk.SECTOR_REG, 4, 2)
    d.mmio_write(piodisk.COMMAND, 4, piodisk.CMD_READ)
    assert d.mmio_read(piodisk.STATUS, 4) == piodisk.ST_DRQ
    assert bytes(d.mmio_read(piodisk.DATA, 1) for _ in range(512)) == image[1024:1536]
    assert d.mmio_read(piodisk.STATUS, 4) == 0 and d.mmio_read(piodisk.DATA, 1) == 0xFF
    d.mmio_write(piodisk.SECTOR_REG, 4, 4)                    # past the end
    d.mmio_write(piodisk.COMMAND, 4, piodisk.CMD_READ)
    assert d.mmio_read(piodisk.STATUS, 4) == piodisk.ST_ERR
    d.mmio_write(piodisk.SECTOR_REG, 4, 0)
    d.mmio_write(piodisk.COMMAND, 4, piodisk.CMD_WRITE)       # a read-only disk
    assert d.mmio_read(piodisk.STATUS, 4) == piodisk.ST_ERR
    d.close()
    with pytest.raises(ValueError):
        piodisk.attach(None, path, "scsi")


def test_the_guest_and_the_device_agree_on_the_address():
    from vmlab.guests import source
    assert f"PIO0,              {piodisk.PIO_BASE:#x}" in source("blockio")
