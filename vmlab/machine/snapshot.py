"""Machine snapshots: a documented, versioned file that holds data only (no pickles).

A snapshot is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) with these members::

    meta        uint8[]   UTF-8 JSON: {"format": "vmlab-snapshot", "version": 1,
                          "ram_size", "harts", "drive", "readonly", "breakpoints",
                          "symbols", "virtio" (the device's registers and ring state, or null)}
    cpu         int64[harts, CPU_WORDS]          the machine's state arrays (layout.py)
    mem         uint8[ram_size]
    tlb         int64[harts, 3, TLB_SETS, TLB_COLS]
    dev         int64[DEV_WORDS]
    io          uint8[IO_BYTES]
    ctl         int64[CTL_WORDS]
    out         uint8[]   console output so far
    pending_in  uint8[]   typed input not yet delivered
    disk        uint8[]   the disk's contents (only with a drive): a restore writes them back,
                          so the guest sees the disk exactly as it was

Loading never unpickles (``allow_pickle=False``): a crafted file can at worst be refused.
Everything is checked -- the version, every field's type, every array's dtype and shape
against the sizes the metadata claims, the sizes against the machine's limits -- before any
of it is used.  RAM is adopted as loaded, not copied: a 1 GiB snapshot needs 1 GiB.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np

from vmlab.machine import layout as L
from vmlab.machine.boot import check_harts, check_ram
from vmlab.machine.errors import MachineError

FORMAT, VERSION = "vmlab-snapshot", 1
ARRAYS = ("cpu", "mem", "tlb", "dev", "io", "ctl")
VIRTIO_KEYS = ("status", "driver_features", "device_features_sel", "driver_features_sel",
               "queue_sel", "interrupt_status", "queue")


class SnapshotError(MachineError):
    """A file that is not a snapshot we can use (the message says what is wrong)."""


def save(machine, path) -> None:
    """Write ``machine`` to ``path`` in the format above."""
    meta = {"format": FORMAT, "version": VERSION, "ram_size": machine.ram_size,
            "harts": machine.nharts, "drive": machine.drive,
            "readonly": bool(machine.virtio is not None and machine.virtio.read_only),
            "breakpoints": list(machine.breakpoints), "symbols": dict(machine.symbols),
            "virtio": machine.virtio.get_state() if machine.virtio is not None else None}
    arrays = {name: getattr(machine, name) for name in ARRAYS}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    arrays["out"] = np.frombuffer(bytes(machine._out), dtype=np.uint8)
    arrays["pending_in"] = np.frombuffer(bytes(machine._pending_in), dtype=np.uint8)
    if machine.virtio is not None:
        arrays["disk"] = np.frombuffer(machine.virtio.contents(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load(cls, path, drive=None):
    """A new ``cls`` (Machine) from ``path``; the disk's contents go to ``drive`` (default:
    the image the snapshot was taken with)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = _meta(z)
            arrays = {name: _array(z, name, meta) for name in ARRAYS}
            out, pending = _bytes_member(z, "out"), _bytes_member(z, "pending_in")
            disk = _bytes_member(z, "disk") if meta["virtio"] is not None else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise SnapshotError(f"not a readable vmlab snapshot: {exc}") from exc
    m = cls(ram_size=meta["ram_size"], harts=meta["harts"], ram=arrays["mem"])
    for name in ARRAYS:
        if name != "mem":
            getattr(m, name)[...] = arrays[name]
    m._out, m._pending_in = bytearray(out), bytearray(pending)
    m.breakpoints, m.symbols = list(meta["breakpoints"]), dict(meta["symbols"])
    if disk is not None:
        m.attach_drive(_write_disk(drive or meta["drive"], disk), meta["readonly"])
        m.virtio.set_state(meta["virtio"])
    m._sync_breakpoints()
    return m


def _write_disk(path, data: bytes) -> str:
    if not path:
        raise SnapshotError("the snapshot has a disk: give a drive file to restore it into")
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


# ------------------------------------------------------------------------------ validation
def _meta(z) -> dict:
    raw = _bytes_member(z, "meta")
    try:
        meta = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"snapshot metadata is not JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError("not a vmlab snapshot (no 'vmlab-snapshot' format tag)")
    if meta.get("version") != VERSION:
        raise SnapshotError(f"snapshot version {meta.get('version')!r}: this vmlab reads {VERSION}")
    _check_fields(meta)
    try:
        check_ram(meta["ram_size"])
        check_harts(meta["harts"])
    except MachineError as exc:
        raise SnapshotError(f"snapshot of an impossible machine: {exc}") from exc
    return meta


def _check_fields(meta: dict) -> None:
    kinds = {"ram_size": int, "harts": int, "readonly": bool, "breakpoints": list,
             "symbols": dict}
    for key, kind in kinds.items():
        if not isinstance(meta.get(key), kind) or (kind is int and isinstance(meta[key], bool)):
            raise SnapshotError(f"snapshot field {key!r} is missing or not a {kind.__name__}")
    if meta.get("drive") is not None and not isinstance(meta["drive"], str):
        raise SnapshotError("snapshot field 'drive' is not a path")
    if len(meta["breakpoints"]) > L.MAX_BP or not all(_u64(b) for b in meta["breakpoints"]):
        raise SnapshotError("snapshot breakpoints are not addresses")
    if not all(isinstance(k, str) and _u64(v) for k, v in meta["symbols"].items()):
        raise SnapshotError("snapshot symbols are not name -> address")
    _check_virtio(meta.get("virtio"))


def _check_virtio(state) -> None:
    if state is None:
        return
    ok = isinstance(state, dict) and all(k in state for k in VIRTIO_KEYS)
    ok = ok and all(_u64(state[k]) for k in VIRTIO_KEYS[:-1])
    ok = ok and isinstance(state["queue"], list) and len(state["queue"]) == 7 \
        and all(_u64(v) for v in state["queue"])
    if not ok:
        raise SnapshotError("snapshot virtio state is malformed")


def _u64(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64


def _expected(name: str, meta: dict):
    h = meta["harts"]
    return {"cpu": (np.int64, (h, L.CPU_WORDS)), "mem": (np.uint8, (meta["ram_size"],)),
            "tlb": (np.int64, (h, 3, L.TLB_SETS, L.TLB_COLS)),
            "dev": (np.int64, (L.DEV_WORDS,)), "io": (np.uint8, (L.IO_BYTES,)),
            "ctl": (np.int64, (L.CTL_WORDS,))}[name]


#: ctl's length before the hypervisor extension's slots (C_FAULT_GPA ...) were added after it:
#: such a snapshot's ctl is taken with those slots zero (no fault pending, V=0 everywhere)
CTL_WORDS_BEFORE_H = 128


def _array(z, name: str, meta: dict) -> np.ndarray:
    dtype, shape = _expected(name, meta)
    a = z[name]
    if name == "ctl" and a.dtype == dtype and a.shape == (CTL_WORDS_BEFORE_H,):
        a = np.concatenate([a, np.zeros(L.CTL_WORDS - CTL_WORDS_BEFORE_H, dtype=np.int64)])
    if a.dtype != dtype or a.shape != shape:
        raise SnapshotError(f"snapshot array {name!r} is {a.dtype}{list(a.shape)}, "
                            f"expected {np.dtype(dtype)}{list(shape)}")
    return a


def _bytes_member(z, name: str) -> bytes:
    a = z[name]
    if a.dtype != np.uint8 or a.ndim != 1:
        raise SnapshotError(f"snapshot member {name!r} is not a byte string")
    return a.tobytes()
