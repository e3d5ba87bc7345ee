"""Seed -> a random hostile guest: one flat image, the registers and CSRs to start it with.

The image (offsets from its load address ``base``)::

    0x0000  M-mode skip handler   (mtvec)       0x4000  Sv39 level-0 table
    0x0040  S-mode skip handler   (stvec)       0x5000  virtio descriptors, avail, used rings
    0x1000  the value table (x31 points in)     0x6000  virtio-blk request headers
    0x2000  Sv39 root table                     0x8000  the code: random words and snippets
    0x3000  Sv39 level-1 table

The code mixes raw random words (32- and 16-bit) with snippets that hit what raw words
rarely reach: loads and stores to every device, a whole virtio queue set-up pointing at
random rings, csrrw/csrrs/csrrc of corner values into real CSR numbers, and SBI calls.
Values come from the table through ``ld rd, k(x31)``, so no ``li`` sequence is needed.
Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed, the same guest.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from vmlab.fuzz import encode as E
from vmlab.fuzz import values as V
from vmlab.isa.paging import SATP_MODE_SHIFT, SATP_MODE_SV39
from vmlab.machine import layout as L
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

HANDLER_M, HANDLER_S, TABLE, PT_ROOT, PT_L1, PT_L0 = 0x0, 0x40, 0x1000, 0x2000, 0x3000, 0x4000
RINGS, BUFS, CODE = 0x5000, 0x6000, 0x8000
IMAGE_SIZE_MAX = 0x8000 + 4 * 65536
TABLE_REG, VAL_REG, ADDR_REG = 31, 28, 29
MODES = {"M": L.PRIV_M, "S": L.PRIV_S, "U": L.PRIV_U}
SATP_SV39 = SATP_MODE_SV39 << SATP_MODE_SHIFT


@dataclass
class Guest:
    seed: int
    mode: str                     # "M", "S" or "U": the privilege the code starts in
    paging: bool                  # Sv39 on (S and U only)
    base: int                     # physical (guest-physical) load address
    image: bytes
    regs: dict[int, int]          # x1..x31
    csrs: dict[int, int]          # CSR number -> value, written before the start
    words: int                    # instruction slots in the code

    @property
    def entry(self) -> int:
        return self.base + CODE


@dataclass
class _Builder:
    rng: np.random.Generator
    base: int
    ram_size: int
    table: list[int] = field(default_factory=list)
    code: list[int] = field(default_factory=list)     # 32-bit words (16-bit pairs packed)

    def const(self, value: int) -> int:
        """The x31-relative offset of ``value`` in the table (at most 512 entries)."""
        if len(self.table) >= 512:
            return (int(self.rng.integers(512)) * 8) - 2048
        self.table.append(value & V.MASK64)
        return (len(self.table) - 1) * 8 - 2048

    def value(self) -> int:
        return V.interesting(self.rng, L.RAM_BASE, self.ram_size)

    def put(self, rd: int, value: int) -> None:
        self.code.append(E.ld(rd, TABLE_REG, self.const(value)))


# --------------------------------------------------------------------------- snippets
def device_access(b: _Builder) -> None:
    """A load or store of every width at a device register (or just past a window)."""
    rng = b.rng
    b.put(ADDR_REG, V.pick(rng, V.DEVICE_BASES + V.DEVICE_EDGES))
    b.put(VAL_REG, b.value())
    width = V.pick(rng, [1, 2, 4, 8])
    off = int(rng.integers(-64, 512))
    if rng.random() < 0.7:
        b.code.append(E.store(width, VAL_REG, ADDR_REG, off))
    else:
        b.code.append(E.load(width, VAL_REG, ADDR_REG, off))


def virtio_setup(b: _Builder) -> None:
    """What a driver does to start a queue -- with a random value now and then -- ending in
    a notify, so that the device walks the random rings the image holds."""
    rng = b.rng
    rings = b.base + RINGS
    plan = [(0x070, 0), (0x070, 1), (0x070, 3), (0x020, b.value()), (0x070, 0xB),
            (0x030, V.pick(rng, [0, 0, 1, 7])), (0x038, V.pick(rng, [8, 16, 256, 0, 3, 1024])),
            (0x080, rings), (0x084, 0), (0x090, rings + 0x400), (0x094, 0),
            (0x0A0, rings + 0x800), (0x0A4, 0), (0x044, 1), (0x070, 0xF), (0x050, 0)]
    b.put(ADDR_REG, L.VIRTIO_BASE)
    for off, val in plan:
        if rng.random() < 0.1:
            off = V.pick(rng, V.VIRTIO_REGS)
        b.put(VAL_REG, b.value() if rng.random() < 0.1 else val)
        b.code.append(E.store(4, VAL_REG, ADDR_REG, off))


def csr_access(b: _Builder) -> None:
    """csrrw/s/c of a corner value into a real CSR (or any 12-bit number)."""
    rng = b.rng
    csr = V.pick(rng, V.CSR_NUMBERS) if rng.random() < 0.85 else int(rng.integers(4096))
    if csr in V.HANDLER_CSRS and rng.random() < 0.8:
        csr = V.pick(rng, V.SPARE_CSRS)           # usually spare the handlers' CSRs
    b.put(VAL_REG, V.pick(rng, V.CORNERS) if rng.random() < 0.7 else b.value())
    b.code.append(E.csr_op(V.pick(rng, [1, 2, 3, 5, 6, 7]), int(rng.integers(32)) % 28, csr,
                           VAL_REG))


def sbi_call(b: _Builder) -> None:
    """a7 = extension, a6 = function, a0..a2 = arguments, ecall."""
    rng = b.rng
    ext = V.pick(rng, V.SBI_ENDERS) if rng.random() < 0.01 else V.pick(rng, V.SBI_EXTENSIONS)
    b.put(17, ext if rng.random() < 0.95 else V.any64(rng))
    b.put(16, int(rng.integers(8)) if rng.random() < 0.8 else b.value())
    for a in (10, 11, 12):
        b.put(a, b.value())
    b.code.append(E.ECALL)


def random_words(b: _Builder) -> None:
    rng = b.rng
    if rng.random() < 0.75:
        b.code.append(int(rng.integers(0, 1 << 32)))
    else:                           # two compressed parcels
        b.code.append(int(rng.integers(0, 1 << 16)) | int(rng.integers(0, 1 << 16)) << 16)


SNIPPETS = {"words": (random_words, 0.72), "device": (device_access, 0.1),
            "csr": (csr_access, 0.1), "sbi": (sbi_call, 0.06), "virtio": (virtio_setup, 0.02)}


# ------------------------------------------------------------------ tables and rings
def page_tables(b: _Builder, mode: str) -> tuple[bytes, list[int]]:
    """Root, level-1 and level-0 tables: a gigapage mapping the image (so the code runs),
    pointers down, and random entries (random flags, reserved bits, PPNs anywhere).
    Returns the three tables and virtual addresses that walk through the random ones."""
    rng = b.rng
    tabs = [[0] * 512 for _ in range(3)]
    gig = (b.base >> 30) & 0x1FF
    leaf = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D | (PTE_U if mode == "U" else 0)
    tabs[0][gig] = ((b.base >> 30) << 28) | leaf
    vas = []
    for level in range(3):
        nxt = b.base + (PT_L1, PT_L0)[level] if level < 2 else 0
        for _ in range(int(rng.integers(2, 12))):
            i = int(rng.integers(512))
            if level == 0 and i == gig:
                continue
            tabs[level][i] = _random_pte(b, nxt)
            vas.append(_va(rng, level, i))
    return b"".join(struct.pack("<512Q", *t) for t in tabs), vas


def _random_pte(b: _Builder, next_table: int) -> int:
    rng = b.rng
    roll = rng.random()
    if roll < 0.3 and next_table:
        return (next_table >> 12) << 10 | PTE_V
    if roll < 0.8:
        ppn = (b.base + int(rng.integers(0, 64)) * 4096) >> 12
        return (ppn << 10 | int(rng.integers(0, 256))) | (int(rng.integers(0, 1024)) << 54
                                                          if rng.random() < 0.1 else 0)
    return V.pick(rng, V.CORNERS) if rng.random() < 0.5 else V.any64(rng)


def _va(rng: np.random.Generator, level: int, index: int) -> int:
    shift = (30, 21, 12)[level]
    va = index << shift | int(rng.integers(0, 1 << shift))
    return va | (V.MASK64 << 39 & V.MASK64) if va >> 38 & 1 else va


def virtio_rings(b: _Builder) -> bytes:
    """16 descriptors, an avail ring and request headers -- each field usually plausible,
    sometimes a corner (addresses outside RAM, lengths of 0 or 4 GiB, loops via next)."""
    rng = b.rng
    desc = bytearray()
    for _ in range(16):
        addr = b.base + BUFS + int(rng.integers(16)) * 64 if rng.random() < 0.6 else b.value()
        length = V.pick(rng, [16, 512, 1, 0, 0xFFFF_FFFF, 4096, 513, int(rng.integers(1 << 32))])
        flags = V.pick(rng, [0, 1, 2, 3, 4, 5, int(rng.integers(1 << 16))])
        desc += struct.pack("<QIHH", addr, length, flags, int(rng.integers(0, 20)))
    idx = V.pick(rng, [1, 2, 5, 16, 0xFFFF, int(rng.integers(1 << 16))])
    avail = struct.pack("<HH", 0, idx) + struct.pack("<16H", *rng.integers(0, 20, 16).tolist())
    bufs = b"".join(struct.pack("<IIQ", V.pick(rng, V.BLK_TYPES), 0,
                                V.pick(rng, [0, 1, 127, 128, 1 << 40]) if rng.random() < 0.7
                                else V.pick(rng, V.CORNERS)) + bytes(48) for _ in range(16))
    return bytes(desc).ljust(0x400, b"\0") + avail.ljust(0x800, b"\0") + bufs


# ------------------------------------------------------------------------------ the guest
def make_guest(seed: int, mode: str, paging: bool, words: int, base: int,
               ram_size: int, mix: tuple[str, ...] | None = None) -> Guest:
    """The guest for ``seed``: ``words`` code slots starting in ``mode``; ``mix`` names the
    kinds of snippet to draw (all of :data:`SNIPPETS` by default, in their proportions)."""
    rng = np.random.default_rng(seed)
    b = _Builder(rng, base, ram_size)
    paging = paging and mode != "M"
    tables, vas = page_tables(b, mode)
    rings = virtio_rings(b)
    kinds, weights = zip(*(SNIPPETS[k] for k in (mix or SNIPPETS)))
    choice = rng.choice(len(kinds), size=words, p=np.array(weights) / sum(weights))
    for k in choice:
        kinds[k](b)
    table = struct.pack(f"<{len(b.table)}Q", *b.table)
    image = bytearray(CODE + 4 * len(b.code))
    image[HANDLER_M:HANDLER_M + 24] = E.skip_handler(0x340, 0x341, E.MRET)
    image[HANDLER_S:HANDLER_S + 24] = E.skip_handler(0x140, 0x141, E.SRET)
    image[TABLE:TABLE + len(table)] = table
    image[PT_ROOT:PT_ROOT + len(tables)] = tables
    image[RINGS:RINGS + len(rings)] = rings
    image[CODE:] = E.words(b.code)
    regs = _registers(b, vas if paging else [])
    return Guest(seed, mode, paging, base, bytes(image), regs, _csrs(b, paging), words)


def _registers(b: _Builder, vas: list[int]) -> dict[int, int]:
    regs = {i: (V.pick(b.rng, vas) if vas and b.rng.random() < 0.3 else b.value())
            for i in range(1, 31)}
    regs[TABLE_REG] = b.base + TABLE + 2048
    return regs


def _csrs(b: _Builder, paging: bool) -> dict[int, int]:
    """The handlers' CSRs, satp, delegation now and then, and a few random CSRs at corners."""
    rng = b.rng
    csrs = {0x305: b.base + HANDLER_M, 0x105: b.base + HANDLER_S, 0x340: b.value(),
            0x140: b.value(), 0x180: SATP_SV39 | (b.base + PT_ROOT) >> 12 if paging else 0}
    if rng.random() < 0.3:
        csrs[0x302], csrs[0x303] = b.value(), b.value()       # medeleg, mideleg
    for _ in range(int(rng.integers(0, 4))):
        num = V.pick(rng, V.CSR_NUMBERS)
        if num not in csrs and num not in V.HANDLER_CSRS and num != 0x180:
            csrs[num] = V.pick(rng, V.CORNERS)
    return csrs
