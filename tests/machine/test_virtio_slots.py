"""The board's eight virtio-mmio slots, as QEMU's virt lays them out: the device-tree nodes
against QEMU's own tree, the compiled bus routing every slot to its device, a balloon in
slot 1 on the bare machine -- and Debian's Linux, bare, inflating and deflating it with
its own virtio_balloon driver."""
from __future__ import annotations

import re
import subprocess
import time

import pytest

from machine_asm import HARNESS, assemble_elf
from oracles import need_tool
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.machine.devices import P_PENDING
from vmlab.machine.fdt import parse_dtb, virt_tree
from vmlab.machine.memmap import VIRTIO_SLOTS, virtio_slot
from vmlab.machine.virtio_mmio import ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK

RAM = 0x8000_0000


def virtio_nodes(tree) -> list:
    return [n for n in tree.find("/soc").children if n.name.startswith("virtio_mmio@")]


def test_every_slot_is_described_as_qemu_describes_it(tmp_path):
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    out = tmp_path / "virt.dtb"
    subprocess.run([qemu, "-M", f"virt,dumpdtb={out}", "-m", "128M", "-nographic"],
                   check=True, capture_output=True, timeout=60)
    theirs = parse_dtb(out.read_bytes())
    ours = parse_dtb(virt_tree(RAM, 128 << 20, 1, virtio_slots=range(1, VIRTIO_SLOTS)).to_dtb())
    mine, qemus = virtio_nodes(ours), virtio_nodes(theirs)
    assert [n.name for n in mine] == [n.name for n in qemus]      # same nodes, same order
    for a, b in zip(mine, qemus):
        for prop in ("compatible", "reg", "interrupts"):
            assert a.props[prop] == b.props[prop], (a.name, prop)
    assert [virtio_slot(n)[0] for n in range(VIRTIO_SLOTS)] == sorted(
        int(n.name.split("@")[1], 16) for n in qemus)


def test_only_present_devices_are_in_the_tree():
    names = [n.name for n in virtio_nodes(Machine(ram_size=4 << 20).device_tree())]
    assert names == []
    names = [n.name for n in virtio_nodes(Machine(ram_size=4 << 20, balloon=True).device_tree())]
    assert names == ["virtio_mmio@10002000"]
    tree = Machine(ram_size=4 << 20, balloon=True).device_tree()
    assert virtio_nodes(tree)[0].u32("interrupts") == 2


def test_a_balloon_cannot_take_a_taken_or_missing_slot():
    m = Machine(ram_size=4 << 20, balloon=True)
    with pytest.raises(Exception, match="slot 1 is taken"):
        m.attach_balloon(1)
    with pytest.raises(ValueError, match="slots are 0..7"):
        m.attach_balloon(8)


PROBE = """
    li      t0, 0x10002000          # slot 1: the balloon
    lw      s1, 0(t0)               # magic
    lw      s2, 8(t0)               # device id
    li      t1, 0x10003000          # slot 2: nothing there
    lw      s3, 8(t1)               # device id 0
    lw      s7, 0(t1)               # but a virtio-mmio transport, as on QEMU
    sw      s7, 0x70(t1)            # ignored
    li      t1, 0x10008ffc          # the last word of the last slot
    lw      s4, 0(t1)
    li      t1, {status}
    sw      t1, 0x70(t0)            # status: the driver is ready
    lw      s5, 0x70(t0)
    lw      s6, 0x100(t0)           # config: num_pages
"""


def test_the_compiled_bus_routes_each_slot_to_its_device():
    status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK
    elf, _ = assemble_elf(HARNESS.format(body=PROBE.format(status=status), extra=""))
    m = Machine(ram_size=4 << 20, balloon=True)
    m.harts[0].pc = m.load_elf(elf)
    m.balloon.set_target(3)                      # before DRIVER_OK: no interrupt yet
    assert m.run(instructions=100_000).reason == "halt"
    h = m.harts[0]
    assert h.reg("s1") == 0x74726976 and h.reg("s2") == 5
    assert h.reg("s3") == 0 and h.reg("s4") == 0 and h.reg("s7") == 0x74726976
    assert h.reg("s5") == status and h.reg("s6") == 3
    assert not m.dev[P_PENDING] >> 2 & 1
    m.set_balloon_target(7)                      # the host asks: config change on wire 2
    assert m.dev[P_PENDING] >> 2 & 1 and not m.dev[P_PENDING] >> 1 & 1
    m.reset()                                    # a reset forgets the driver, not the target
    assert m.balloon.status == 0 and m.balloon.num_pages == 7


# --------------------------------------------------------------------------- Linux, bare

@pytest.mark.slow
def test_linux_bare_inflates_and_deflates_the_balloon():
    m, shell = bare_linux_shell(ram=128 << 20)
    assert "0x0005" in shell("cat /sys/bus/virtio/devices/*/device")

    def meminfo():
        return {k: int(v) for k, v in
                re.findall(r"^(MemTotal|MemFree):\s+(\d+) kB", shell("cat /proc/meminfo"), re.M)}

    before, target = meminfo(), (32 << 20) // 4096
    start, t0 = m.counters["time_ns"], time.perf_counter()
    m.set_balloon_target(target)
    assert run_until(m, lambda: m.balloon.actual == target)
    print(f"bare Linux inflating 32 MiB: {(m.counters['time_ns'] - start) / 1e6:.0f} ms "
          f"simulated, {time.perf_counter() - t0:.1f} s host")
    inflated = meminfo()
    # DEFLATE_ON_OOM (offered bare) makes Linux leave ballooned pages in MemTotal: they are
    # only taken from MemFree, to be given back if the guest runs short
    assert m.balloon.negotiated == {"stats_vq", "deflate_on_oom"}
    assert inflated["MemTotal"] == before["MemTotal"]
    assert before["MemFree"] - inflated["MemFree"] >= 28 << 10
    assert m.balloon.counters["inflated"] == target
    pfns_ok = all(L.RAM_BASE >> 12 <= p < (L.RAM_BASE + m.ram_size) >> 12 for p in m.ballooned)
    assert len(m.ballooned) == target and pfns_ok
    m.set_balloon_target(0)
    assert run_until(m, lambda: m.balloon.actual == 0)
    assert meminfo()["MemFree"] - inflated["MemFree"] >= 25 << 10 and not m.ballooned
    assert "vmlab#" in shell("echo still here")


def bare_linux_shell(ram: int):
    """OpenSBI + Debian's kernel and initramfs on the bare board with a balloon in slot 1;
    (machine, shell(command) -> output)."""
    from oracles import IN_CI, OPENSBI_FW_JUMP, need_file
    from vmlab.guests import linux
    try:
        kernel, initrd, cmdline = linux.boot_files()
    except linux.GuestMissing as exc:
        (pytest.fail if IN_CI else pytest.skip)(str(exc))
    m = Machine(ram_size=ram, balloon=True)
    m.boot_virt(bios=str(need_file(OPENSBI_FW_JUMP, "opensbi")), kernel=str(kernel),
                initrd=str(initrd), bootargs=cmdline)
    assert m.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"

    def shell(command: str) -> str:
        start = len(m.console_output)
        m.send_input(command + "\n")
        assert m.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
        return m.console_output[start:]
    return m, shell


def run_until(m, done, slices: int = 200) -> bool:
    for _ in range(slices):
        m.run(instructions=20_000_000)
        if done():
            return True
    return False
