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
