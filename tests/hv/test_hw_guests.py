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


#: what the shell runs (the commands the shadow-vs-bare Linux test runs)
COMMANDS = ["uname -a", "cat /proc/cpuinfo", "ls /", "echo Hello Pipe | tr a-z A-Z | rev"]
TIMED = re.compile(r"\d+(\.\d+)?\s*(ms|us|usecs|ns|MB/s|MiB/s)\b|BogoMIPS|lpj=")


def _linux(backend):
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    kernel, initrd, cmdline = _linux_files()
    vm = Hypervisor(Machine(ram_size=(256 << 20) + HOST_EXTRA)).create_vm(
        ram_size=256 << 20, backend=backend)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
    for command in COMMANDS:
        vm.send_input(command + "\n")
        assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
    return vm


def _untimed(console: str) -> list[str]:
    """The console's lines without what depends on time: printk timestamps, lines that
    report durations or rates, and busybox's cursor query (asked only when no typed input
    is waiting yet)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.replace("\r", ""))
    text = re.sub(r"^\[ *\d+\.\d+\] ", "", text, flags=re.M)
    text = re.sub(r"audit\(\d+\.\d+:", "audit(T:", text)
    return [line for line in text.splitlines() if not TIMED.search(line)]


@pytest.mark.slow
def test_linux_to_its_shell_under_hw_as_under_shadow():
    """Debian's Linux to its shell and four commands under both backends: the same console
    but for timing lines; under hw no shadow event and a small fraction of the exits (its
    system calls, CSR accesses, sret and page-table updates stay in the guest).  Busybox
    uses F/D: the FP state goes through the hw world switch as part of the hart row."""
    shadow, hw = _linux("shadow"), _linux("hw")
    n_shadow, n_hw = (sum(vm.trace.by_cause(EXIT).values()) for vm in (shadow, hw))
    print(f"\nexits: shadow {n_shadow} {shadow.trace.by_cause(EXIT)}"
          f"\n       hw     {n_hw} {hw.trace.by_cause(EXIT)}")
    assert _untimed(hw.console_output) == _untimed(shadow.console_output)
    assert "EPIP OLLEH" in hw.console_output and "riscv64 GNU/Linux" in hw.console_output
    assert hw.trace.count(SHADOW) == 0
    assert n_hw * 5 < n_shadow
