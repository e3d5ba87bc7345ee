"""ESX's sharing experiment with Debian's Linux: k identical guests booted to the shell under
one host with KSM-style sharing; the fraction of guest memory saved grows with k, and a
write to a shared page breaks exactly that share."""
from __future__ import annotations

import time

import pytest

from vmlab.hv.memory import PAGE, READ_ONLY

GUEST_RAM = 128 << 20


def boot_to_shell(mm, files):
    kernel, initrd, cmdline = files
    vm = mm.create_vm(ram_size=GUEST_RAM)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
    return vm


@pytest.mark.slow
def test_identical_linux_guests_share_more_as_k_grows():
    from oracles import IN_CI
    from vmlab.guests import linux
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    try:
        files = linux.boot_files()
    except linux.GuestMissing as exc:
        (pytest.fail if IN_CI else pytest.skip)(str(exc))
    mm = HostMemory(Hypervisor(Machine(ram_size=3 * GUEST_RAM + HOST_EXTRA)), sharing="ksm",
                    pages_to_scan=4096)
    fractions, times = [], []
    for k in (1, 2, 3):                    # one more identical guest each round
        start = time.perf_counter()
        boot_to_shell(mm, files)
        booted = time.perf_counter()
        # the pass under way began before this guest existed; then KSM merges a page on
        # its second look
        for _ in range(3):
            mm.sharing.full_scan()
        fractions.append(mm.stats()["host"]["saved_fraction"])
        times.append((booted - start, time.perf_counter() - booted))
    print("Linux x1..3, fraction of guest pages saved by sharing:",
          [round(f, 3) for f in fractions], "host seconds (boot, three scans):",
          [(round(b, 1), round(s, 1)) for b, s in times], "stats:", mm.stats()["host"])
    assert fractions[0] < fractions[1] < fractions[2]
    assert fractions[2] > 0.4              # most of a second and third copy is the first's
    # a write to one shared page breaks exactly that share
    vm = mm.vms[0]
    page = next(p for p in range(len(vm.mem.page_map)) if vm.mem.page_map[p] & READ_ONLY
                and vm.mem.read(vm.mem.gpa_base + p * PAGE, PAGE) != bytes(PAGE))
    before = mm.sharing.counters()["pages_sharing"]
    shared = {i: int((m.page_map & READ_ONLY != 0).sum()) for i, m in mm.mems.items()}
    gpa = vm.mem.gpa_base + page * PAGE
    old = vm.mem.read(gpa, 1)
    vm.mem.write(gpa, bytes([old[0] ^ 0xFF]))
    assert mm.sharing.counters()["pages_sharing"] == before - 1
    assert not vm.mem.page_map[page] & READ_ONLY and vm.mem.counters["cow_breaks"] == 1
    assert {i: int((m.page_map & READ_ONLY != 0).sum()) for i, m in mm.mems.items()} == \
        {**shared, 0: shared[0] - 1}
    assert vm.mem.read(gpa, 1) == bytes([old[0] ^ 0xFF])
    for vm in mm.vms.values():
        assert "vmlab#" in _shell(vm, "echo still here")


def _shell(vm, command: str) -> str:
    start = len(vm.console_output)
    vm.send_input(command + "\n")
    assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
    return vm.console_output[start:]
