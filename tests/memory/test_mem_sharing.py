"""Content-based page sharing: KSM's trees and ESX's hash table find the same twins, merge
them copy-on-write, and a write -- the host's or the guest's own store -- breaks exactly
that one share."""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.hv.memory import PAGE, READ_ONLY, FrameAllocator, GuestMemory
from vmlab.hv.sharing import HashIndex, PageSharing

BASE = 0x8000_0000


def host(guests: int = 2, pages: int = 8, mode: str = "ksm"):
    fa = FrameAllocator(np.zeros(64 * PAGE, dtype=np.uint8), BASE)
    mems = {i: GuestMemory(fa, i, BASE, pages * PAGE) for i in range(guests)}
    return fa, mems, PageSharing(fa, mems, mode=mode, pages_to_scan=4)


def fill(mem, page: int, tag: int) -> None:
    mem.write(BASE + page * PAGE, bytes([tag]) * (PAGE - 1) + b"\x01")


@pytest.mark.parametrize("mode", ["ksm", "esx"])
def test_identical_pages_merge_within_and_across_vms(mode):
    fa, mems, ks = host(mode=mode)
    for vm, m in mems.items():
        for p in range(4):
            fill(m, p, 10 + p % 2)               # two contents, each twice per VM
        fill(m, 4, 20 + vm)                      # one page of each VM is unique
    ks.full_scan()
    ks.full_scan()
    c = ks.counters()
    assert (c["pages_shared"], c["pages_sharing"]) == (2, 6)     # 8 pages on 2 frames
    assert c["pages_unshared"] == 2 and c["full_scans"] >= 2
    for vm, m in mems.items():
        assert m.shared_pages == 4 and not m.page_map[4] & READ_ONLY
        assert m.read(BASE + 1 * PAGE, 1) == bytes([11]) and m.read(BASE + 4 * PAGE, 1) == bytes([20 + vm])
    assert (fa.owner == FrameAllocator.SHARED).sum() == 2


def test_a_write_breaks_exactly_that_share():
    fa, mems, ks = host()
    for m in mems.values():
        for p in range(3):
            fill(m, p, 7)
    ks.full_scan()
    ks.full_scan()
    assert ks.counters()["pages_sharing"] == 5
    mems[1].write(BASE + 2 * PAGE + 5, b"\xEE")
    assert ks.counters()["pages_sharing"] == 4 and mems[1].counters["cow_breaks"] == 1
    assert mems[1].read(BASE + 2 * PAGE + 4, 3) == b"\x07\xEE\x07"
    for vm, m in mems.items():
        for p in range(3):
            if (vm, p) != (1, 2):
                assert m.page_map[p] & READ_ONLY and m.read(BASE + p * PAGE + 5, 1) == b"\x07"


def test_zero_pages_share_one_frame_at_once():
    fa, mems, ks = host(guests=1)
    for p in range(3):
        mems[0].write(BASE + p * PAGE, bytes(PAGE))
    ks.full_scan()
    assert mems[0].shared_pages == 3 and ks.counters()["pages_sharing"] == 2


def test_ksm_waits_for_a_page_to_hold_still():
    fa, mems, ks = host()
    for m in mems.values():
        fill(m, 0, 5)
    ks.scan(1)                                   # vm 0's page: checksum noted
    fill(mems[0], 0, 6)                          # ...and changed before the next look
    fill(mems[1], 0, 6)
    ks.full_scan()
    assert ks.counters()["pages_sharing"] == 0   # vm 0's page was volatile this pass
    ks.full_scan()
    assert ks.counters()["pages_sharing"] == 1


def test_esx_never_merges_on_a_hash_alone(monkeypatch):
    monkeypatch.setattr(HashIndex, "_hash", staticmethod(lambda key: b"same"))
    fa, mems, ks = host(mode="esx")
    fill(mems[0], 0, 1)
    fill(mems[1], 0, 2)                          # a collision: same hash, other bytes
    fill(mems[1], 1, 1)
    ks.full_scan()
    ks.full_scan()
    assert mems[1].read(BASE, 1) == b"\x02" and not mems[1].page_map[0] & READ_ONLY


def test_scanner_wakes_on_simulated_time():
    fa, mems, ks = host()
    for p in range(8):
        fill(mems[0], p, p)
    assert ks.tick(0) == 4                       # wakes at once, scans pages_to_scan
    assert ks.tick(19_999_999) == 0              # asleep for sleep_millisecs = 20 ms
    assert ks.tick(20_000_000) == 4


# === guests ==================================================================================
TWIN = r'''
        .text
        .globl _start
_start: la      t0, pages
        li      t1, 8 * 512
        li      t2, 0x1234567
1:      sd      t2, 0(t0)               # 8 pages, each different, the same in every VM
        addi    t0, t0, 8
        addi    t2, t2, 1
        addi    t1, t1, -1
        bnez    t1, 1b
        la      t3, go
2:      ld      t0, 0(t3)               # wait for the host
        beqz    t0, 2b
        la      t0, pages
        li      t1, 3 * 4096
        add     t0, t0, t1
        li      t2, 0x5a5a
        sd      t2, 0(t0)               # one store into page 3
        li      a7, 0x53525354
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
3:      j       3b
        .data
        .balign 8
go:     .dword  0
        .bss
        .balign 4096
pages:  .space  8 * 4096
'''


def test_a_guest_store_to_a_shared_page_breaks_only_its_own_share():
    from vmlab.asm import assemble
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    program = assemble(TWIN)
    hv = Hypervisor(Machine(ram_size=16 << 20))
    mm = HostMemory(hv, sharing="ksm")
    vms = [mm.create_vm(ram_size=4 << 20) for _ in range(2)]
    for vm in vms:
        vm.boot(kernel=program.elf)
    mm.run(instructions=200_000)                 # both fill their pages and wait
    mm.sharing.full_scan()
    mm.sharing.full_scan()
    pages = program.symbols["pages"]
    for vm in vms:                               # every one of the 8 pages is merged
        assert all(vm.mem.page_map[vm.mem.page_of(pages) + p] & READ_ONLY for p in range(8))
    vms[0].mem.write64(program.symbols["go"], 1)             # the host's write: one break
    before = mm.sharing.counters()["pages_sharing"]
    assert mm.run(instructions=1_000_000, vms=vms[:1]) == {0: "halt"}
    assert mm.sharing.counters()["pages_sharing"] == before - 1  # the guest's store: one more
    page3 = pages + 3 * PAGE
    assert vms[0].mem.read64(page3) == 0x5A5A
    assert vms[1].mem.read64(page3) == 0x1234567 + 3 * 512
    assert not vms[0].mem.page_map[vms[0].mem.page_of(page3)] & READ_ONLY
    for vm in vms:
        others = [vm.mem.page_of(pages) + p for p in range(8) if vm is vms[1] or p != 3]
        assert all(vm.mem.page_map[i] & READ_ONLY for i in others)


def teachos_shared_fraction(k: int, program) -> float:
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=32 << 20))
    mm = HostMemory(hv, sharing="ksm", pages_to_scan=1000)
    for _ in range(k):
        mm.create_vm(ram_size=16 << 20).boot(kernel=program.elf)
    mm.run(instructions=3_000_000)
    mm.sharing.full_scan()
    mm.sharing.full_scan()
    return mm.stats()["host"]["saved_fraction"]


def test_identical_teachos_guests_share_more_as_k_grows():
    from vmlab.guests import teachos
    program = teachos.build()
    fractions = [teachos_shared_fraction(k, program) for k in (1, 2, 3, 4)]
    print("teachos x1..4, fraction of guest pages saved by sharing:", fractions)
    assert all(a < b for a, b in zip(fractions, fractions[1:]))
    assert fractions[3] > 0.6                   # most of four identical guests is one copy
