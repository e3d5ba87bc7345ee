"""A register-by-register disk: the emulated device virtio was invented to replace.

Old disk controllers (the PC's IDE in "PIO" mode, floppy controllers, the 16550 for a
serial line) move data through a *data register*: the driver names a sector, issues a
command, then reads the sector out of one register, a piece at a time.  On real hardware
each read is a bus cycle.  Under trap-and-emulate each one is an **exit**: the guest's
load faults, the hypervisor decodes it, asks the device model, writes the register and
steps the pc.  This device is the simplest such disk -- one *byte* per read -- so that the
cost is plain to count::

    PIO_BASE + 0x00  DATA     (byte, r/w)  the next byte of the sector buffer
    PIO_BASE + 0x04  SECTOR   (32-bit, w)  which 512-byte sector the next command means
    PIO_BASE + 0x08  COMMAND  (32-bit, w)  1 = read the sector into the buffer,
                                           2 = write the buffer to the sector
    PIO_BASE + 0x0c  STATUS   (32-bit, r)  bit 0 DRQ: the buffer has bytes to read or
                                           room to write; bit 7 ERR: the last command failed

Reading one sector costs a driver 2 stores + 512 loads: 514 exits, where virtio (the same
job, :mod:`vmlab.machine.virtio_blk`) costs one -- the notify.  A VM gets this disk with
:func:`attach` (a per-VM switch beside virtio: ``attach(vm, path, kind="pio")``); the guest
:mod:`vmlab.guests.blockio` drives either.
"""
from __future__ import annotations

import os

from vmlab.hv.devices import GuestDma
from vmlab.machine.virtio_blk import SECTOR, VirtioBlk

#: just past QEMU's eight virtio-mmio slots (0x1000_1000..0x1000_9000): free on the virt board
PIO_BASE, PIO_SIZE, PIO_IRQ = 0x1000_9000, 0x1000, 9
DATA, SECTOR_REG, COMMAND, STATUS = 0x00, 0x04, 0x08, 0x0C
CMD_READ, CMD_WRITE = 1, 2
ST_DRQ, ST_ERR = 0x01, 0x80
KINDS = ("virtio", "pio")


class PioDisk:
    """The device model: a 512-byte buffer, a position in it, and a disk image file."""

    def __init__(self, path: str | None, read_only: bool = True):
        self.path, self.read_only = path, read_only
        self._file = open(path, "rb" if read_only else "r+b") if path else None
        self.capacity = os.fstat(self._file.fileno()).st_size // SECTOR if path else 0
        self.buffer, self.pos, self.sector = bytearray(SECTOR), SECTOR, 0
        self.writing, self.error = False, False
        self.accesses = 0          # every register access: one exit each under a hypervisor

    # what a virtio-mmio slot offers, so VirtualDevices.add_slot can plug us in
    def attach(self, mem) -> None:
        """No DMA: the driver moves every byte itself (that is the point)."""

    @staticmethod
    def signals_after_write(offset: int) -> bool:
        return False               # we poll; no interrupts

    irq_level = False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- registers ---------------------------------------------------------------------------
    def mmio_read(self, offset: int, size: int) -> int:
        self.accesses += 1
        if offset == DATA:
            return self._next_byte()
        if offset == STATUS:
            return (ST_DRQ if self.pos < SECTOR else 0) | (ST_ERR if self.error else 0)
        if offset == SECTOR_REG:
            return self.sector
        return 0

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        self.accesses += 1
        if offset == DATA:
            self._put_byte(value & 0xFF)
        elif offset == SECTOR_REG:
            self.sector = value & 0xFFFFFFFF
        elif offset == COMMAND:
            self._command(value & 0xFFFFFFFF)

    # --- the sector buffer ---------------------------------------------------------------------
    def _next_byte(self) -> int:
        if self.writing or self.pos >= SECTOR:
            return 0xFF            # nothing to read: a floating bus
        b = self.buffer[self.pos]
        self.pos += 1
        return b

    def _put_byte(self, b: int) -> None:
        if not self.writing or self.pos >= SECTOR:
            return
        self.buffer[self.pos] = b
        self.pos += 1
        if self.pos == SECTOR:     # the last byte: the sector goes to the disk
            self._file.seek(self.sector * SECTOR)
            self._file.write(self.buffer)
            self._file.flush()
            self.writing = False

    def _command(self, cmd: int) -> None:
        ok = self._file is not None and self.sector < self.capacity
        self.error = not ok or cmd not in (CMD_READ, CMD_WRITE) or (
            cmd == CMD_WRITE and self.read_only)
        self.pos, self.writing = SECTOR, False
        if self.error:
            return
        self.pos = 0
        if cmd == CMD_READ:
            self._file.seek(self.sector * SECTOR)
            self.buffer[:] = self._file.read(SECTOR).ljust(SECTOR, b"\0")
        else:
            self.writing = True


def attach(vm, path: str, kind: str = "pio", read_only: bool = True):
    """Give ``vm`` the disk image at ``path`` as a ``kind`` device ("virtio" or "pio"), the
    per-VM switch between paravirtual and register-by-register I/O for the same job.
    Returns the device model."""
    if kind not in KINDS:
        raise ValueError(f"a disk is one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "virtio":
        dev = VirtioBlk(str(path), read_only=read_only)
        dev.attach(GuestDma(vm.mem))
        vm.devices.virtio = dev
        return dev
    dev = PioDisk(str(path), read_only=read_only)
    vm.devices.add_slot(PIO_BASE, PIO_SIZE, PIO_IRQ, dev, lambda tree: None)
    shadow = vm.shadow
    if (PIO_BASE, PIO_SIZE) not in shadow.device_ranges:
        shadow.device_ranges = tuple(shadow.device_ranges) + ((PIO_BASE, PIO_SIZE),)
    return dev
