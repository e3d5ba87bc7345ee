"""Memory and CPU managed together: under the scheduling Host, the memory manager's ticks
(sharing scanner, reclaim policy) run between the host's windows, on the host's clock."""
from __future__ import annotations

from test_mem_sharing import TWIN

from vmlab.hv.memory import READ_ONLY

MS = 1_000_000


def scheduled_pair(run_ms: int):
    from vmlab.asm import assemble
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.sched.host import Host
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    program = assemble(TWIN)
    hv = Hypervisor(Machine(ram_size=16 << 20))
    mm = HostMemory(hv, sharing="ksm", pages_to_scan=1000, sleep_millisecs=2)
    vms = [mm.create_vm(ram_size=4 << 20) for _ in range(2)]
    for vm in vms:
        vm.boot(kernel=program.elf)
    mm.set_policy(period_ms=5)
    host = Host(hv, pcpus=1)
    mm.schedule_with(host)
    assert mm.run(ns=run_ms * MS) == "time"
    return mm, host, vms, program


def test_memory_ticks_run_in_the_schedulers_windows():
    mm, host, vms, program = scheduled_pair(30)
    assert mm.ticks == 30                             # one per 1 ms window
    # the policy's periods (5 ms) on the host's clock: the first window's end, then every 5 ms
    assert [row["time"] for row in mm.history] == [t * MS for t in (1, 6, 11, 16, 21, 26)]
    pages = program.symbols["pages"]
    for vm in vms:                                    # both ran and filled their pages, and
        first = vm.mem.page_of(pages)                 # the scanner merged them meanwhile
        assert all(vm.mem.page_map[first + p] & READ_ONLY for p in range(8))
    busy = [host.view(vm).runtime for vm in vms]
    assert min(busy) > 5 * MS                          # the CPU was shared all along


def test_scheduled_memory_is_deterministic():
    a, host_a, _, _ = scheduled_pair(12)
    b, host_b, _, _ = scheduled_pair(12)
    assert host_a.trace_hash() == host_b.trace_hash()
    assert a.stats() == b.stats() and a.history == b.history


def test_run_under_a_host_takes_simulated_time():
    import pytest
    mm, _, _, _ = scheduled_pair(1)
    with pytest.raises(ValueError, match="ns="):
        mm.run(instructions=1000)
