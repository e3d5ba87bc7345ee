"""Where host memory went: every host frame as a cell of a grid, every guest page as a strip.

The grid is the host's frame pool (:class:`vmlab.hv.memory.FrameAllocator`), one cell per
4 KiB frame in address order, coloured by what holds it: a VM (its colour), several guest
pages at once (shared, with the count), the hypervisor's shadow page tables, or nobody.
Hover a cell for its owners: the VM, the guest-physical page it backs and the guest-virtual
pages the shadow tables map to it.  Below, one strip per VM shows the *guest's* pages --
resident, shared, swapped out, ballooned, never touched -- the pages that have no host
frame at all, and so never appear in the grid.  Beside them: per-VM bars (resident,
shared, ballooned, swapped; the balloon target as a tick) and the counters over time.

The widget reads a :class:`vmlab.hv.hostmem.HostMemory` when ``refresh()`` is called
(``live_refresh()`` between guest turns keeps a live view cheap) and never changes it.
"""
from __future__ import annotations

import numpy as np
import traitlets

from vmlab.hv.memory import (BALLOONED, FLAGS, NO_FRAME, PAGE, READ_ONLY, SWAPPED, UNTOUCHED,
                             FrameAllocator)
from vmlab.viz._base import Widget, esm

#: frame kinds in the grid (the numbers the browser gets)
FREE, PRIVATE, SHARED, SHADOW, RESERVED = range(5)
FRAME_KINDS = ("free", "private", "shared", "shadow", "reserved")
#: guest page kinds in the strips
G_UNTOUCHED, G_RESIDENT, G_SHARED, G_SWAPPED, G_BALLOONED = range(5)
PAGE_KINDS = ("untouched", "resident", "shared", "swapped", "ballooned")
MAX_CELLS = 16384            # a strip or grid longer than this is drawn one cell per n pages
SERIES = 240                 # rows of the counters kept for the time series


def frame_cells(frames: FrameAllocator) -> tuple[list[int], list[int]]:
    """(kind, owner) per host frame; owner is the VM id, or the share count."""
    owner = frames.owner
    kind = np.full(len(owner), RESERVED, dtype=np.int64)
    kind[owner == FrameAllocator.FREE] = FREE
    kind[owner >= 0] = PRIVATE
    kind[owner == FrameAllocator.SHARED] = SHARED
    kind[owner == FrameAllocator.SHADOW] = SHADOW
    who = np.where(owner >= 0, owner, np.where(kind == SHARED, frames.refs, -1))
    return kind.tolist(), who.tolist()


def page_cells(mem) -> list[int]:
    """One kind per guest page (downsampled to MAX_CELLS: the most telling kind wins)."""
    kind = np.full(len(mem.state), G_UNTOUCHED, dtype=np.int64)
    resident = mem.page_map != NO_FRAME
    kind[resident] = G_RESIDENT
    kind[resident & (mem.page_map & READ_ONLY != 0)] = G_SHARED
    kind[mem.state == SWAPPED] = G_SWAPPED
    kind[mem.state == BALLOONED] = G_BALLOONED
    n = -(-len(kind) // MAX_CELLS)
    if n > 1:
        pad = np.full(-len(kind) % n, G_UNTOUCHED)
        kind = np.concatenate([kind, pad]).reshape(-1, n).max(axis=1)
    return kind.tolist()


def frame_owners(host) -> dict[int, list[str]]:
    """Frame index -> who maps it, in words: "VM 1 gpa 0x80012000 (gva 0x...)"."""
    frames = host.frames
    out: dict[int, list[str]] = {}
    for vm_id, mem in sorted(host.mems.items()):
        gvas = _gvas(host.vms[vm_id])
        for page in np.flatnonzero(mem.page_map != NO_FRAME):
            entry = int(mem.page_map[page])
            gpa_page = mem.gpa_of(int(page)) >> 12
            words = f"VM {vm_id} gpa {gpa_page << 12:#x}"
            if gvas.get(gpa_page):
                words += " gva " + ", ".join(f"{g:#x}" for g in gvas[gpa_page][:3])
            out.setdefault(frames.index(entry & ~FLAGS), []).append(words)
    return out


def _gvas(vm) -> dict[int, list[int]]:
    """gpa page -> gva pages mapping it in any shadow tree of ``vm``."""
    out: dict[int, list[int]] = {}
    for root in vm.shadow.roots.values():
        for leaf in root.tree.leaves.values():
            out.setdefault(leaf.gpa_page, []).append(leaf.gva_page << 12)
    return out


class MemoryMap(Widget):
    """``MemoryMap(host)`` for a :class:`~vmlab.hv.hostmem.HostMemory`: the frame grid,
    the guests' pages, per-VM bars and the counters over time."""

    _esm = esm("memmap")
    frames = traitlets.Dict({}).tag(sync=True)
    guests = traitlets.List([]).tag(sync=True)
    series = traitlets.List([]).tag(sync=True)
    owners = traitlets.Dict({}).tag(sync=True)

    def __init__(self, host, **kwargs):
        super().__init__(**kwargs)
        self.host = host
        self._series: list[dict] = []
        self.refresh()

    def refresh(self) -> None:
        host = self.host
        kind, who = frame_cells(host.frames)
        frames = host.frames
        stats = host.stats()
        self._series = (self._series + [self._row(stats)])[-SERIES:]
        owners = {str(i): words for i, words in frame_owners(host).items()}
        with self.hold_sync():
            self.frames = {"kind": kind, "who": who, "base": frames.ram_base,
                           "first": frames.first_frame, "host": stats["host"]}
            self.guests = [self._guest(i, stats[i]) for i in sorted(host.mems)]
            self.series = self._series
            self.owners = owners
            self.updates += 1

    def _guest(self, vm_id: int, st: dict) -> dict:
        mem = self.host.mems[vm_id]
        balloon = getattr(self.host.vms[vm_id], "balloon", None)
        return {"vm": vm_id, "cells": page_cells(mem), "per_cell": -(-len(mem.state) // MAX_CELLS),
                "pages": st["pages"], "resident": st["resident"], "shared": st["shared"],
                "swapped": st["swapped"], "ballooned": st["ballooned"],
                "target": None if balloon is None else balloon.target}

    def _row(self, stats: dict) -> dict:
        row = {"time": self.host.hv.vms[0].time() if self.host.hv.vms else 0,
               "free": stats["host"]["free"],
               "pages_sharing": stats["host"].get("pages_sharing", 0)}
        for i in sorted(self.host.mems):
            row[f"vm{i}"] = stats[i]["resident"]
            row[f"swapped{i}"] = stats[i]["swapped"]
        return row

    def counts(self) -> dict[str, int]:
        """How many frames of each kind (what the grid shows, as numbers)."""
        kind = np.asarray(self.frames["kind"])
        return {name: int(np.count_nonzero(kind == k)) for k, name in enumerate(FRAME_KINDS)}

    def text(self) -> str:
        c = self.counts()
        lines = [f"host frames: {c['private']} private, {c['shared']} shared, "
                 f"{c['shadow']} shadow tables, {c['free']} free"]
        for g in self.guests:
            lines.append(f"  VM {g['vm']}: {g['resident']} of {g['pages']} pages resident, "
                         f"{g['shared']} shared, {g['swapped']} swapped, {g['ballooned']} ballooned")
        return "\n".join(lines)


__all__ = ["MemoryMap", "frame_cells", "page_cells", "frame_owners", "PAGE", "UNTOUCHED"]
