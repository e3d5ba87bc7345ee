"""diskirq: a minimal interrupt-driven virtio disk driver (as a teaching OS writes one --
low feature word only, never VERSION_1, one request at a time, completion by PLIC
interrupt) reads and writes blocks, bare and as a guest of the hypervisor.

The checksums the guest prints are recomputed here from the image file; the blocks it wrote
are read back from the file; and every request took exactly one claimed interrupt, none
spurious (an interrupt storm or a lost interrupt shows as a wrong count)."""
from __future__ import annotations

import os

import pytest

from vmlab.asm import assemble
from vmlab.guests import source
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

REQUESTS = 8 + 8 + 8            # reads of 0..7, writes of 8..15, reads of 8..15


def checksum(block: bytes) -> int:
    c = 0
    for b in block:
        c = (c * 31 + b) & ((1 << 64) - 1)
    return c


def pattern(sector: int) -> bytes:
    return bytes((sector * 7 + i * 13) & 0xFF for i in range(512))


@pytest.fixture(scope="module")
def elf():
    return assemble(source("diskirq"), base=0x8000_0000, filename="diskirq.s").elf


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(16 * 512))
    return path


def run_bare(elf, image):
    m = Machine(ram_size=16 << 20, drive=str(image))
    m.boot_virt(kernel=elf)
    r = m.run(instructions=20_000_000)
    m.close()
    return r, m.console_output


def run_guest(elf, image):
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vm = hv.create_vm(ram_size=16 << 20, drive=str(image))
    vm.boot(bios=elf)                       # a bare ELF: virtual M-mode
    r = vm.run(instructions=20_000_000)
    vm.close_devices()
    return r, vm.console_output


@pytest.mark.parametrize("run", [run_bare, run_guest], ids=["bare", "guest"])
def test_reads_and_writes_with_checksums(elf, image, run):
    original = image.read_bytes()
    r, console = run(elf, image)
    assert r.reason == "halt" and r.exit_code == 0, console
    lines = console.strip().splitlines()
    for s in range(8):
        assert lines[s] == f"r {s} {checksum(original[s * 512:(s + 1) * 512]):016x}"
    for s in range(8, 16):
        assert lines[s] == f"w {s} {checksum(pattern(s)):016x} ok"
    assert lines[16] == f"irqs {REQUESTS} spurious 0"
    data = image.read_bytes()
    assert data[:8 * 512] == original[:8 * 512]
    assert all(data[s * 512:(s + 1) * 512] == pattern(s) for s in range(8, 16))
