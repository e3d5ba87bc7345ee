"""The machine's TLB, drawn: every set of the three direct-mapped TLBs, hits and misses live.

The hart keeps one small TLB per access kind (fetch, load, store), each :data:`SETS` sets
of one entry, indexed by the low bits of the virtual page number -- so two pages whose
numbers differ by a multiple of 64 evict each other.  An entry remembers the virtual page
(its *tag*), the physical page, the level of the leaf (a superpage entry covers 512 or
262,144 pages), whether the PTE was global, and the context it was filled in: the ASID
and whether a U-mode access filled it.  Between two refreshes the view shows which
entries appeared or changed (they flash) and which a ``sfence.vma`` removed (struck out,
dashed red), and how many lookups hit or missed.
"""
from __future__ import annotations

import numpy as np
import traitlets

from vmlab.machine import layout as L
from vmlab.machine.mmu import CTX_USER
from vmlab.viz._base import Widget, scene_esm
from vmlab.viz.scene import Scene

SETS = L.TLB_SETS
KINDS = ("fetch", "load", "store")
PANEL_W, ROW_H, TOP = 300, 15, 42
SIZE = {0: "4K", 1: "2M", 2: "1G"}


def entries(tlb_hart: np.ndarray) -> dict[tuple[int, int], dict]:
    """The valid entries of one hart's TLBs: (kind, set) -> their fields, in words."""
    out = {}
    for k in range(len(KINDS)):
        for i in range(SETS):
            tag, ppage, flags, ctx = (int(v) for v in tlb_hart[k, i])
            if tag == L.TLB_EMPTY:
                continue
            out[(k, i)] = {"vpage": tag & ((1 << 52) - 1), "ppage": ppage >> 12,
                           "level": (flags >> 1) & 3, "global": bool(flags & L.TLB_GLOBAL),
                           "asid": ctx >> 3, "user": bool(ctx & CTX_USER)}
    return out


def entry_text(e: dict) -> str:
    return (f"{e['vpage'] & ((1 << 27) - 1):#09x} → {e['ppage']:#07x} {SIZE[e['level']]} "
            f"a{e['asid']}{' G' if e['global'] else ''} {'U' if e['user'] else 'S'}")


def tlb_scene(now: dict, before: dict) -> Scene:
    """Three columns of sets: entries in use, the ones just flushed, and runs of empty sets
    folded into one row (a TLB is mostly empty between context switches)."""
    s = Scene(legend=[["inuse", "entry in use"], ["empty", "empty sets"],
                      ["flushed", "removed (sfence.vma) since the last look"], ["flash", "changed just now"]])
    for k, kind in enumerate(KINDS):
        x = k * (PANEL_W + 16)
        s.box(f"head-{kind}", x, TOP - 38, PANEL_W, 18, "colhead",
              f"{kind} TLB: {sum(1 for key in now if key[0] == k)} of {SETS} sets in use")
        s.text(f"cols-{kind}", x + 6, TOP - 6, "set  tag (va page) → pa page, size, ASID", "muted")
        y, i = TOP, 0
        while i < SETS:
            e, old = now.get((k, i)), before.get((k, i))
            if e is None and old is None:
                j = i
                while j + 1 < SETS and (k, j + 1) not in now and (k, j + 1) not in before:
                    j += 1
                words = f"{i:2} empty" if j == i else f"{i:2}–{j} empty"
                s.box(f"gap-{kind}-{i}", x, y, PANEL_W, ROW_H - 1, "empty", words, align="start")
                i, y = j + 1, y + ROW_H
                continue
            if e is not None:
                cls, words = f"inuse priv-{'U' if e['user'] else 'S'}", entry_text(e)
            else:
                cls, words = "flushed", "flushed: " + entry_text(old)
            s.box(f"set-{kind}-{i}", x, y, PANEL_W, ROW_H - 1, cls, f"{i:2} {words}", align="start")
            i, y = i + 1, y + ROW_H
    return s


class TlbView(Widget):
    """``TlbView(machine_or_vm, hart=0)``: the TLB contents and hit/miss counts, live.

    Call :meth:`refresh` (a :class:`RunControl` does) to look again: the counts since the
    last look and the entries that changed or went are marked.
    """

    _esm = scene_esm("tlb")
    scene = traitlets.Dict({}).tag(sync=True)
    stats = traitlets.Dict({}).tag(sync=True)

    def __init__(self, source, hart: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.machine = getattr(source, "machine", source)      # a VM runs on a machine
        self.hart = hart
        self._before: dict = {}
        self._counts = (0, 0)
        self._entries: dict = {}
        self.refresh()

    def refresh(self) -> None:
        c = self.machine.counters
        hits, misses = c["tlb_hits"], c["tlb_misses"]
        now = entries(self.machine.tlb[self.hart].copy())
        flushed = sum(1 for key in self._entries if key not in now)
        scene = tlb_scene(now, self._entries)
        dh, dm = hits - self._counts[0], misses - self._counts[1]
        self._counts, self._entries = (hits, misses), now
        with self.hold_sync():
            self.scene = scene.to_json()
            self.stats = {"hits": hits, "misses": misses, "new_hits": dh, "new_misses": dm,
                          "in_use": len(now), "flushed": flushed}
            self.updates += 1

    def text(self) -> str:
        st = self.stats
        lines = [f"TLB (hart {self.hart}): {st['in_use']} of {3 * SETS} entries in use · "
                 f"{st['hits']:,} hits, {st['misses']:,} misses"]
        for (k, i), e in sorted(self._entries.items())[:24]:
            lines.append(f"  {KINDS[k]:5} set {i:2}: {entry_text(e)}")
        return "\n".join(lines)
