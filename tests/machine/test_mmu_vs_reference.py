"""The jitted Sv39 walk agrees with the readable reference walker ``vmlab.sv39.walk``.

Random page tables (valid and broken PTEs, superpages, misaligned superpages, pointers out of
RAM), random addresses, access kinds, privileges, SUM and MXR: both walkers must give the same
physical address or the same fault, and leave the same A/D bits in memory.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from vmlab import sv39
from vmlab.machine import layout as L
from vmlab.machine.mmu import context, walk

RAM_BASE, RAM_SIZE = 0x80000000, 1 << 20
TABLES = [RAM_BASE + 0x10000 + i * 0x1000 for i in range(8)]
ACCESS = {"fetch": L.ACC_FETCH, "load": L.ACC_LOAD, "store": L.ACC_STORE}


def random_pte(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.04:
        return rng.getrandbits(64)                                 # garbage
    flags = 1 if rng.random() < 0.97 else 0                         # V
    if rng.random() < 0.4:                                          # pointer to a table
        ppn = rng.choice(TABLES) >> 12 if rng.random() < 0.9 else rng.getrandbits(44)
    else:                                                           # leaf
        flags |= rng.choice([2, 6, 8, 10, 14, 14, 14, 4, 12]) | rng.getrandbits(1) << 4
        flags |= rng.getrandbits(3) << 5                            # G A D
        ppn = rng.choice([RAM_BASE >> 12, RAM_BASE >> 12, (RAM_BASE >> 12) + rng.getrandbits(9),
                          rng.getrandbits(44)])
    return (ppn << 10) | flags


def build_memory(rng: random.Random) -> np.ndarray:
    mem = np.zeros(RAM_SIZE, dtype=np.uint8)
    for table in TABLES:
        words = [random_pte(rng) for _ in range(512)]
        mem[table - RAM_BASE:table - RAM_BASE + 4096] = np.frombuffer(
            np.array(words, dtype=np.uint64).tobytes(), dtype=np.uint8)
    return mem


def random_va(rng: random.Random) -> int:
    va = rng.getrandbits(39)
    if va >> 38:
        va |= ((1 << 25) - 1) << 39                                 # sign-extend
    if rng.random() < 0.05:
        va ^= 1 << 50                                               # non-canonical
    return va


def reference(mem: np.ndarray, satp, va, access, priv, sum_, mxr):
    def read64(pa):
        off = pa - RAM_BASE
        if off < 0 or off + 8 > RAM_SIZE:
            return None
        return int.from_bytes(mem[off:off + 8].tobytes(), "little")

    def write64(pa, value):
        off = pa - RAM_BASE
        mem[off:off + 8] = np.frombuffer(value.to_bytes(8, "little"), dtype=np.uint8)

    w = sv39.walk(read64, satp, va, access, priv=priv, sum=sum_, mxr=mxr, write64=write64)
    return w.pa if w.ok else ("fault", w.fault)


def jitted(mem: np.ndarray, satp, va, access, priv, sum_, mxr):
    ctl = np.zeros(L.CTL_WORDS, dtype=np.int64)
    ctl[L.C_RAM_BASE], ctl[L.C_RAM_SIZE] = RAM_BASE, RAM_SIZE
    ctx = context(0, L.PRIV_U if priv == "U" else L.PRIV_S, sum_, mxr)
    s64 = va - (1 << 64) if va >> 63 else va
    page, level, glob = walk(mem, ctl, satp - (1 << 64) if satp >> 63 else satp, s64,
                             ACCESS[access], ctx)
    if page < 0:
        return ("fault", -page - 1)
    return page | (va & 0xFFF)


@pytest.mark.parametrize("seed", range(40))
def test_walks_agree(seed):
    rng = random.Random(seed)
    mem = build_memory(rng)
    satp = (8 << 60) | (TABLES[0] >> 12)
    for _ in range(150):
        va = random_va(rng)
        access = rng.choice(list(ACCESS))
        priv = rng.choice("SU")
        sum_, mxr = rng.random() < 0.5, rng.random() < 0.5
        mine, ref = mem.copy(), mem.copy()
        got = jitted(mine, satp, va, access, priv, sum_, mxr)
        want = reference(ref, satp, va, access, priv, sum_, mxr)
        assert got == want, f"va {va:#x} {access} {priv} sum={sum_} mxr={mxr}"
        assert np.array_equal(mine, ref), f"A/D bits differ for va {va:#x} {access}"
        mem = mine
