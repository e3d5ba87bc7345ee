"""The values a hostile guest tries: corners of the 64-bit space, addresses of every device
and of RAM's edges, SBI extension ids, CSR numbers.  A random 64-bit number almost never
hits a boundary, so the generator draws from these pools most of the time."""
from __future__ import annotations

import numpy as np

from vmlab.hv import sbi
from vmlab.isa import CSRS
from vmlab.machine import layout as L
from vmlab.machine import virtio_blk as vb

MASK64 = (1 << 64) - 1


def _corners() -> list[int]:
    """0, 1, all ones, each power of two, one below and one above it, sign boundaries of
    every width (8/16/32/64 bits), and the Sv39 canonical-address edges."""
    out = {0, 1, MASK64, MASK64 - 1}
    for b in range(64):
        p = 1 << b
        out |= {p, p - 1, (p + 1) & MASK64, (-p) & MASK64}
    out |= {0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x0000_003F_FFFF_FFFF,
            0xFFFF_FFC0_0000_0000, 0x0000_0040_0000_0000, 0xFFFF_FFFF_8000_0000}
    return sorted(out)


CORNERS = _corners()

#: every device window's base and last byte (the guest's map is the virt board's)
DEVICE_BASES = [L.UART_BASE, L.CLINT_BASE, L.PLIC_BASE, L.PLIC_BASE + 0x20_0000,
                L.PLIC_BASE + 0x20_1000, L.VIRTIO_BASE, L.CLINT_BASE + 0x4000,
                L.CLINT_BASE + 0xBFF8]
DEVICE_EDGES = [a + L.UART_SIZE - 1 for a in (L.UART_BASE,)] + \
    [L.CLINT_BASE + L.CLINT_SIZE - 8, L.PLIC_BASE + L.PLIC_SIZE - 4,
     L.VIRTIO_BASE + L.VIRTIO_SIZE - 4, L.TEST_BASE + L.TEST_SIZE]

#: the virtio-mmio registers a driver writes, and the block request types (and a bad one)
VIRTIO_REGS = [vb.QUEUE_SEL, vb.QUEUE_NUM, vb.QUEUE_READY, vb.QUEUE_NOTIFY, vb.INTERRUPT_ACK,
               vb.STATUS, vb.QUEUE_DESC_LOW, vb.QUEUE_DESC_HIGH, vb.QUEUE_DRIVER_LOW,
               vb.QUEUE_DRIVER_HIGH, vb.QUEUE_DEVICE_LOW, vb.QUEUE_DEVICE_HIGH,
               vb.DRIVER_FEATURES, vb.DRIVER_FEATURES_SEL, vb.DEVICE_FEATURES_SEL, vb.SHM_SEL,
               vb.CONFIG, vb.CONFIG + 8, 0x0FC, 0x0F0]
BLK_TYPES = [0, 1, 4, 8, 11, 13, 0xFFFF_FFFF, 2]

SBI_EXTENSIONS = [sbi.EXT_BASE, sbi.EXT_TIME, sbi.EXT_IPI, sbi.EXT_RFENCE, sbi.EXT_HSM,
                  sbi.EXT_DBCN, sbi.LEGACY_SET_TIMER, sbi.LEGACY_PUTCHAR, sbi.LEGACY_GETCHAR,
                  3, 4, 5, 6, 7, 0x0A00_0000, 0x0900_0000, 0x4E41_434C]
#: the two calls that end the guest: drawn rarely, or every run would be short
SBI_ENDERS = [sbi.EXT_SRST, sbi.LEGACY_SHUTDOWN]

CSR_NUMBERS = [c.number for c in CSRS]
#: CSRs the skip handlers rely on; random writes to them are rarer, not forbidden
HANDLER_CSRS = {0x305, 0x340, 0x341, 0x105, 0x140, 0x141}
SPARE_CSRS = [n for n in CSR_NUMBERS if n not in HANDLER_CSRS]


def pick(rng: np.random.Generator, pool: list[int]) -> int:
    return int(pool[int(rng.integers(len(pool)))])


def any64(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 1 << 63)) << 1 | int(rng.integers(2))


def interesting(rng: np.random.Generator, ram_lo: int, ram_size: int) -> int:
    """One value a register or a store might hold: a corner, an address near a device or
    near either end of RAM, or a uniformly random 64-bit word."""
    roll = rng.random()
    if roll < 0.35:
        return pick(rng, CORNERS)
    if roll < 0.55:
        return pick(rng, DEVICE_BASES + DEVICE_EDGES) + int(rng.integers(-16, 256))
    if roll < 0.75:
        edge = pick(rng, [ram_lo, ram_lo + ram_size, ram_lo + ram_size // 2])
        return (edge + int(rng.integers(-4096, 4096))) & MASK64
    return any64(rng)
