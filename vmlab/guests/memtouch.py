"""The memory-touching checksum guest (``memtouch.s``): build it, set it up, check it.

The guest's pattern is computed here as well, with numpy, so a test can say not only
"the guest found no mismatch" but also "the checksum is the one the pattern gives" and
"the guest's RAM, read back through the hypervisor, holds exactly the last round's data".
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from vmlab.asm import assemble
from vmlab.guests import source

PAGE = 4096
PAGE_K = 0x9E3779B97F4A7C15
ROUND_K = 0xD1B54A32D192ED03
MASK = (1 << 64) - 1
RESULTS = ("mismatches", "checksum", "done_rounds")


@lru_cache(maxsize=1)
def build():
    """The assembled guest (a vmlab.asm Program: ``.elf``, ``.symbols``)."""
    return assemble(source("memtouch"), march="rv64imac")


def prepare(vm, seed: int = 1, distinct: int = 0, rounds: int = 1) -> None:
    """Boot the guest in ``vm`` (in vS, SBI from the hypervisor) over all of its RAM."""
    program = build()
    vm.boot(kernel=program.elf)
    sym = program.symbols
    vm.mem.write64(sym["ram_end"], vm.mem.gpa_base + vm.mem.size)
    vm.mem.write64(sym["seed"], seed & MASK)
    vm.mem.write64(sym["distinct"], distinct)
    vm.mem.write64(sym["rounds"], rounds)


def results(vm) -> dict:
    return {name: vm.mem.read64(build().symbols[name]) for name in RESULTS}


def region(vm) -> tuple[int, int]:
    """(first gpa, number of pages) the guest writes."""
    start = build().symbols["region"]
    return start, (vm.mem.gpa_base + vm.mem.size - start) // PAGE


def pattern(npages: int, seed: int, distinct: int, round_: int) -> np.ndarray:
    """The words the guest writes in round ``round_``: uint64[npages, 512]."""
    pages = np.arange(npages, dtype=np.uint64)
    if distinct:
        pages %= np.uint64(distinct)
    with np.errstate(over="ignore"):
        x = pages * np.uint64(PAGE_K) + np.uint64(round_ * ROUND_K & MASK) + np.uint64(seed & MASK)
    x |= np.uint64(1)
    out = np.empty((npages, PAGE // 8), dtype=np.uint64)
    for i in range(PAGE // 8):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        out[:, i] = x
    return out


def expected_checksum(npages: int, seed: int, distinct: int, rounds: int) -> int:
    total = 0
    for r in range(rounds):
        total += int(pattern(npages, seed, distinct, r).sum(dtype=np.uint64))
    return total & MASK
