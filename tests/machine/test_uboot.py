"""The headline: Debian's OpenSBI and U-Boot boot to a prompt and answer ``version``.

These are the issue's "done when" commands, run through the real command line.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from vmlab.machine import Machine

UBOOT_ARGS = ["--send-on", "Hit any key", " ", "--send-on", "=>", r"version\r",
              "--until", "GNU ld"]


def vmlab_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vmlab", "run", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)


@pytest.mark.slow
def test_opensbi_then_smode_uboot_reaches_prompt(opensbi_fw_jump, uboot_smode):
    p = vmlab_run("--bios", str(opensbi_fw_jump), "--kernel", str(uboot_smode), *UBOOT_ARGS,
                  "-n", "200000000", "--stats")
    assert p.returncode == 0, p.stderr
    assert "OpenSBI v" in p.stdout and "Boot HART ISA Extensions" in p.stdout
    assert "=> version" in p.stdout and "U-Boot 20" in p.stdout
    assert p.stdout.rstrip().endswith("GNU ld")
    assert "MIPS" in p.stderr


@pytest.mark.slow
def test_mmode_uboot_reaches_prompt(uboot_mmode):
    p = vmlab_run("--bios", str(uboot_mmode), *UBOOT_ARGS, "-n", "200000000")
    assert p.returncode == 0, p.stderr
    assert "=> version" in p.stdout and p.stdout.rstrip().endswith("GNU ld")


@pytest.mark.slow
def test_uboot_through_the_api_with_a_snapshot_in_the_middle(opensbi_fw_jump, uboot_smode,
                                                             tmp_path):
    m = Machine()
    m.boot_virt(bios=opensbi_fw_jump, kernel=uboot_smode)
    assert m.run(instructions=50_000_000, until_output="Hit any key").reason == "output"
    m.snapshot(tmp_path / "uboot.npz")
    m = Machine.restore(tmp_path / "uboot.npz")
    m.send_input(" ")
    assert m.run(instructions=20_000_000, until_output="=>").reason == "output"
    m.send_input("sbi\r")
    assert m.run(instructions=20_000_000, until_output="=>").reason == "output"
    out = m.console_output
    assert "SBI 1.0" in out or "OpenSBI" in out.split("=> sbi", 1)[1]
    m.send_input("reset\r")
    r = m.run(instructions=300_000_000)         # U-Boot waits 100 ms before resetting
    assert r.reason == "reset"


def test_cli_bare_elf_runs_in_m_mode_and_returns_htif_code(tmp_path):
    from machine_asm import assemble_elf
    elf, _ = assemble_elf("""
        .globl _start
    _start:
        csrr t0, mhartid
        la t0, tohost
        li t1, (3 << 1) | 1
        sd t1, 0(t0)
    1:  j 1b
        .balign 8
    tohost: .dword 0
    fromhost: .dword 0
    """)
    path = tmp_path / "exit3.elf"
    path.write_bytes(elf)
    assert vmlab_run(str(path)).returncode == 3
    p = vmlab_run(str(path), "-n", "2")
    assert p.returncode == 1


def test_cli_user_errors_have_no_traceback(tmp_path):
    p = vmlab_run(str(tmp_path / "missing.elf"))
    assert p.returncode == 1 and "Traceback" not in p.stderr and "no such file" in p.stderr
    p = vmlab_run("--ram", "lots", "--bios", "none", "--kernel", str(tmp_path))
    assert p.returncode == 1 and "Traceback" not in p.stderr


@pytest.mark.slow
def test_two_harts_boot_opensbi_and_uboot(opensbi_fw_jump, uboot_smode):
    p = vmlab_run("--harts", "2", "--bios", str(opensbi_fw_jump), "--kernel", str(uboot_smode),
                  *UBOOT_ARGS, "-n", "300000000")
    assert p.returncode == 0, p.stderr
    assert "Platform HART Count       : 2" in p.stdout
    assert p.stdout.rstrip().endswith("GNU ld")


@pytest.mark.slow
def test_teachos_with_a_disk_under_opensbi_and_snapshot(opensbi_fw_jump, tmp_path):
    """The project's teaching OS: Sv39, U-mode processes, timer interrupts, virtio-blk."""
    from vmlab.guests import teachos
    import subprocess as sp
    sp.run([sys.executable, "-m", "vmlab.guests.teachos", str(tmp_path)], check=True,
           capture_output=True)
    m = Machine(drive=str(tmp_path / "disk.img"))
    m.boot_virt(bios=opensbi_fw_jump, kernel=tmp_path / "teachos.elf")
    m.run(instructions=20_000_000)
    m.snapshot(tmp_path / "mid.npz")
    r = m.run(instructions=200_000_000)
    m2 = Machine.restore(tmp_path / "mid.npz")
    r2 = m2.run(instructions=200_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0) == (r2.reason, r2.exit_code)
    out = m.console_output
    assert "Hello from sector 0" in out and "teachos: powering off" in out
    assert m2.console_output == out
    assert m.counters["interrupts"].get("supervisor_timer", 0) > 0
    assert teachos is not None
