"""The board's physical memory map: where each device and RAM sit (QEMU's ``virt`` addresses).

Software built for QEMU's ``virt`` machine finds its devices at fixed physical addresses
(and in the device tree, which vmlab.machine.fdt writes from these numbers).  Only the
devices vmlab models are here; QEMU's flash, PCIe and RTC are left out, so nothing probes
them::

    0x0000_0000 +--------------------------+
                |  (unmapped)              |  an access faults
    0x0010_0000 +--------------------------+
                |  sifive_test  (4 KiB)    |  write 0x5555 / 0x3333: power off / reset
    0x0010_1000 +--------------------------+
                |  (unmapped)              |
    0x0200_0000 +--------------------------+
                |  CLINT        (64 KiB)   |  msip, mtimecmp per hart; mtime
    0x0201_0000 +--------------------------+
                |  (unmapped)              |
    0x0C00_0000 +--------------------------+
                |  PLIC         (6 MiB)    |  priorities, pending, enables, claim/complete
    0x0C60_0000 +--------------------------+
                |  (unmapped)              |
    0x1000_0000 +--------------------------+
                |  UART 16550   (256 B)    |  console; interrupt source 10
    0x1000_1000 +--------------------------+
                |  virtio-mmio slot 0      |  block device; interrupt source 1
    0x1000_2000 +--------------------------+
                |  virtio-mmio slot 1      |  balloon; interrupt source 2
    0x1000_3000 +--------------------------+
                |  ... slots 2..7          |  slot n at 0x1000_1000 + n * 4 KiB,
    0x1000_9000 +--------------------------+  interrupt source 1 + n (as QEMU's virt)
                |  (unmapped)              |
    0x8000_0000 +--------------------------+  RAM_BASE
                |  RAM (--ram, default     |  firmware or kernel at the bottom, the
                |  128 MiB)                |  device tree near the top
                +--------------------------+  RAM_BASE + ram size
"""
from __future__ import annotations

#: (base, size) of each device's registers
TEST_BASE, TEST_SIZE = 0x10_0000, 0x1000
CLINT_BASE, CLINT_SIZE = 0x200_0000, 0x1_0000
PLIC_BASE, PLIC_SIZE = 0xC00_0000, 0x60_0000
UART_BASE, UART_SIZE = 0x1000_0000, 0x100
VIRTIO_BASE, VIRTIO_SIZE = 0x1000_1000, 0x1000     # slot 0; VIRTIO_SIZE is one slot's window
#: QEMU's virt has eight virtio-mmio slots, one after the other; the compiled bus hands
#: every access to any of them to Python, which finds the device plugged in (if any)
VIRTIO_SLOTS = 8
VIRTIO_WINDOW = VIRTIO_SLOTS * VIRTIO_SIZE
RAM_BASE = 0x8000_0000

#: PLIC interrupt sources (wires) of the devices
UART_IRQ, VIRTIO_IRQ = 10, 1   # virtio slot n drives source VIRTIO_IRQ + n
PLIC_SOURCES = 32          # source 0 means "none"; 1..31 are wires


def virtio_slot(n: int) -> tuple[int, int]:
    """(base, PLIC source) of virtio-mmio slot ``n``."""
    if not 0 <= n < VIRTIO_SLOTS:
        raise ValueError(f"virtio-mmio slots are 0..{VIRTIO_SLOTS - 1}, not {n}")
    return VIRTIO_BASE + n * VIRTIO_SIZE, VIRTIO_IRQ + n
