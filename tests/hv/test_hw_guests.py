"""Real firmware and kernels under the hw backend: U-Boot to its prompt and Debian's Linux to
its shell, the console identical to the shadow backend's."""
from __future__ import annotations

import os
import re

import pytest

from vmlab.hv.trace import EXIT, SHADOW


def _uboot(path, backend):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, backend=backend)
    vm.boot(kernel=path)
    assert vm.run(instructions=60_000_000, until_output="Hit any key").reason == "output"
    vm.send_input(" ")
    assert vm.run(instructions=60_000_000, until_output="=>").reason == "output"
    vm.send_input("version\r")
    assert vm.run(instructions=60_000_000, until_output="GNU ld").reason == "output"
    return vm


def test_uboot_to_its_prompt_under_hw_as_under_shadow(uboot_smode):
    shadow, hw = _uboot(uboot_smode, "shadow"), _uboot(uboot_smode, "hw")
    assert hw.console_output == shadow.console_output
    assert "U-Boot 2023.01" in hw.console_output
    # U-Boot's own CSR accesses (illegal instruction under shadow) stay in the guest; its
    # page touches are G-stage fills, as many as the shadow fills (one per guest page)
    assert shadow.trace.count(EXIT, 2) > 0 and hw.trace.count(EXIT, 22) == 0
    assert hw.trace.handler_counts["g-fill"] == shadow.trace.handler_counts["fill"] > 100
    assert hw.trace.count(SHADOW) == 0
    assert hw.trace.handler_counts["mmio"] == shadow.trace.handler_counts["mmio"]


def _linux_files():
    from vmlab.guests import linux
    try:
        return linux.boot_files()
    except linux.GuestMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _linux(backend):
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    kernel, initrd, cmdline = _linux_files()
    vm = Hypervisor(Machine(ram_size=(256 << 20) + HOST_EXTRA)).create_vm(
        ram_size=256 << 20, backend=backend)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
    vm.send_input("uname -a\n")
    assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
    return vm


def _untimed(console: str) -> str:
    """The console without what depends on time: printk timestamps, BogoMIPS, rates."""
    text = re.sub(r"^\[ *\d+\.\d+\] ", "", console, flags=re.M)
    return "\n".join(line for line in text.splitlines()
                     if not re.search(r"BogoMIPS|MB/s|lpj=|calibrat|jiffies|ns\b|usecs", line))


@pytest.mark.slow
def test_linux_to_its_shell_under_hw_as_under_shadow():
    shadow, hw = _linux("shadow"), _linux("hw")
    print(f"\nexits: shadow {sum(shadow.trace.by_cause(EXIT).values())}, "
          f"hw {sum(hw.trace.by_cause(EXIT).values())} {hw.trace.by_cause(EXIT)}")
    assert _untimed(hw.console_output) == _untimed(shadow.console_output)
    assert "riscv64 GNU/Linux" in hw.console_output
    assert hw.trace.count(SHADOW) == 0
    assert sum(hw.trace.by_cause(EXIT).values()) * 5 < sum(shadow.trace.by_cause(EXIT).values())
