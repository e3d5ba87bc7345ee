"""The teaching OS as a guest: the same console as on the bare machine (under OpenSBI), and
exits that match what its code does -- one timer exit and one injection per tick, one SBI
exit per SBI call, every user ecall reflected into the kernel."""
from __future__ import annotations

import pytest

from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG

DISK_TEXT = b"Hello from sector 0 of the disk!\n"
STI = INTERRUPT_FLAG | 5


@pytest.fixture(scope="module")
def teachos():
    mod = pytest.importorskip("vmlab.guests.teachos")
    return mod.build()


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(DISK_TEXT + bytes(8 * 512 - len(DISK_TEXT)))
    return path


def _ticks(read, program) -> int:
    return int.from_bytes(read(program.symbols["ticks"], 8), "little")


@pytest.fixture
def guest_run(teachos, disk):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk)
    vm.boot(kernel=teachos.elf)
    r = vm.run(instructions=200_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    return vm


def test_same_console_bare_and_as_a_guest(teachos, disk, guest_run, opensbi_fw_jump):
    from vmlab.machine import Machine
    m = Machine(ram_size=128 << 20, drive=str(disk))
    m.boot_virt(bios=opensbi_fw_jump, kernel=teachos.elf)
    assert m.run(instructions=300_000_000).reason == "halt"
    bare = m.console_output
    bare = bare[bare.index("teachos: booting"):]
    assert guest_run.console_output == bare
    assert "the disk says: Hello from sector 0" in bare
    assert _ticks(m.read_mem, teachos) == _ticks(guest_run.mem.read, teachos)


def test_exits_match_what_the_code_does(teachos, guest_run):
    vm, trace = guest_run, guest_run.trace
    ticks = _ticks(vm.mem.read, teachos)
    assert ticks > 3
    assert trace.count(EXIT, STI) == ticks                 # one host timer exit per tick
    assert trace.count(INJECT, STI) == ticks               # and one injected interrupt
    assert trace.count(EXIT, 9) == sum(vm.sbi_calls.values()) == trace.handler_counts["sbi"]
    assert trace.count(EXIT, 8) == trace.count(INJECT, 8)  # syscalls: reflected into vS
    assert trace.count(INJECT, 13) == 1                    # the reader's fault on kernel memory
    assert trace.handler_counts["mmio"] == vm.devices.accesses
    assert vm.devices.virtio.requests >= 1


def test_vmlab_demo_boots_teachos_as_a_guest(teachos):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "vmlab", "demo"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert "teachos: powering off" in p.stdout and "exits by cause:" in p.stdout
    assert "interrupt supervisor_timer" in p.stdout and "supervisor_ecall" in p.stdout


def test_both_shadow_strategies_give_the_same_run(teachos, disk, guest_run):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk,
                                                            shadow="write-protect")
    vm.boot(kernel=teachos.elf)
    assert vm.run(instructions=200_000_000).reason == "halt"
    assert vm.console_output == guest_run.console_output
    assert vm.shadow.counters["flushes"] == 0            # sfence.vma costs nothing here
