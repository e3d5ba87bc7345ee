"""Debian's Linux with 2 vCPUs on one pCPU: the hypervisor's device tree lists two cpus,
Linux starts the second through SBI HSM, shoots down remote TLB entries through SBI RFENCE
and wakes the other vCPU through SBI IPI -- and reaches its shell under the host's Credit
scheduler, its commands printing what they print on one hart."""
from __future__ import annotations

import gzip

import pytest
from test_linux import (COMMANDS, HAS_FD, NEEDS_FD, command_outputs, need_linux, read_newc,
                        without_cursor_query)

from vmlab.hv import sbi
from vmlab.hv.cli import HOST_EXTRA
from vmlab.hv.sched import MS, Credit, Host
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine.fdt import parse_dtb

PROMPT = b"vmlab# "


def run_to_prompt(host, vm, limit_ns: int) -> None:
    """Run the host until one more shell prompt than now is on the console."""
    seen = vm.console_bytes.count(PROMPT)
    end = host.now + limit_ns
    while vm.console_bytes.count(PROMPT) <= seen:
        assert not vm.stopped and host.now < end, vm.console_output[-2000:]
        host.run(10 * MS)


def cpuinfo_blocks(text: str) -> list[dict]:
    """/proc/cpuinfo as one dict per processor."""
    blocks = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in chunk.splitlines() if ":" in line)
        blocks.append({k.strip(): v.strip() for k, v in fields.items()})
    return blocks


def test_the_guest_device_tree_lists_every_vcpu():
    """The DTB a VM boots with (written out and read back) has one cpu node per vCPU, each
    with its hart id in reg, an interrupt controller and status okay."""
    hv = Hypervisor(Machine(ram_size=64 << 20))
    for n in (1, 2, 4):
        vm = hv.create_vm(ram_size=8 << 20, vcpus=n)
        tree = parse_dtb(vm.device_tree().to_dtb())
        cpus = [(path, node) for path, node in tree.root.walk()
                if path.startswith("/cpus/cpu@") and path.count("/") == 2]
        assert [path for path, _ in cpus] == [f"/cpus/cpu@{i}" for i in range(n)]
        assert [node.cells("reg") for _, node in cpus] == [[i] for i in range(n)]
        assert all(node.string("status") == "okay" for _, node in cpus)
        assert all(node.child("interrupt-controller") for _, node in cpus)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FD, reason=NEEDS_FD)
def test_linux_with_two_vcpus_on_one_pcpu_reaches_its_shell():
    kernel, initrd, cmdline = need_linux()
    ram = 256 << 20
    hv = Hypervisor(Machine(ram_size=ram + HOST_EXTRA))
    vm = hv.create_vm(ram_size=ram, vcpus=2)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    host = Host(hv, pcpus=1, policy=Credit())
    run_to_prompt(host, vm, 30_000 * MS)
    boot_ns = host.now
    for command in COMMANDS:
        vm.send_input(command + "\n")
        run_to_prompt(host, vm, 10_000 * MS)
    console = without_cursor_query(vm.console_output)
    assert "smp: Brought up 1 node, 2 CPUs" in console
    out = command_outputs(console)
    # both processors, alike but for their numbers
    cpus = cpuinfo_blocks(out["cat /proc/cpuinfo"])
    assert [c["processor"] for c in cpus] == ["0", "1"]
    assert [c["hart"] for c in cpus] == ["0", "1"]
    for key in ("isa", "mmu", "uarch"):
        assert cpus[0].get(key) == cpus[1].get(key), key
    assert out[COMMANDS[3]] == "EPIP OLLEH\n"
    assert out["uname -a"].split()[:2] == ["Linux", "(none)"] or out["uname -a"].startswith("Linux")
    top = {name for name in read_newc(gzip.decompress(initrd.read_bytes())) if "/" not in name}
    assert top - {"init"} <= set(out["ls /"].split())
    # what Linux asked of the hypervisor for its second hart
    calls = vm.sbi_calls
    assert calls[sbi.EXT_HSM] >= 1 and calls[sbi.EXT_IPI] > 0 and calls[sbi.EXT_RFENCE] > 0
    views = [host.view(vm, i) for i in range(2)]
    assert all(v.runtime > 0 for v in views) and views[1]._switches > 1
    print(f"\nLinux with 2 vCPUs on 1 pCPU: shell after {boot_ns / 1e9:.2f} s simulated, "
          f"vCPU run time {views[0].runtime / 1e9:.2f} s + {views[1].runtime / 1e9:.2f} s")
