"""Real third-party guests under the hypervisor: U-Boot in vS (SBI from the hypervisor) and
OpenSBI in virtual M-mode starting U-Boot -- the issue's done-when, through the CLI."""
from __future__ import annotations

import subprocess
import sys

from vmlab.hv.trace import EXIT

UNTIL = ["--send-on", "Hit any key", " ", "--send-on", "=>", "version\\r", "--until", "GNU ld"]


def _vmlab_run(*args):
    return subprocess.run([sys.executable, "-m", "vmlab", "run", "--hv", *args, *UNTIL, "--stats"],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_uboot_in_vs_prints_its_version(uboot_smode):
    p = _vmlab_run("--kernel", str(uboot_smode))
    assert p.returncode == 0, p.stderr
    assert "U-Boot 2023.01" in p.stdout and "=> version" in p.stdout
    assert p.stdout.rstrip().endswith("GNU ld")
    assert "OpenSBI" not in p.stdout
    assert "exit store_page_fault" in p.stderr and "handler mmio" in p.stderr


def test_opensbi_in_virtual_m_mode_starts_uboot(opensbi_fw_jump, uboot_smode):
    p = _vmlab_run("--bios", str(opensbi_fw_jump), "--kernel", str(uboot_smode))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "OpenSBI" in out and "Domain0 Next Mode         : S-mode" in out
    assert out.index("OpenSBI") < out.index("U-Boot 2023.01") < out.index("GNU ld")
    assert "handler mret" in p.stderr and "handler csr" in p.stderr


def test_opensbi_delegates_as_it_would_on_hardware(opensbi_fw_jump, uboot_smode):
    """OpenSBI's own CSR writes land in the virtual hart: it delegates the S-level traps
    and interrupts, and the hand-over to U-Boot is an emulated mret into vS."""
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20)
    vm.boot(bios=opensbi_fw_jump, kernel=uboot_smode)
    r = vm.run(instructions=30_000_000, until_output="Hit any key")
    assert r.reason == "output"
    v = vm.vcpus[0]
    assert v.priv == 1
    # a vCPU has no H extension (misa.H clear), so OpenSBI delegates no VS interrupts and
    # none of H's causes -- as it does on a hart without H
    assert v.csr("misa") & (1 << 7) == 0
    assert v.csr("mideleg") == 0x222 and v.csr("medeleg") == 0xB109
    assert v.csr("mtvec") >> 20 == 0x800                   # OpenSBI's handler in its own RAM
    assert vm.trace.count(EXIT, 2) > 100                   # CSR probes and accesses


def test_opensbi_with_two_vcpus_boots_uboot_on_one_and_parks_the_other(opensbi_fw_jump,
                                                                         uboot_smode):
    from vmlab.hv.trace import SCHED
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, vcpus=2)
    vm.boot(bios=opensbi_fw_jump, kernel=uboot_smode)
    r = vm.run(instructions=60_000_000, until_output="Hit any key")
    assert r.reason == "output"
    assert "Domain0 HARTs             : 0*,1*" in vm.console_output
    assert {v.priv for v in vm.vcpus} == {1, 3}          # U-Boot in vS, the other in vM
    assert vm.trace.count(SCHED) > 0 and vm.trace.handler_counts["wfi"] > 0


def test_uboot_under_the_hw_backend_from_the_command_line(uboot_smode):
    """`--backend hw`: the same console; the exits are G-stage fills, not shadow fills."""
    p = _vmlab_run("--kernel", str(uboot_smode), "--backend", "hw")
    assert p.returncode == 0, p.stderr
    assert "U-Boot 2023.01" in p.stdout and p.stdout.rstrip().endswith("GNU ld")
    assert "handler g-fill" in p.stderr and "handler fill" not in p.stderr


def test_firmware_under_the_hw_backend_is_one_line_and_status_1(opensbi_fw_jump, uboot_smode):
    p = _vmlab_run("--bios", str(opensbi_fw_jump), "--kernel", str(uboot_smode), "--backend", "hw")
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1 and "bios" in p.stderr
