"""Snapshots: the disk is in them, they never unpickle, and a malformed file is refused with a
reason before anything of it is used (issue 16, items 7 and 8)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vmlab.asm import assemble
from vmlab.guests import source
from vmlab.machine import Machine
from vmlab.machine.snapshot import SnapshotError


@pytest.fixture(scope="module")
def diskirq():
    return assemble(source("diskirq"), base=0x8000_0000, filename="diskirq.s").elf


def test_a_restored_snapshot_has_the_disk_as_it_was(tmp_path, diskirq):
    """Snapshot after the reads, before the writes; the original run then writes the disk.
    The restored machine must see (and leave) the disk exactly as the original does."""
    img = tmp_path / "disk.img"
    img.write_bytes(os.urandom(16 * 512))
    m = Machine(ram_size=16 << 20, drive=str(img))
    m.boot_virt(kernel=diskirq)
    assert m.run(instructions=10_000_000, until_output="r 7 ").reason == "output"
    m.snapshot(tmp_path / "snap.npz")
    before = img.read_bytes()
    r = m.run(instructions=20_000_000)
    m.close()
    after = img.read_bytes()
    assert after != before
    img.write_bytes(os.urandom(16 * 512))          # someone changed the image meanwhile
    copy = tmp_path / "copy.img"
    m2 = Machine.restore(tmp_path / "snap.npz", drive=copy)
    assert copy.read_bytes() == before
    r2 = m2.run(instructions=20_000_000)
    m2.close()
    assert (r.reason, r.exit_code) == (r2.reason, r2.exit_code) == ("halt", 0)
    assert m2.console_output == m.console_output
    assert copy.read_bytes() == after


def members(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite(path, arrays: dict) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def snap(tmp_path):
    m = Machine(ram_size=1 << 20)
    m.write_mem(0x8000_0000, b"\x6f\x00\x00\x00")
    m.run(instructions=1000)
    path = tmp_path / "s.npz"
    m.snapshot(path)
    return path


def test_a_pickle_in_a_snapshot_is_never_run(snap, tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))
    arrays = members(snap)
    arrays["meta"] = np.array([Boom()], dtype=object)
    bad = tmp_path / "evil.npz"
    with open(bad, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(SnapshotError):
        Machine.restore(bad)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("change", [
    lambda a, m: m.update(version=99),
    lambda a, m: m.update(format="other"),
    lambda a, m: m.update(ram_size=1 << 40),
    lambda a, m: m.update(harts=100000),
    lambda a, m: m.update(ram_size="big"),
    lambda a, m: m.update(breakpoints=[-1]),
    lambda a, m: a.update(mem=np.zeros(4096, dtype=np.uint8)),
    lambda a, m: a.update(cpu=a["cpu"].astype(np.float64)),
    lambda a, m: a.update(tlb=a["tlb"][:, :2]),
    lambda a, m: a.pop("ctl"),
    lambda a, m: a.update(meta=np.frombuffer(b"{not json", dtype=np.uint8)),
])
def test_malformed_snapshots_are_refused(snap, tmp_path, change):
    arrays = members(snap)
    meta = json.loads(arrays["meta"].tobytes())
    change(arrays, meta)
    if "meta" in arrays and arrays["meta"].dtype == np.uint8 and arrays["meta"].tobytes()[:1] == b"{" \
            and arrays["meta"].tobytes() != b"{not json":
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    rewrite(bad, arrays)
    with pytest.raises(SnapshotError):
        Machine.restore(bad)


def test_garbage_files_are_refused(tmp_path):
    for i, data in enumerate([b"", b"PK\x03\x04 truncated", os.urandom(1000)]):
        path = tmp_path / f"g{i}.npz"
        path.write_bytes(data)
        with pytest.raises(SnapshotError):
            Machine.restore(path)


def test_sizes_the_compiled_code_trusts_come_from_the_machine(snap, tmp_path):
    from vmlab.machine import layout as L
    arrays = members(snap)
    arrays["ctl"] = arrays["ctl"].copy()
    arrays["ctl"][L.C_RAM_SIZE] = 1 << 40          # would let the loop index past RAM
    arrays["ctl"][L.C_CUR_HART] = 7
    arrays["tlb"] = np.full_like(arrays["tlb"], 123)
    bad = tmp_path / "lying.npz"
    rewrite(bad, arrays)
    m = Machine.restore(bad)
    assert m.ctl[L.C_RAM_SIZE] == 1 << 20 and m.ctl[L.C_CUR_HART] == 0
    assert (m.tlb[..., L.TLB_TAG] == L.TLB_EMPTY).all()
    assert m.run(instructions=1000).reason == "budget"


def test_ram_is_held_once_while_restoring(tmp_path):
    """Restoring a snapshot of N bytes of RAM allocates about N bytes, not 2N."""
    import tracemalloc
    size = 64 << 20
    m = Machine(ram_size=size)
    m.mem[::4096] = 7                               # make every page real
    path = tmp_path / "big.npz"
    m.snapshot(path)
    del m
    tracemalloc.start()
    m2 = Machine.restore(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert m2.mem[4096] == 7
    assert peak < 1.5 * size, f"peak {peak >> 20} MiB for {size >> 20} MiB of RAM"
