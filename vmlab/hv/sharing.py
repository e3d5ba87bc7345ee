"""Content-based page sharing: find guest pages with the same bytes and keep one copy.

Two designs from practice, selectable (``mode``), differing in how a page's twin is found:

- ``"ksm"`` (Linux KSM): two *trees* ordered by the page contents themselves (memcmp).
  The **stable** tree holds pages already shared; the **unstable** tree holds pages seen
  once this pass, and is thrown away after every full scan, since their contents may have
  changed.  A page enters the unstable tree only if its checksum did not change since the
  scanner last saw it: a page being written is not worth merging.
- ``"esx"`` (VMware ESX, Waldspurger 2002): one *hash table* of 64-bit content hashes.
  A hit on a shared page is confirmed by a full compare; a page seen once is kept as a
  *hint*, re-checked when a second page hashes the same.

Either way a merge maps both guest pages to one frame *read-only* (the shadow tables build
their leaves without W); the first store to it is a page fault the hypervisor answers by
copying the frame for that page alone (copy-on-write, :meth:`GuestMemory.backing`).  Pages
of zeros are merged into one shared zero frame without waiting for a second sighting.

The scanner wakes every ``sleep_millisecs`` of simulated time and visits ``pages_to_scan``
private resident pages, VM by VM in id order, page by page; KSM's counters
(``pages_shared``: shared frames, ``pages_sharing``: pages mapping them beyond the first --
the frames saved, ``pages_unshared``: pages waiting in the unstable tree, ``full_scans``)
come from :meth:`PageSharing.counters`.
"""
from __future__ import annotations

import bisect
import hashlib
import zlib

import numpy as np

from vmlab.hv.memory import FLAGS, NO_FRAME, PAGE, READ_ONLY, FrameAllocator

MODES = ("ksm", "esx")
ZERO = bytes(PAGE)


class TreeIndex:
    """KSM's trees: pages ordered by their contents (a sorted list searched by bisection
    plays the red-black tree; every comparison is a memcmp of two pages)."""

    def __init__(self):
        self.keys: list[bytes] = []
        self.values: list = []

    def find(self, key: bytes):
        i = bisect.bisect_left(self.keys, key)
        return self.values[i] if i < len(self.keys) and self.keys[i] == key else None

    def add(self, key: bytes, value) -> None:
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            self.values[i] = value
        else:
            self.keys.insert(i, key)
            self.values.insert(i, value)

    def remove(self, key: bytes) -> None:
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i], self.values[i]

    def clear(self) -> None:
        self.keys.clear()
        self.values.clear()

    def __len__(self) -> int:
        return len(self.keys)


class HashIndex:
    """ESX's table: a 64-bit hash of the contents -> (contents, value); a hit is confirmed
    by comparing the whole page, so a hash collision never merges different pages."""

    def __init__(self):
        self.table: dict[bytes, tuple[bytes, object]] = {}

    @staticmethod
    def _hash(key: bytes) -> bytes:
        return hashlib.blake2b(key, digest_size=8).digest()

    def find(self, key: bytes):
        hit = self.table.get(self._hash(key))
        return hit[1] if hit is not None and hit[0] == key else None

    def add(self, key: bytes, value) -> None:
        self.table[self._hash(key)] = (key, value)

    def remove(self, key: bytes) -> None:
        h = self._hash(key)
        if h in self.table and self.table[h][0] == key:
            del self.table[h]

    def clear(self) -> None:
        self.table.clear()

    def __len__(self) -> int:
        return len(self.table)


class PageSharing:
    """The scanner over the guest memories in ``mems`` (VM id -> GuestMemory)."""

    def __init__(self, frames: FrameAllocator, mems: dict, mode: str = "ksm",
                 pages_to_scan: int = 100, sleep_millisecs: int = 20, zero_pages: bool = True):
        if mode not in MODES:
            raise ValueError(f"sharing mode must be one of {MODES}, not {mode!r}")
        if pages_to_scan < 1 or sleep_millisecs < 0:
            raise ValueError("pages_to_scan must be >= 1 and sleep_millisecs >= 0")
        self.frames, self.mems, self.mode = frames, mems, mode
        self.pages_to_scan, self.sleep_millisecs, self.zero_pages = pages_to_scan, sleep_millisecs, zero_pages
        index = TreeIndex if mode == "ksm" else HashIndex
        self.stable, self.unstable = index(), index()
        self.checksums: dict[tuple[int, int], int] = {}
        self.full_scans = self.pages_scanned = self.merges = 0
        self._todo: list[tuple[int, int]] = []
        self._next_wake = 0

    # === pacing ================================================================================
    def tick(self, now_ns: int) -> int:
        """Called between guest runs with the simulated time: scan if it is time to wake."""
        if now_ns < self._next_wake:
            return 0
        self._next_wake = now_ns + self.sleep_millisecs * 1_000_000
        return self.scan(self.pages_to_scan)

    def scan(self, n: int) -> int:
        """Visit the next ``n`` pages; returns how many were visited."""
        for done in range(n):
            if not self._todo and not self._new_pass():
                return done
            vm_id, page = self._todo.pop()
            mem = self.mems.get(vm_id)
            if mem is not None:
                self._visit(mem, page)
            self.pages_scanned += 1
        return n

    def full_scan(self) -> None:
        """Run until the current pass ends (at least one whole pass over guest memory)."""
        start = self.full_scans
        while self.full_scans == start and self.scan(self.pages_to_scan):
            pass

    def _new_pass(self) -> bool:
        """A pass over every private resident guest page starts (the last one ended)."""
        if self.pages_scanned:
            self.full_scans += 1
            if self.mode == "ksm":
                self.unstable.clear()           # its contents may have changed since
        todo = []
        for vm_id in sorted(self.mems):
            for hpa_index in np.flatnonzero(self.frames.owner == vm_id):
                todo.append((vm_id, int(self.frames.gpa_page[hpa_index])))
        todo.sort()
        self._todo = todo[::-1]                 # pop() takes them in order
        return bool(todo)

    # === one page ==============================================================================
    def _visit(self, mem, page: int) -> None:
        entry = int(mem.page_map[page])
        if entry == NO_FRAME or entry & READ_ONLY:
            return                              # gone since the pass began, or shared already
        key = self.frames.page_bytes(entry & ~FLAGS).tobytes()
        shared = self._stable_frame(key)
        if shared is not None:
            self._merge(mem, page, shared)
        elif self.zero_pages and key == ZERO:
            self.stable.add(key, mem.make_shared(page))
        elif self._steady(mem, page, key):
            self._pair(mem, page, key)

    def _stable_frame(self, key: bytes) -> int | None:
        """The shared frame holding ``key``, if there still is one."""
        hpa = self.stable.find(key)
        if hpa is None:
            return None
        i = self.frames.index(hpa)
        if self.frames.owner[i] == FrameAllocator.SHARED and self.frames.page_bytes(hpa).tobytes() == key:
            return hpa
        self.stable.remove(key)                 # the frame went back to a single owner
        return None

    def _steady(self, mem, page: int, key: bytes) -> bool:
        """KSM's volatility filter: is the checksum the same as at the last visit?"""
        if self.mode != "ksm":
            return True
        crc = zlib.crc32(key)
        old, self.checksums[mem.vm_id, page] = self.checksums.get((mem.vm_id, page)), crc
        return old == crc

    def _pair(self, mem, page: int, key: bytes) -> None:
        """Look for a twin among pages seen once; merge the two, or remember this one."""
        other = self.unstable.find(key)
        if other is not None and other != (mem.vm_id, page) and self._still(other, key):
            twin = self.mems[other[0]]
            hpa = twin.make_shared(other[1])
            self.unstable.remove(key)
            self.stable.add(key, hpa)
            self._merge(mem, page, hpa)
        else:
            self.unstable.add(key, (mem.vm_id, page))

    def _still(self, where: tuple[int, int], key: bytes) -> bool:
        """Does the page a hint names still hold ``key``, privately?"""
        mem = self.mems.get(where[0])
        if mem is None:
            return False
        entry = int(mem.page_map[where[1]])
        return entry != NO_FRAME and not entry & READ_ONLY and \
            self.frames.page_bytes(entry & ~FLAGS).tobytes() == key

    def _merge(self, mem, page: int, shared_hpa: int) -> None:
        mem.map_shared(page, shared_hpa)
        self.merges += 1

    # === numbers ===============================================================================
    def counters(self) -> dict:
        f = self.frames
        refs = f.refs[f.owner == FrameAllocator.SHARED]
        return {"pages_shared": int(np.count_nonzero(refs)),
                "pages_sharing": int(np.maximum(refs - 1, 0).sum()),
                "pages_unshared": len(self.unstable), "full_scans": self.full_scans,
                "pages_scanned": self.pages_scanned, "merges": self.merges}
