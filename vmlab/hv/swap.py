"""Host swap: a real file of 4 KiB slots, and the clock that picks which guest page goes there.

When the host frame pool runs down to its reserve, :class:`ClockPager` evicts guest pages
until there is room again.  It approximates LRU the way operating systems without cheap
"last used" times do, with one reference bit per page and a hand sweeping over host frames::

    frame under the hand           what the clock does
    ---------------------          ----------------------------------------------------
    not a VM's private page        skip (free, shadow tables, shared frames)
    ACCESSED set                   clear it (second chance), and unmap the page from the
                                   shadow tables so the next guest access shows up again
    ACCESSED clear                 the victim: its bytes go to the swap file, its frame
                                   back to the pool

The reference bit is set whenever a mapping is built for the page (a shadow fill, or the
hypervisor touching guest memory), so "not used since the hand last passed" is exactly
"no fill since then".  The guest's next access to a swapped page is a page fault like any
other; the shadow asks :mod:`vmlab.hv.memory` for the page and it comes back from the file
(a *major* fault).  Everything is in a fixed order: the same guests give the same evictions.
"""
from __future__ import annotations

import heapq
import os
import tempfile

from vmlab.hv.memory import ACCESSED, PAGE, FrameAllocator, GuestMemory, OutOfFrames

#: modelled cost of one swap-in in simulated ns (a 4 KiB read from a fast SSD)
SWAP_IN_NS = 80_000


class SwapFile:
    """A real file of 4 KiB slots (a temporary one unless ``path`` is given).  The lowest
    free slot is used first, so the file's layout is repeatable too."""

    def __init__(self, path=None, max_pages: int = 1 << 20):
        if path is None:
            self._file = tempfile.TemporaryFile(prefix="vmlab-swap-")
        else:
            self._file = open(path, "w+b")
        self.path = path
        self.max_pages = max_pages
        self._holes: list[int] = []       # freed slots (a heap)
        self._end = 0                     # slots ever used
        self.used = 0

    def put(self, data: bytes) -> int:
        """Store one page; its slot number."""
        if len(data) != PAGE:
            raise ValueError("a swap slot holds exactly one page")
        if self._holes:
            slot = heapq.heappop(self._holes)
        elif self._end < self.max_pages:
            slot, self._end = self._end, self._end + 1
        else:
            raise OutOfFrames(f"the swap file is full ({self.max_pages} pages)")
        os.pwrite(self._file.fileno(), data, slot * PAGE)
        self.used += 1
        return slot

    def take(self, slot: int) -> bytes:
        """Read a page back and free its slot."""
        data = os.pread(self._file.fileno(), PAGE, slot * PAGE)
        self.drop(slot)
        return data

    def drop(self, slot: int) -> None:
        heapq.heappush(self._holes, slot)
        self.used -= 1

    def close(self) -> None:
        self._file.close()


class ClockPager:
    """Evicts guest pages to ``swap`` by the clock algorithm over the frames of ``frames``.

    ``mems`` maps a VM id to its :class:`GuestMemory`; frames of VMs not in it are never
    touched.  Installed as ``frames.reclaimer``.
    """

    def __init__(self, frames: FrameAllocator, mems: dict[int, GuestMemory], swap: SwapFile):
        self.frames, self.mems, self.swap = frames, mems, swap
        self.hand = frames.first_frame
        self.counters = {"scanned": 0, "second_chances": 0, "evicted": 0}

    def reclaim(self, requester: GuestMemory | None, n: int, only: GuestMemory | None = None) -> int:
        """Evict ``n`` guest pages (of ``only``'s, if given; fewer if none is left to
        evict); how many went."""
        for done in range(max(n, 0)):
            victim = self._victim(only)
            if victim is None:
                return done
            mem, page = victim
            mem.swap_out(page)
            self.counters["evicted"] += 1
        return max(n, 0)

    def _victim(self, only: GuestMemory | None = None) -> tuple[GuestMemory, int] | None:
        """Advance the hand to the first private guest page not accessed since the last
        sweep; at most two turns (the first may only clear reference bits)."""
        f = self.frames
        for _ in range(2 * (f.nframes - f.first_frame)):
            i = self.hand
            self.hand = i + 1 if i + 1 < f.nframes else f.first_frame
            mem = self.mems.get(int(f.owner[i]))
            if mem is None or (only is not None and mem is not only):
                continue
            self.counters["scanned"] += 1
            page = int(f.gpa_page[i])
            if mem.page_map[page] & ACCESSED:
                mem.clear_accessed(page)
                self.counters["second_chances"] += 1
                continue
            return mem, page
        return None
