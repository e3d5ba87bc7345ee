"""The teaching OS under the hw backend (the H extension): the same console as under shadow,
with the exits the hardware still takes -- G-stage fills, SBI calls, device accesses, the host
timer -- and none of the ones it keeps inside the guest (its CSRs, sret, sfence.vma, its own
system calls and page faults)."""
from __future__ import annotations

import pytest

from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG, SHADOW

DISK_TEXT = b"Hello from sector 0 of the disk!\n"
STI = INTERRUPT_FLAG | 5


def _ticks(vm, program) -> int:
    return int.from_bytes(vm.mem.read(program.symbols["ticks"], 8), "little")


def _run(program, backend, disk=None):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk,
                                                            backend=backend)
    vm.boot(kernel=program.elf)
    r = vm.run(instructions=200_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    return vm


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    path = tmp_path_factory.mktemp("hw") / "disk.img"
    path.write_bytes(DISK_TEXT + bytes(8 * 512 - len(DISK_TEXT)))
    return path


@pytest.fixture(scope="module")
def teachos():
    return pytest.importorskip("vmlab.guests.teachos").build()


@pytest.fixture(scope="module")
def both(teachos, disk):
    """teachos with its disk to its power-off, under shadow and under hw."""
    return _run(teachos, "shadow", disk), _run(teachos, "hw", disk)


def _exits(vm) -> int:
    return sum(vm.trace.by_cause(EXIT).values())


def test_same_console_under_shadow_and_hw(both):
    shadow, hw = both
    assert hw.backend == "hw" and shadow.backend == "shadow"
    assert hw.console_output == shadow.console_output
    assert "the disk says: Hello from sector 0" in hw.console_output
    assert "teachos: powering off" in hw.console_output
    assert hw.devices.virtio.requests >= 1


def test_hw_exits_are_few_and_never_shadow_paging(both, teachos):
    shadow, hw = both
    print(f"\nexits: shadow {_exits(shadow)} {shadow.trace.by_cause(EXIT)}"
          f"\n       hw     {_exits(hw)} {hw.trace.by_cause(EXIT)}"
          f"\nshadow events: shadow {shadow.trace.count(SHADOW)}, hw {hw.trace.count(SHADOW)}")
    assert hw.trace.count(SHADOW) == 0 < shadow.trace.count(SHADOW)
    assert _exits(hw) < _exits(shadow)
    # what the guest keeps to itself under hw: its CSRs, sret, its programs' system calls,
    # its page faults (shadow: illegal instruction 2, ecall from U 8, page faults 12/13/15)
    hw_causes = hw.trace.by_cause(EXIT)
    assert not {2, 8, 12, 13, 15} & set(hw_causes)
    assert shadow.trace.count(EXIT, 8) > 0 and shadow.trace.count(EXIT, 2) > 0
    # what it still costs: G-stage fills (once per guest page), SBI as ecall from VS
    assert hw.trace.handler_counts["g-fill"] == hw.hw.gstage.fills > 0
    assert "fill" not in hw.trace.handler_counts
    assert hw_causes.get(10) == shadow.trace.count(EXIT, 9) == sum(hw.sbi_calls.values())
    assert hw.trace.handler_counts["mmio"] == shadow.trace.handler_counts["mmio"]
    assert hw.trace.count(INJECT, 8) == 0                  # nothing reflected: delegated


def test_timer_ticks_are_host_timer_exits_the_guest_takes_itself(both, teachos):
    shadow, hw = both
    ticks = _ticks(hw, teachos)
    assert ticks > 3 and ticks == _ticks(shadow, teachos)
    assert hw.trace.count(EXIT, STI) == ticks              # the host timer: one exit a tick
    assert hw.trace.count(INJECT, STI) == 0                # VSTIP in hvip, no injection


def test_stimecmp_timer_is_emulated_as_a_virtual_instruction(disk):
    """teachos arming its timer with stimecmp (Sstc): the hart has no vstimecmp, so each
    write is a virtual-instruction exit (22) the hypervisor emulates."""
    program = pytest.importorskip("vmlab.guests.teachos").build(sstc_timer=True)
    shadow, hw = _run(program, "shadow", disk), _run(program, "hw", disk)
    assert hw.console_output == shadow.console_output
    assert hw.trace.count(EXIT, 22) == hw.trace.handler_counts["csr"] > 3
    assert _ticks(hw, program) == _ticks(shadow, program) > 3
    assert hw.trace.count(EXIT, 10) == shadow.trace.count(EXIT, 9)     # the other SBI calls


def test_hw_vm_says_it_has_no_shadow_and_no_h_for_the_guest(teachos):
    from vmlab.hv.vm import HvError, Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vm = hv.create_vm(ram_size=16 << 20, backend="hw")
    assert vm.shadow.roots == {} and not vm.shadow.counters
    assert "no shadow" in repr(vm.shadow)
    assert not vm.fast_exits
    isa = vm.device_tree().find("/cpus/cpu@0").string("riscv,isa")
    assert isa.startswith("rv64i") and "h" not in isa.split("_")[0][4:]   # no nesting
    with pytest.raises(HvError, match="virtual M-mode"):
        vm.boot(bios=teachos.elf, kernel=teachos.elf)
    with pytest.raises(HvError, match="unknown backend 'vtx'"):
        hv.create_vm(ram_size=16 << 20, backend="vtx")
