"""Overcommit under the hw backend: two memtouch guests of 4 MiB on a 4 MiB host, with swap
and page sharing.  When a page's host frame changes (evicted, merged, copied on write) its
G-stage entry is dropped (``vm.shadow.invalidate_gpa``, the VMID flushed), and the guest's
next touch is a G-stage fill again -- every word reads back right."""
from __future__ import annotations

from vmlab.hv.trace import EXIT, SHADOW

GUEST_RAM, HOST_RAM, SEED, DISTINCT, ROUNDS = 4 << 20, 4 << 20, 7, 8, 2


def test_swap_and_sharing_under_hw_keep_every_word():
    from vmlab.guests import memtouch
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=HOST_RAM))
    mm = HostMemory(hv, sharing="ksm")
    vms = [mm.create_vm(ram_size=GUEST_RAM, backend="hw") for _ in range(2)]
    for vm in vms:
        memtouch.prepare(vm, seed=SEED, distinct=DISTINCT, rounds=ROUNDS)
    assert mm.run(instructions=100_000_000) == {0: "halt", 1: "halt"}
    _, npages = memtouch.region(vms[0])
    want = memtouch.expected_checksum(npages, SEED, DISTINCT, ROUNDS)
    for vm in vms:
        assert memtouch.results(vm) == {"mismatches": 0, "checksum": want, "done_rounds": ROUNDS}
        c = vm.mem.counters
        assert c["swap_outs"] > 0 and c["major_faults"] > 0 and c["merged"] > 0
        # more fills than pages: an evicted or merged page is filled again when touched
        assert vm.trace.handler_counts["g-fill"] > c["first_touches"]
        assert vm.trace.count(SHADOW) == 0 and vm.trace.count(EXIT, 9) == 0


def test_a_shared_page_is_mapped_read_only_until_a_store():
    """A load fault on a page that shares its frame maps it without W at the G-stage; a store
    fault gives the page its own copy, and the old entry is dropped first."""
    from vmlab.hv.vm import Hypervisor
    from vmlab.isa.paging import PTE_PPN_SHIFT, PTE_V, PTE_W
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=16 << 20)).create_vm(ram_size=4 << 20, backend="hw")
    g, gpa = vm.hw.gstage, 0x8000_3000
    vm.mem.write(gpa, b"shared")
    shared_hpa = vm.mem.make_shared(3)
    assert g.fill(gpa, write=False)
    pte = g.leaf(gpa)[1]
    assert pte & PTE_V and not pte & PTE_W and (pte >> PTE_PPN_SHIFT) << 12 == shared_hpa
    assert g.fill(gpa, write=True)
    pte = g.leaf(gpa)[1]
    assert pte & PTE_W and vm.mem.read(gpa, 6) == b"shared"
    assert vm.mem.counters["cow_breaks"] == 1
