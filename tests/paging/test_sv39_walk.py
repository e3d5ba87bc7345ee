"""The reference Sv39 walker against page tables built by hand, one rule of the spec per test."""
from __future__ import annotations

import pytest

from vmlab import sv39
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, make_pte, walk

RAM = (0x8000_0000, 0x8000_0000 + (16 << 20))
ROOT = 0x8010_0000
L1 = 0x8010_1000
L0 = 0x8010_2000


class Mem:
    """A sparse physical memory of 8-byte words, with 'no memory' outside RAM."""

    def __init__(self):
        self.words: dict[int, int] = {}
        self.writes: list[tuple[int, int]] = []

    def read64(self, pa):
        if not RAM[0] <= pa < RAM[1]:
            return None
        return self.words.get(pa, 0)

    def write64(self, pa, value):
        self.writes.append((pa, value))
        self.words[pa] = value

    def set(self, table, index, pte):
        self.words[table + 8 * index] = pte


SATP = sv39.make_satp(ROOT, asid=5)
VA = 0x4000_1234  # VPN[2]=1, VPN[1]=0, VPN[0]=1


@pytest.fixture
def mem():
    m = Mem()
    m.set(ROOT, 1, make_pte(L1, PTE_V))
    m.set(L1, 0, make_pte(L0, PTE_V))
    m.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D))
    return m


def test_three_level_walk_gives_page_plus_offset(mem):
    w = walk(mem.read64, SATP, VA, "load")
    assert w.ok and w.pa == 0x8050_0234
    assert [(s.level, s.index) for s in w.steps] == [(2, 1), (1, 0), (0, 1)]
    assert w.steps[0].pte_pa == ROOT + 8 and w.page_size == 4096


def test_gigapage_keeps_low_30_bits_of_va(mem):
    mem.set(ROOT, 2, make_pte(0xC000_0000, PTE_V | PTE_R | PTE_X | PTE_A))
    w = walk(mem.read64, SATP, 0x8123_4567, "fetch")
    assert w.ok and w.pa == 0xC123_4567 and len(w.steps) == 1 and w.page_size == 1 << 30


def test_misaligned_megapage_faults(mem):
    mem.set(L1, 3, make_pte(0x8050_1000, PTE_V | PTE_R | PTE_A))  # 2 MiB leaf, PPN[0] != 0
    w = walk(mem.read64, SATP, 0x4060_0000, "load")
    assert w.fault == sv39.LOAD_PAGE_FAULT and "misaligned" in w.reason


@pytest.mark.parametrize("access,cause", [("fetch", 12), ("load", 13), ("store", 15)])
def test_invalid_entry_faults_with_the_access_kind(mem, access, cause):
    w = walk(mem.read64, SATP, 0x1234_5000, access)
    assert w.fault == cause and len(w.steps) == 1


def test_non_canonical_address_faults_before_any_read(mem):
    w = walk(mem.read64, SATP, 0x0000_0080_0000_0000, "load")
    assert w.fault == 13 and w.steps == []
    assert sv39.canonical(0xFFFF_FFC0_0000_0000) and not sv39.canonical(0x0000_0040_0000_0000)


def test_write_without_read_is_reserved(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_W | PTE_A | PTE_D))
    assert walk(mem.read64, SATP, VA, "store").fault == 15


def test_store_needs_w_and_fetch_needs_x(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R | PTE_A | PTE_D))
    assert walk(mem.read64, SATP, VA, "store").fault == 15
    assert walk(mem.read64, SATP, VA, "fetch").fault == 12
    assert walk(mem.read64, SATP, VA, "load").ok


def test_mxr_makes_execute_only_pages_readable(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_X | PTE_A))
    assert walk(mem.read64, SATP, VA, "load").fault == 13
    assert walk(mem.read64, SATP, VA, "load", mxr=True).ok


def test_user_pages_and_sum(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D))
    assert walk(mem.read64, SATP, VA, "load", priv="U").ok
    assert walk(mem.read64, SATP, VA, "load", priv="S").fault == 13
    assert walk(mem.read64, SATP, VA, "load", priv="S", sum=True).ok
    assert walk(mem.read64, SATP, VA, "fetch", priv="S", sum=True).fault == 12  # SUM never allows fetch
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R | PTE_A))
    assert walk(mem.read64, SATP, VA, "load", priv="U").fault == 13


def test_hardware_sets_a_on_access_and_d_on_store(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R | PTE_W))
    w = walk(mem.read64, SATP, VA, "load", write64=mem.write64)
    assert w.ok and mem.words[L0 + 8] & PTE_A and not mem.words[L0 + 8] & PTE_D
    w = walk(mem.read64, SATP, VA, "store", write64=mem.write64)
    assert w.ok and mem.words[L0 + 8] & PTE_D
    assert len(mem.writes) == 2
    walk(mem.read64, SATP, VA, "store", write64=mem.write64)
    assert len(mem.writes) == 2  # nothing left to set: no write


def test_faulting_walk_sets_nothing(mem):
    mem.set(L0, 1, make_pte(0x8050_0000, PTE_V | PTE_R))
    w = walk(mem.read64, SATP, VA, "store", write64=mem.write64)
    assert w.fault == 15 and mem.writes == []


def test_table_outside_memory_is_an_access_fault(mem):
    mem.set(ROOT, 1, make_pte(0x1000_0000, PTE_V))  # next level in MMIO space, not RAM
    w = walk(mem.read64, SATP, VA, "store")
    assert w.fault == sv39.STORE_ACCESS_FAULT


def test_bare_and_m_mode_are_untranslated(mem):
    assert walk(mem.read64, 0, VA).pa == VA
    assert walk(mem.read64, SATP, VA, priv="M").pa == VA


def test_nonleaf_reserved_bits_are_ignored_as_hardware_does(mem):
    mem.set(ROOT, 1, make_pte(L1, PTE_V | PTE_A | PTE_D | PTE_U))
    assert walk(mem.read64, SATP, VA).pa == 0x8050_0234


def test_mappings_lists_leaves_in_va_order_with_canonical_high_addresses(mem):
    mem.set(ROOT, 2, make_pte(0xC000_0000, PTE_V | PTE_R | PTE_X))
    mem.set(ROOT, 511, make_pte(0x8000_0000, PTE_V | PTE_R))  # top gigapage: VA 0xffffffffc0000000
    mem.set(ROOT, 0, make_pte(ROOT, PTE_V))                   # a table that points to itself
    found = list(sv39.mappings(mem.read64, ROOT))
    vas = [m.va for m in found]
    assert 0x4000_1000 in vas and 0x8000_0000 in vas and 0xFFFF_FFFF_C000_0000 in vas
    by_va = {m.va: m for m in found}
    assert by_va[0x4000_1000].pa == 0x8050_0000 and by_va[0x4000_1000].level == 0
    # each mapping agrees with the walker
    for m in found:
        w = walk(mem.read64, SATP, m.va, "load")
        if w.ok:
            assert w.pa == m.pa
    assert vas.index(0x4000_1000) < vas.index(0x8000_0000) < vas.index(0xFFFF_FFFF_C000_0000)
