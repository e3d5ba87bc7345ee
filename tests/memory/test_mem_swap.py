"""Overcommit and host swap: a frame pool smaller than the guests' RAM, the clock pager, a
real swap file -- and guests that find every word they wrote."""
from __future__ import annotations

import os

import numpy as np
import pytest

from vmlab.hv.memory import (ACCESSED, NO_FRAME, PAGE, RESIDENT, SWAPPED, FrameAllocator,
                             GuestMemory, OutOfFrames)
from vmlab.hv.swap import ClockPager, SwapFile

BASE = 0x8000_0000


def pool(frames: int, guests: int, pages: int, reserve: int = 1):
    """A host of ``frames`` frames, ``guests`` memories of ``pages`` pages, a pager."""
    fa = FrameAllocator(np.zeros(frames * PAGE, dtype=np.uint8), BASE)
    fa.reserve = reserve
    mems = {i: GuestMemory(fa, i, BASE, pages * PAGE) for i in range(guests)}
    remapped = []
    for m in mems.values():
        m.on_remap = remapped.append
        m.swap = SwapFile()
    pager = ClockPager(fa, mems, mems[0].swap)
    for m in mems.values():
        m.swap = pager.swap
    fa.reclaimer = pager.reclaim
    return fa, mems, pager, remapped


def page_data(vm: int, page: int) -> bytes:
    return np.random.default_rng([vm, page]).integers(0, 256, PAGE, dtype=np.uint8).tobytes()


def test_more_guest_pages_than_frames_all_read_back_right():
    fa, mems, pager, _ = pool(frames=12, guests=2, pages=16)     # 32 pages on 12 frames
    for p in range(16):
        for vm, m in mems.items():
            m.write(BASE + p * PAGE, page_data(vm, p))
    for p in reversed(range(16)):
        for vm, m in mems.items():
            assert m.read(BASE + p * PAGE, PAGE) == page_data(vm, p)
    swapped = sum(m.counters["swap_outs"] for m in mems.values())
    assert swapped >= 32 - 12 and pager.swap.used == sum(m.count(SWAPPED) for m in mems.values())
    assert fa.free_count >= fa.reserve             # the reserve is kept for shadow tables


def test_swap_out_unmaps_and_swap_in_is_counted_once():
    fa, mems, pager, remapped = pool(frames=4, guests=1, pages=8)
    m = mems[0]
    for p in range(3):
        m.write(BASE + p * PAGE, bytes([p + 1]) * PAGE)
    assert m.resident_pages == 3
    m.write(BASE + 3 * PAGE, b"x")                 # the 4th frame would eat the reserve
    assert m.count(SWAPPED) == 1 and m.page_map[0] == NO_FRAME and m.state[0] == SWAPPED
    assert BASE in remapped                        # the shadow was told to drop page 0
    hpa, read_only = m.backing(BASE)
    assert not read_only and fa.page_bytes(hpa - (hpa & (PAGE - 1)))[0] == 1
    assert m.state[0] == RESIDENT and m.page_map[0] & ACCESSED
    assert (m.counters["swap_ins"], m.counters["major_faults"]) == (1, 1)


def test_clock_gives_accessed_pages_a_second_chance():
    fa, mems, pager, remapped = pool(frames=5, guests=1, pages=8)
    m = mems[0]
    for p in range(4):
        m.write(BASE + p * PAGE, b"p")
    m.page_map[1:4] &= ~ACCESSED                   # pages 1..3 not used since
    pager.reclaim(m, 1)
    assert m.state[1] == SWAPPED and m.state[0] == RESIDENT      # page 0 was accessed
    assert not m.page_map[0] & ACCESSED and BASE in remapped     # ...and now is sampled again
    assert pager.counters == {"scanned": 2, "second_chances": 1, "evicted": 1}


def test_nothing_to_evict_is_a_clean_error():
    fa, mems, pager, _ = pool(frames=3, guests=1, pages=8)
    for i in range(3):
        fa.alloc(FrameAllocator.SHADOW)            # only shadow tables: nothing to swap
    with pytest.raises(OutOfFrames):
        mems[0].write(BASE, b"x")


def test_swap_is_a_real_file(tmp_path):
    path = tmp_path / "swap"
    swap = SwapFile(path)
    slots = [swap.put(bytes([i]) * PAGE) for i in range(3)]
    assert slots == [0, 1, 2] and os.path.getsize(path) == 3 * PAGE
    assert swap.take(1) == b"\x01" * PAGE
    assert swap.put(b"\x09" * PAGE) == 1           # the lowest hole first: repeatable
    assert path.read_bytes()[PAGE:PAGE + 1] == b"\x09"
    with pytest.raises(ValueError):
        swap.put(b"short")
    swap.close()


# === guests under pressure ==================================================================
GUEST_RAM, HOST_RAM, SEED, DISTINCT, ROUNDS = 4 << 20, 4 << 20, 7, 8, 2


def run_overcommitted(sharing):
    """Two memtouch guests of 4 MiB on a 4 MiB host (pool = 50% of the guests' RAM)."""
    from vmlab.guests import memtouch
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=HOST_RAM))
    mm = HostMemory(hv, sharing=sharing)
    vms = [mm.create_vm(ram_size=GUEST_RAM) for _ in range(2)]
    assert hv.frames.pool_frames <= 0.6 * sum(len(vm.mem.page_map) for vm in vms)
    for vm in vms:
        memtouch.prepare(vm, seed=SEED, distinct=DISTINCT, rounds=ROUNDS)
    ended = mm.run(instructions=100_000_000)
    return mm, vms, ended, (mm.stats(), vms[0].time())


@pytest.fixture(scope="module")
def overcommitted():
    return run_overcommitted("ksm")


def test_every_checksum_right_with_swap_and_sharing(overcommitted):
    from vmlab.guests import memtouch
    mm, vms, ended, _ = overcommitted
    assert ended == {0: "halt", 1: "halt"}
    start, npages = memtouch.region(vms[0])
    want = memtouch.expected_checksum(npages, SEED, DISTINCT, ROUNDS)
    for vm in vms:
        assert memtouch.results(vm) == {"mismatches": 0, "checksum": want, "done_rounds": ROUNDS}
        c = vm.mem.counters
        assert c["swap_outs"] > 0 and c["major_faults"] > 0      # swap was active
        assert c["merged"] > 0 and c["cow_breaks"] > 0           # and so was sharing


def test_guest_ram_read_back_by_the_host_is_the_last_round(overcommitted):
    from vmlab.guests import memtouch
    mm, vms, _, _ = overcommitted
    start, npages = memtouch.region(vms[0])
    last = memtouch.pattern(npages, SEED, DISTINCT, ROUNDS - 1).tobytes()
    for vm in vms:
        assert vm.mem.read(start, npages * PAGE) == last


def test_overcommit_is_deterministic(overcommitted):
    *_, first = overcommitted
    *_, second = run_overcommitted("ksm")
    assert second == first


def test_a_swapped_out_guest_page_table_is_read_back_by_the_shadow_walk():
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=4 << 20))
    vm = HostMemory(hv).create_vm(ram_size=4 << 20)
    pte_gpa = BASE + 5 * PAGE + 8
    vm.mem.write64(pte_gpa, 0x2000_00CF)
    vm.mem.swap_out(5)
    assert vm.mem.state[5] == SWAPPED
    assert vm.shadow.guest_read64(pte_gpa) == 0x2000_00CF         # not "an empty table"
    assert vm.shadow.guest_read64(BASE + 9 * PAGE) == 0 and vm.mem.state[9] == 0  # untouched: no frame


def teachos_guests(host_mb: int, k: int = 6):
    from vmlab.guests import teachos
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=host_mb << 20))
    mm = HostMemory(hv)
    vms = [mm.create_vm(ram_size=16 << 20) for _ in range(k)]
    for vm in vms:
        vm.boot(kernel=teachos.build().elf)
    assert set(mm.run(instructions=3_000_000).values()) == {"budget"}
    return vms


def test_paging_guests_under_swap_see_what_they_see_without():
    """Six teachos kernels (Sv39 on: their page tables get swapped too) in 256 frames, most
    of which their shadow tables hold: pages go to the file and come back, and every guest
    prints what it prints on a host with room to spare."""
    tight, roomy = teachos_guests(1), teachos_guests(64)
    assert all(vm.mem.counters["swap_outs"] > 0 for vm in tight)
    assert all(vm.mem.counters["swap_outs"] == 0 for vm in roomy)
    for a, b in zip(tight, roomy):
        assert "starting 3 processes" in a.console_output
        assert a.console_output == b.console_output


def test_esx_sharing_under_swap_keeps_every_word():
    from vmlab.guests import memtouch
    mm, vms, ended, _ = run_overcommitted("esx")
    start, npages = memtouch.region(vms[0])
    want = memtouch.expected_checksum(npages, SEED, DISTINCT, ROUNDS)
    assert ended == {0: "halt", 1: "halt"}
    for vm in vms:
        assert memtouch.results(vm) == {"mismatches": 0, "checksum": want, "done_rounds": ROUNDS}
    assert sum(vm.mem.counters["merged"] for vm in vms) > 0
    assert sum(vm.mem.counters["swap_outs"] for vm in vms) > 0
