"""Debian's Linux with its own virtio_balloon driver: it inflates to a target set from
Python and deflates again; MemTotal/MemFree move; the host gets the frames back."""
from __future__ import annotations

import re

import pytest

import numpy as np

from vmlab.hv.memory import BALLOONED, NO_FRAME, PAGE


def meminfo(text: str) -> dict:
    return {k: int(v) for k, v in re.findall(r"^(MemTotal|MemFree):\s+(\d+) kB", text, re.M)}


@pytest.mark.slow
def test_linux_balloon_driver_inflates_and_deflates():
    vm, balloon, shell = linux_guest(deflate_on_oom=False)
    assert "0x0005" in shell("cat /sys/bus/virtio/devices/*/device")
    shell("dd if=/dev/zero of=/tmp/fill bs=1M count=24 2>/dev/null; rm /tmp/fill")  # used, freed
    before = meminfo(shell("cat /proc/meminfo"))
    free_frames = vm.frames.free_count
    backed = vm.mem.page_map != NO_FRAME                 # guest pages with a host frame now
    target = (32 << 20) // PAGE
    balloon.set_target(target)
    assert run_until(vm, lambda: balloon.actual == target)
    inflated = meminfo(shell("cat /proc/meminfo"))
    assert before["MemTotal"] - inflated["MemTotal"] == 32 << 10        # kB
    assert before["MemFree"] - inflated["MemFree"] >= 20 << 10
    given = int(np.count_nonzero(backed & (vm.mem.state == BALLOONED)))
    assert given > target // 2                                      # (the guest had used them)
    assert vm.frames.free_count - free_frames >= 0.9 * given        # the host got those back
    assert balloon.request_stats()                                   # fresh numbers, please
    assert run_until(vm, lambda: balloon.device.counters["stats_updates"] >= 2)
    assert balloon.stats["total_memory"] == inflated["MemTotal"] << 10
    balloon.set_target(0)
    assert run_until(vm, lambda: balloon.actual == 0)
    deflated = meminfo(shell("cat /proc/meminfo"))
    assert deflated["MemTotal"] == before["MemTotal"]
    assert deflated["MemFree"] - inflated["MemFree"] >= 25 << 10
    assert balloon.device.negotiated == {"stats_vq"}
    assert "vmlab#" in shell("echo still here")


def linux_guest(deflate_on_oom: bool):
    """Debian's kernel in vS with a balloon; (vm, balloon, shell(command) -> output)."""
    from oracles import IN_CI
    from vmlab.guests import linux
    from vmlab.hv.balloon import Balloon
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    try:
        kernel, initrd, cmdline = linux.boot_files()
    except linux.GuestMissing as exc:
        (pytest.fail if IN_CI else pytest.skip)(str(exc))
    vm = Hypervisor(Machine(ram_size=(128 << 20) + HOST_EXTRA)).create_vm(ram_size=128 << 20)
    balloon = Balloon(vm, deflate_on_oom=deflate_on_oom)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"

    def shell(command: str) -> str:
        start = len(vm.console_output)
        vm.send_input(command + "\n")
        assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
        return vm.console_output[start:]
    return vm, balloon, shell


def run_until(vm, done, slices: int = 200) -> bool:
    for _ in range(slices):
        vm.run(instructions=20_000_000)
        if done():
            return True
    return False
