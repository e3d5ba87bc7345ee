"""teachos's own balloon driver (balloon.s) as a guest: it inflates to a target set from
Python -- the host gets exactly those pages' frames back -- and deflates again."""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.hv.memory import BALLOONED, NO_FRAME, PAGE

BAL_POOL = 0x8400_0000           # balloon.s: the pages its balloon takes, from here up
TARGET = 300                     # pages: two requests of 256 and 44


@pytest.fixture(scope="module")
def program():
    from vmlab.guests import teachos
    return teachos.build(balloon=True)


def guest(program):
    from vmlab.hv.balloon import Balloon
    from vmlab.hv.hostmem import HostMemory
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=192 << 20))
    vm = HostMemory(hv).create_vm(ram_size=128 << 20)
    balloon = Balloon(vm)
    # the pages the balloon will take were in use before (as if by an earlier program):
    # each has a host frame, which inflating must give back
    vm.mem.write(BAL_POOL, bytes(range(1, 256)) * (TARGET * PAGE // 255 + 1))
    vm.boot(kernel=program.elf)
    return vm, balloon


def run_until(vm, done, slices: int = 400) -> bool:
    for _ in range(slices):
        if done():
            return True
        if vm.run(instructions=20_000).reason not in ("budget", "idle"):
            return done()
    return done()


def pool_pages(vm, n):
    first = vm.mem.page_of(BAL_POOL)
    return slice(first, first + n)


def test_teachos_inflates_to_a_target_then_deflates(program):
    vm, balloon = guest(program)
    assert run_until(vm, lambda: "virtio-balloon: ready" in vm.console_output)
    pool = pool_pages(vm, TARGET)
    assert (vm.mem.page_map[pool] != NO_FRAME).all()
    free, f = vm.frames.free_count, vm.frames
    held = [f.index(int(e) & ~(PAGE - 1)) for e in vm.mem.page_map[pool]]
    assert (f.owner[held] == vm.id).all()
    balloon.set_target(TARGET)
    assert run_until(vm, lambda: balloon.actual == TARGET)
    assert (vm.mem.state[pool] == BALLOONED).all()
    assert (vm.mem.page_map[pool] == NO_FRAME).all()
    assert not (f.owner[held] == vm.id).any()              # every one of them came back
    assert f.free_count - free >= TARGET - 10     # (a few went on to the shadow tables)
    assert balloon.counters["inflated"] == TARGET and balloon.device.negotiated == set()
    assert int(np.count_nonzero(vm.mem.state == BALLOONED)) == TARGET   # and no other page
    balloon.set_target(TARGET - 100)
    assert run_until(vm, lambda: balloon.actual == TARGET - 100)
    assert (vm.mem.state[pool_pages(vm, TARGET - 100)] == BALLOONED).all()
    assert not (vm.mem.state[pool][TARGET - 100:] == BALLOONED).any()   # the top 100 left
    balloon.set_target(0)
    assert run_until(vm, lambda: balloon.actual == 0)
    assert not (vm.mem.state == BALLOONED).any() and balloon.counters["deflated"] == TARGET
    r = vm.run(instructions=200_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)          # teachos ran on and finished


def test_without_a_balloon_teachos_says_so_and_runs_as_before(program):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20)
    vm.boot(kernel=program.elf)
    r = vm.run(instructions=200_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    assert "virtio-balloon: none" in vm.console_output


@pytest.mark.slow
def test_qemu_finds_the_same_balloon(program, opensbi_fw_jump, tmp_path):
    """QEMU's own virtio-balloon in slot 1 (virtio-mmio-bus.1 = 0x1000_2000): the driver
    negotiates with it, and teachos prints what it prints on our board."""
    import subprocess
    from oracles import need_tool
    from vmlab.machine import Machine
    kernel = tmp_path / "teachos.elf"
    program.write_elf(kernel)
    r = subprocess.run([need_tool("qemu-system-riscv64", "qemu-system-misc"), "-M", "virt",
                        "-m", "128M", "-nographic", "-bios", str(opensbi_fw_jump),
                        "-kernel", str(kernel), "-global", "virtio-mmio.force-legacy=false",
                        "-device", "virtio-balloon-device,bus=virtio-mmio-bus.1"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "virtio-balloon: ready" in r.stdout
    m = Machine(ram_size=128 << 20, balloon=True)
    m.boot_virt(bios=opensbi_fw_jump, kernel=program.elf)
    assert m.run(instructions=300_000_000).reason == "halt"
    ours = m.console_output
    assert ours[ours.index("teachos: booting"):] == r.stdout[r.stdout.index("teachos: booting"):].replace("\r\n", "\n")


def test_a_reboot_keeps_the_balloon_and_its_pages(program):
    vm, balloon = guest(program)
    balloon.set_target(TARGET)                   # before boot: the driver inflates at once
    assert run_until(vm, lambda: balloon.actual == TARGET)
    assert vm.run(instructions=200_000_000).reason == "halt"
    frames_in_use = vm.frames.pool_frames - vm.frames.free_count
    vm.reboot()
    # the device is still plugged in (and in the device tree), reset as a board reset
    # resets it: the driver's count is gone, the host's target is not
    assert vm.balloon is balloon and balloon.device in [s[3] for s in vm.devices.slots]
    assert "virtio_mmio@10002000" in [n.name for n in vm.device_tree().find("/soc").children]
    assert (balloon.actual, balloon.target, balloon.device.status) == (0, TARGET, 0)
    pool = pool_pages(vm, TARGET)
    assert (vm.mem.state[pool] == BALLOONED).all()          # still without frames
    assert int(np.count_nonzero(vm.mem.state == BALLOONED)) == TARGET
    assert run_until(vm, lambda: balloon.actual == TARGET)  # the new boot's driver re-inflates
    assert int(np.count_nonzero(vm.mem.state == BALLOONED)) == TARGET   # the same pages
    assert balloon.counters["inflated"] == TARGET             # counted once
    assert vm.frames.pool_frames - vm.frames.free_count <= frames_in_use + 16
    balloon.set_target(0)
    assert run_until(vm, lambda: balloon.actual == 0)
    assert not (vm.mem.state == BALLOONED).any()


@pytest.mark.parametrize("flag, says", [(["--balloon"], "virtio-balloon: ready"), ([], None)])
def test_cli_plugs_the_balloon_into_a_guest(program, tmp_path, flag, says):
    """``vmlab run --hv --balloon`` gives the guest the device (its tree lists it and the
    driver finds it); without the flag the guest has none."""
    import subprocess
    import sys
    elf = tmp_path / "teachos.elf"
    elf.write_bytes(program.elf)
    run = subprocess.run([sys.executable, "-m", "vmlab", "run", "--hv", *flag, "--kernel", str(elf),
                          "-n", "50000000"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]             # teachos powers off with 0
    assert "teachos: all processes are done" in run.stdout
    assert ("virtio-balloon: ready" in run.stdout) == (says is not None), run.stdout[-2000:]
