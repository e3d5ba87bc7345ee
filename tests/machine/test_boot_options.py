"""Boot options as QEMU's virt has them: --initrd, --append, --dtb, --dump-dtb, bare and --hv.

QEMU is the oracle: its own tree (``-machine dumpdtb``) for the same RAM, initrd and command
line says where the initrd goes and what /chosen must hold; its ``riscv,isa`` for a CPU with
the same letters as our misa says what the ISA string must start with.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oracles import need_tool
from vmlab.machine import Machine, MachineError
from vmlab.machine.csr import MISA_VALUE
from vmlab.machine.fdt import isa_from_misa, parse_dtb

RAM_BASE = 0x8000_0000
CPU_FLAGS = "h=false,v=false,zba=false,zbb=false,zbc=false,zbs=false,sstc=false,svpbmt=false"


def qemu_tree(tmp_path: Path, ram_mb: int, kernel: Path, initrd: Path | None, append: str,
              cpu: str = f"rv64,{CPU_FLAGS}"):
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    out = tmp_path / "qemu.dtb"
    cmd = [qemu, "-M", f"virt,dumpdtb={out}", "-cpu", cpu, "-m", f"{ram_mb}M",
           "-bios", "none", "-kernel", str(kernel), "-nographic"]
    if initrd is not None:
        cmd += ["-initrd", str(initrd)]
    if append:
        cmd += ["-append", append]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return parse_dtb(out.read_bytes())


def vmlab(*argv, stdin=subprocess.DEVNULL, timeout=600):
    return subprocess.run([sys.executable, "-m", "vmlab", *argv], capture_output=True,
                          stdin=stdin, timeout=timeout)


@pytest.fixture
def images(tmp_path):
    kernel = tmp_path / "kernel.bin"
    kernel.write_bytes(b"\x6f\x00\x00\x00" * 64)          # j . (raw, loaded at RAM_BASE)
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(range(256)) * 40 + b"odd")
    return kernel, initrd


def chosen(tree):
    return tree.find("/chosen")


@pytest.mark.parametrize("ram_mb", [64, 128, 256, 512])
def test_initrd_and_bootargs_land_where_qemu_puts_them(tmp_path, images, ram_mb):
    kernel, initrd = images
    theirs = chosen(qemu_tree(tmp_path, ram_mb, kernel, initrd, "console=ttyS0 quiet"))
    m = Machine(ram_size=ram_mb << 20)
    m.boot_virt(kernel=str(kernel), initrd=str(initrd), bootargs="console=ttyS0 quiet")
    ours = chosen(parse_dtb(m.boot_layout.dtb))
    for prop in ("linux,initrd-start", "linux,initrd-end", "bootargs"):
        assert ours.get(prop) == theirs.get(prop), prop
    start = ours.u32("linux,initrd-start")
    assert m.read_mem(start, initrd.stat().st_size) == initrd.read_bytes()
    assert m.read_mem(m.dtb_addr, len(m.boot_layout.dtb)) == m.boot_layout.dtb


def test_isa_follows_misa_and_matches_qemus_letters(tmp_path, images):
    """The letters come from misa: QEMU configured with the same letters writes the same
    single-letter part; our multi-letter extensions include QEMU's."""
    string, extensions = isa_from_misa(MISA_VALUE, ("zicsr", "zifencei", "zihintpause"))
    has_fd = bool(MISA_VALUE >> 5 & 1) and bool(MISA_VALUE >> 3 & 1)
    fd = "" if has_fd else "f=false,d=false,"
    h = "h=true," if MISA_VALUE >> 7 & 1 else ""              # (CPU_FLAGS says h=false)
    flags = CPU_FLAGS.replace("h=false,", h)
    theirs = qemu_tree(tmp_path, 128, images[0], None, "", cpu=f"rv64,{fd}{flags}")
    qemu_isa = theirs.find("/cpus/cpu@0").string("riscv,isa")
    assert qemu_isa.split("_")[0] == string.split("_")[0]
    m = Machine(ram_size=64 << 20)
    m.boot_virt(kernel=str(images[0]))
    cpu = parse_dtb(m.boot_layout.dtb).find("/cpus/cpu@0")
    ours = cpu.string("riscv,isa").split("_")
    assert ours[0] == qemu_isa.split("_")[0]
    assert set(qemu_isa.split("_")[1:]) <= set(ours[1:])
    assert cpu.strings("riscv,isa-extensions")[:len(ours[0]) - 4] == list(ours[0][4:])
    assert cpu.string("riscv,isa-base") == "rv64i"


def test_isa_from_misa_letters():
    misa = (2 << 62) | sum(1 << (ord(c) - ord("A")) for c in "ACDFIMSU")
    string, exts = isa_from_misa(misa, ("zicsr",))
    assert string == "rv64imafdc_zicsr"          # canonical order; S and U are not letters
    assert exts == ["i", "m", "a", "f", "d", "c", "zicsr"]


def test_a_given_dtb_is_used_with_chosen_updated(tmp_path, images):
    kernel, initrd = images
    theirs = qemu_tree(tmp_path, 128, kernel, None, "")
    given = tmp_path / "given.dtb"
    given.write_bytes((tmp_path / "qemu.dtb").read_bytes())
    m = Machine(ram_size=128 << 20)
    m.boot_virt(kernel=str(kernel), dtb=str(given), initrd=str(initrd), bootargs="x=1")
    tree = parse_dtb(m.read_mem(m.dtb_addr, len(m.boot_layout.dtb)))
    assert tree.find("/cpus/cpu@0").get("mmu-type") == theirs.find("/cpus/cpu@0").get("mmu-type")
    assert chosen(tree).string("bootargs") == "x=1"
    assert chosen(tree).u32("linux,initrd-start") == RAM_BASE + (64 << 20)


def test_garbage_dtb_and_initrd_without_kernel_are_refused(tmp_path, images):
    bad = tmp_path / "bad.dtb"
    bad.write_bytes(b"not a tree at all, no magic here")
    with pytest.raises(MachineError, match="not a device tree"):
        Machine(ram_size=64 << 20).boot_virt(kernel=str(images[0]), dtb=str(bad))
    with pytest.raises(MachineError, match="needs a kernel"):
        Machine(ram_size=64 << 20).boot_virt(bios=str(images[0]), initrd=str(images[1]))


def test_ram_too_small_for_image_and_tree_names_the_minimum(tmp_path):
    """Issue 16 item 4: 1 MiB used to be accepted and the tree written over the image."""
    kernel = tmp_path / "big.bin"
    kernel.write_bytes(b"\x13\x00\x00\x00" * (300 << 10))   # 1.2 MiB of nops
    with pytest.raises(MachineError, match=r"too small .* at least (\d+) MiB") as err:
        Machine(ram_size=1 << 20).boot_virt(kernel=str(kernel))
    need = int(err.value.args[0].rsplit("at least ", 1)[1].split()[0])
    with pytest.raises(MachineError, match="too small"):
        Machine(ram_size=(need - 1) << 20).boot_virt(kernel=str(kernel))
    m = Machine(ram_size=need << 20)
    m.boot_virt(kernel=str(kernel))
    assert m.dtb_addr >= RAM_BASE + kernel.stat().st_size
    r = vmlab("run", "--bios", "none", "--kernel", str(kernel), "--ram", "1M")
    assert r.returncode == 1 and b"at least" in r.stderr and b"Traceback" not in r.stderr


@pytest.mark.parametrize("hv", [[], ["--hv"]])
def test_dump_dtb_on_the_command_line(tmp_path, images, hv):
    kernel, initrd = images
    out = tmp_path / "out.dtb"
    r = vmlab("run", *hv, "--bios", "none", "--kernel", str(kernel), "--initrd", str(initrd),
              "--append", "hello=world", "--dump-dtb", str(out), "--ram", "64M")
    assert r.returncode == 0, r.stderr
    tree = parse_dtb(out.read_bytes())
    assert chosen(tree).string("bootargs") == "hello=world"
    assert chosen(tree).u32("linux,initrd-end") - chosen(tree).u32("linux,initrd-start") \
        == initrd.stat().st_size


def test_a_vm_gets_the_same_boot_layout_and_the_isa_it_virtualizes(images):
    from vmlab.hv.vm import Hypervisor
    kernel, initrd = images
    m = Machine(ram_size=128 << 20)
    m.boot_virt(kernel=str(kernel), initrd=str(initrd), bootargs="a=b")
    hv = Hypervisor(Machine(ram_size=192 << 20))
    vm = hv.create_vm(ram_size=128 << 20)
    vm.boot(bios=str(kernel), initrd=None, bootargs="a=b")
    vm2 = hv.create_vm(ram_size=128 << 20)
    vm2.boot(kernel=str(kernel), initrd=str(initrd), bootargs="a=b")
    ours, theirs = parse_dtb(m.boot_layout.dtb), parse_dtb(vm2.boot_layout.dtb)
    assert chosen(ours).props == chosen(theirs).props
    assert vm2.mem.read(chosen(theirs).u32("linux,initrd-start"), 10) == initrd.read_bytes()[:10]
    # the vCPU offers the ISA of the hart it runs on, less H: trap-and-emulate gives a guest
    # no VS-mode of its own (the ISA of a board built without H)
    cpu = theirs.find("/cpus/cpu@0")
    without_h = parse_dtb(Machine(ram_size=128 << 20, h_extension=False).device_tree().to_dtb())
    assert cpu.get("riscv,isa") == without_h.find("/cpus/cpu@0").get("riscv,isa")
    assert cpu.string("riscv,isa").split("_")[0] + "h" == ours.find("/cpus/cpu@0").string("riscv,isa").split("_")[0]


def test_one_limit_on_harts_for_machines_and_vms():
    from vmlab.hv.vm import Hypervisor
    hv = Hypervisor(Machine(ram_size=16 << 20))
    for n in (0, 9, 100000):
        with pytest.raises(MachineError, match="harts must be 1..8"):
            Machine(ram_size=1 << 20, harts=n)
        with pytest.raises(MachineError, match="harts must be 1..8"):
            hv.create_vm(ram_size=1 << 20, vcpus=n)


def test_an_explicit_bios_counts_for_the_linux_guest_under_hv(monkeypatch, tmp_path):
    """`vmlab run --guest linux --hv --bios fw_jump.elf` boots OpenSBI in virtual M-mode: an
    explicit --bios is used even where no firmware is the default (the hypervisor's SBI)."""
    from types import SimpleNamespace

    from vmlab.guests import linux
    from vmlab.machine import cli
    fw = tmp_path / "fw.elf"
    fw.write_bytes(b"\x7fELF")
    monkeypatch.setattr(linux, "boot_files", lambda: (tmp_path / "Image", tmp_path / "initrd",
                                                      "console=ttyS0"))
    args = SimpleNamespace(elf=None, kernel=None, initrd=None, bios=str(fw), append="", dtb=None)
    assert cli._guest_images(args, default_bios=False).bios == str(fw)
    args.bios = None
    assert cli._guest_images(args, default_bios=False).bios is None
