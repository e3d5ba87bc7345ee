"""The device-tree writer against two independent readers (dtc, and QEMU's own tree).

Our reader alone would happily agree with our writer's mistakes, so every blob we write also goes
through ``dtc``; and the ``virt`` tree is compared, node by node, with the tree QEMU generates for
its own ``virt`` machine — the one OpenSBI and U-Boot are built to expect.
"""
from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from oracles import need_tool, need_file, OPENSBI_FW_JUMP, UBOOT_SMODE
from vmlab.machine.fdt import (DeviceTree, FdtError, Node, cells, parse_dtb, virt_dtb,
                               virt_tree, write_dtb)

RAM = 0x8000_0000


# --------------------------------------------------------------------------------- helpers

def dtc_roundtrip(blob: bytes, tmp_path: Path) -> bytes:
    """DTB → DTS → DTB through dtc: what dtc understood of our blob, re-encoded by dtc."""
    dtc = need_tool("dtc", "device-tree-compiler")
    src = tmp_path / "in.dtb"
    src.write_bytes(blob)
    dts = subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dts", str(src)], check=True,
                         capture_output=True).stdout
    return subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-"], input=dts, check=True,
                          capture_output=True).stdout


def as_dict(node: Node) -> dict:
    """A comparable picture of a subtree: properties and children, children order ignored."""
    return {"props": dict(node.props),
            "children": {c.name: as_dict(c) for c in node.children}}


def qemu_dtb(tmp_path: Path, harts: int, ram_mb: int = 128) -> DeviceTree:
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    out = tmp_path / f"qemu-{harts}.dtb"
    subprocess.run([qemu, "-M", f"virt,dumpdtb={out}", "-m", f"{ram_mb}M", "-smp", str(harts),
                    "-nographic"], check=True, capture_output=True, timeout=60)
    return parse_dtb(out.read_bytes())


# Properties whose value must match QEMU's exactly; references (phandles) are compared by the
# path of the node they point to, since the numbers themselves are arbitrary.
SAME_VALUE = ["compatible", "reg", "device_type", "interrupts", "clock-frequency", "status",
              "#address-cells", "#size-cells", "#interrupt-cells", "interrupt-controller",
              "timebase-frequency", "value", "offset", "ranges", "stdout-path"]
REFERENCES = {"interrupt-parent": 1, "regmap": 1, "interrupts-extended": 2, "cpu": 1}
# Nodes QEMU has and we leave out on purpose (see virt_dtb's docstring).
QEMU_ONLY = ("flash@", "pci@", "rtc@", "fw-cfg@", "platform-bus@", "pmu")


def phandle_paths(tree: DeviceTree) -> dict[int, str]:
    return {n.u32("phandle"): p for p, n in tree.root.walk() if "phandle" in n.props}


def resolved(tree: DeviceTree, node: Node, prop: str) -> list:
    """A reference property with each phandle replaced by its target's path."""
    paths = phandle_paths(tree)
    values, stride = node.cells(prop), REFERENCES[prop]
    return [paths[v] if i % stride == 0 else v for i, v in enumerate(values)]


# --------------------------------------------------------------------------- generic builder

def test_header_layout_follows_the_spec():
    tree = DeviceTree()
    tree.root.set("model", "x")
    tree.reservations.append((0x8000_0000, 0x1000))
    blob = write_dtb(tree)
    magic, total, off_struct, off_strings, off_rsv, version, last = \
        [int.from_bytes(blob[i:i + 4], "big") for i in range(0, 28, 4)]
    assert magic == 0xD00DFEED and total == len(blob)
    assert (version, last) == (17, 16)
    assert off_rsv % 8 == 0 and off_struct % 4 == 0
    assert off_rsv < off_struct < off_strings <= total
    assert blob[off_strings:].startswith(b"model\0")


def test_property_names_are_stored_once():
    tree = DeviceTree()
    for i in range(5):
        tree.root.add(f"n@{i}", {"compatible": "a", "reg": i})
    blob = write_dtb(tree)
    assert blob.count(b"compatible\0") == 1 and blob.count(b"reg\0") == 1


def test_value_encodings():
    n = Node("x")
    n.set("s", "ab").set("l", ["a", "bc"]).set("c", 5).set("cs", [1, 0xFFFFFFFF]).set("e")
    assert n.get("s") == b"ab\0"
    assert n.get("l") == b"a\0bc\0"
    assert n.get("c") == b"\0\0\0\x05"
    assert n.cells("cs") == [1, 0xFFFFFFFF]
    assert n.get("e") == b""
    assert n.strings("l") == ["a", "bc"]


def test_phandles_are_distinct_and_stable():
    tree = DeviceTree()
    a, b = tree.root.add("a"), tree.root.add("b")
    pa, pb = tree.phandle(a), tree.phandle(b)
    assert pa != pb and 0 < pa and 0 < pb
    assert tree.phandle(a) == pa


def test_reader_rejects_garbage():
    with pytest.raises(FdtError):
        parse_dtb(b"\0" * 64)
    blob = virt_dtb(RAM, 128 << 20, 1)
    with pytest.raises(FdtError):
        parse_dtb(blob[:len(blob) // 2])


names = st.from_regex(r"[a-z][a-z0-9,_-]{0,10}(@[0-9a-f]{1,8})?", fullmatch=True)
values = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
                   st.lists(st.integers(0, 2**32 - 1), max_size=6), st.just(True),
                   st.binary(max_size=9))


@st.composite
def trees(draw, depth=0):
    node = Node(draw(names) if depth else "")
    for key, value in draw(st.dictionaries(names.filter(lambda s: "@" not in s), values,
                                           max_size=4)).items():
        node.set(key, value)
    if depth < 3:
        kids = draw(st.lists(trees(depth + 1), max_size=3, unique_by=lambda n: n.name))
        node.children.extend(kids)
    return node


@settings(max_examples=60, derandomize=True, deadline=None)
@given(trees(), st.lists(st.tuples(st.integers(1, 2**64 - 1), st.integers(1, 2**64 - 1)),
                         max_size=3))
def test_any_tree_survives_our_reader(root, reservations):
    tree = DeviceTree(root=root, reservations=reservations, boot_cpuid=3)
    back = parse_dtb(write_dtb(tree))
    assert as_dict(back.root) == as_dict(root)
    assert back.reservations == reservations and back.boot_cpuid == 3


@settings(max_examples=15, derandomize=True, deadline=None)
@given(root=trees())
def test_any_tree_survives_dtc(root, tmp_path_factory):
    tree = DeviceTree(root=root)
    back = parse_dtb(dtc_roundtrip(write_dtb(tree), tmp_path_factory.mktemp("dtc")))
    assert as_dict(back.root) == as_dict(root)


# ------------------------------------------------------------------------------- virt tree

@pytest.mark.parametrize("harts", [1, 2, 4])
def test_virt_tree_survives_dtc(tmp_path, harts):
    blob = virt_dtb(RAM, 256 << 20, harts, bootargs="console=ttyS0")
    assert as_dict(parse_dtb(dtc_roundtrip(blob, tmp_path)).root) == as_dict(parse_dtb(blob).root)


@pytest.mark.parametrize("harts", [1, 2])
def test_virt_tree_matches_qemu(tmp_path, harts):
    ours = parse_dtb(virt_dtb(RAM, 128 << 20, harts))
    qemu = qemu_dtb(tmp_path, harts)
    qemu_paths = dict(qemu.root.walk())
    for path, node in ours.root.walk():
        assert path in qemu_paths, f"QEMU's virt has no {path}"
        theirs = qemu_paths[path]
        for prop in SAME_VALUE:
            if prop in node.props or prop in theirs.props:
                assert node.props.get(prop) == theirs.props.get(prop), f"{path} {prop}"
        for prop in REFERENCES:
            if prop in node.props or prop in theirs.props:
                assert resolved(ours, node, prop) == resolved(qemu, theirs, prop), f"{path} {prop}"
    ours_paths = {p for p, _ in ours.root.walk()}
    for path in qemu_paths:
        if path not in ours_paths and not path.startswith("/soc/virtio_mmio@1000"):
            assert any(part.startswith(QEMU_ONLY) for part in path.split("/")), path


def test_virt_isa_has_no_floating_point():
    tree = parse_dtb(virt_dtb(RAM, 128 << 20, 2))
    for hart in (0, 1):
        isa = tree.find(f"/cpus/cpu@{hart}").string("riscv,isa")
        base = isa.split("_")[0]
        assert base.startswith("rv64") and not set("fdq") & set(base[4:]), isa
        assert tree.find(f"/cpus/cpu@{hart}").string("mmu-type") == "riscv,sv39"


def test_virt_options():
    tree = virt_tree(RAM, 64 << 20, 1, bootargs="root=/dev/vda", virtio_blk=False,
                     stdout_path=False, timebase_hz=1_000_000)
    chosen = tree.find("/chosen")
    assert chosen.string("bootargs") == "root=/dev/vda" and "stdout-path" not in chosen.props
    assert not any(p.startswith("/soc/virtio") for p, _ in tree.root.walk())
    assert tree.find("/cpus").u32("timebase-frequency") == 1_000_000
    assert tree.find("/memory@80000000").cells("reg") == [0, RAM, 0, 64 << 20]


def test_virt_plic_contexts_are_m_then_s_per_hart():
    tree = parse_dtb(virt_dtb(RAM, 128 << 20, 3))
    wires = resolved(tree, tree.find("/soc/plic@c000000"), "interrupts-extended")
    expected = []
    for hart in range(3):
        intc = f"/cpus/cpu@{hart}/interrupt-controller"
        expected += [intc, 11, intc, 9]
    assert wires == expected


# ----------------------------------------------------------------------- real firmware on it

def _read_until(proc, pattern: bytes, seen: bytearray, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while pattern not in seen and time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return pattern in seen


@pytest.mark.slow
def test_opensbi_and_uboot_accept_our_tree_in_qemu(tmp_path):
    """Debian's firmware, on QEMU's hardware, given *our* tree, reaches U-Boot's prompt."""
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    # QEMU's -bios wants the flat image that sits next to the ELF.
    bios = need_file(OPENSBI_FW_JUMP.with_suffix(".bin"), "opensbi")
    kernel = need_file(UBOOT_SMODE, "u-boot-qemu")
    dtb = tmp_path / "virt.dtb"
    dtb.write_bytes(virt_dtb(RAM, 128 << 20, 1))
    proc = subprocess.Popen(
        [qemu, "-M", "virt", "-m", "128M", "-bios", str(bios),
         "-kernel", str(kernel), "-dtb", str(dtb), "-nographic", "-monitor", "none",
         "-serial", "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    seen = bytearray()
    try:
        assert _read_until(proc, b"Hit any key", seen, 60), seen.decode(errors="replace")
        proc.stdin.write(b" ")
        proc.stdin.flush()
        assert _read_until(proc, b"=>", seen, 30), seen.decode(errors="replace")
        proc.stdin.write(b"version\r")
        proc.stdin.flush()
        assert _read_until(proc, b"GNU ld", seen, 30), seen.decode(errors="replace")
    finally:
        proc.kill()
        proc.wait()
    text = seen.decode(errors="replace")
    assert "OpenSBI" in text and "DRAM:  128 MiB" in text
