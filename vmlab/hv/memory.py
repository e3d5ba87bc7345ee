"""Guest-physical memory: host frames, and each VM's GPA -> HPA page map.

Three kinds of address meet in a hypervisor, and mixing them up is the classic bug, so
names always say which one they hold:

- ``gva``  guest-virtual: what guest code uses; the guest's page tables map it to a gpa
- ``gpa``  guest-physical: what the guest *believes* is physical memory
- ``hpa``  host-physical: where the bytes really are (an offset into the machine's RAM)

A VM's RAM is not one block of host memory: every 4 KiB guest page is backed by its own
host frame, allocated on first touch.  That indirection is what lets a hypervisor
overcommit, share, balloon and swap guest memory -- and it is what shadow page tables
compose with the guest's own tables (gva -> gpa -> hpa) to give the hardware gva -> hpa.

The page map is one int64 per guest page, so compiled code can read it as it is::

    entry = NO_FRAME (-1)         not in host memory: never touched, swapped out or ballooned
                                  (``state[page]`` says which); the host must act first
    entry = hpa | flags           backed by the frame at hpa (page aligned, so the low 12
                                  bits are free for flags):
        READ_ONLY (bit 0)         the frame is shared copy-on-write: map it without W; a
                                  store must go through :meth:`GuestMemory.backing` first
        ACCESSED  (bit 1)         a mapping was built from this entry since the page
                                  replacement clock last looked (the clock's reference bit)

Whenever the host changes what backs a page (swap-out, merge, copy-on-write break,
balloon), it calls ``on_remap(gpa)`` -- the VM's ``shadow.invalidate_gpa`` -- so no shadow
leaf keeps pointing at the old frame.
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.bits import MASK64, words

PAGE = 4096
NO_FRAME = -1
READ_ONLY = 1
ACCESSED = 2
FLAGS = PAGE - 1

#: what a guest page is, when its entry is NO_FRAME (and RESIDENT when it is not)
UNTOUCHED, RESIDENT, SWAPPED, BALLOONED = range(4)
STATE_NAMES = ("untouched", "resident", "swapped", "ballooned")

COUNTERS = ("first_touches", "swap_ins", "swap_outs", "major_faults", "cow_breaks",
            "merged", "balloon_in", "balloon_out")


class OutOfFrames(Exception):
    """The host has no free frame left."""


class FrameAllocator:
    """Hands out 4 KiB frames of host RAM, lowest address first (so runs are repeatable).

    ``owner[i]`` records who holds frame i (a VM id, :data:`SHADOW` for page-table frames
    the hypervisor builds, :data:`SHARED` for a frame several guest pages map) so that
    views and tests can show where memory went; ``gpa_page[i]`` is the guest page a VM's
    private frame backs (the reverse map the page-replacement clock needs) and
    ``refs[i]`` how many guest pages map a shared frame.
    """

    FREE = -1
    SHADOW = -2
    RESERVED = -3            # below ``first``: not ours to give
    SHARED = -4

    def __init__(self, ram: np.ndarray, ram_base: int, first: int | None = None, end: int | None = None):
        self.ram = ram
        self.ram_base = ram_base
        # the RAM as unsigned 64-bit words (bits.words): PTEs read and written from Python
        self.words = words(ram)
        first = ram_base if first is None else first
        end = ram_base + len(ram) if end is None else end
        self.first_frame = (first - ram_base) // PAGE
        self.nframes = (end - ram_base) // PAGE
        self.owner = np.full(self.nframes, self.FREE, dtype=np.int32)
        self.owner[: self.first_frame] = self.RESERVED
        self.gpa_page = np.full(self.nframes, -1, dtype=np.int64)
        self.refs = np.zeros(self.nframes, dtype=np.int32)
        self._free = list(range(self.nframes - 1, self.first_frame - 1, -1))  # pop() = lowest
        #: called as ``reclaimer(mem, n)`` to free ``n`` frames when guest pages run short
        self.reclaimer = None
        #: frames kept free for shadow tables, which must never wait for reclaim
        self.reserve = 16

    def alloc(self, owner: int) -> int:
        """A zeroed frame for ``owner``; returns its hpa.  Zeroing is what keeps one VM
        from reading what another left behind."""
        if not self._free:
            raise OutOfFrames(f"all {self.nframes - self.first_frame} host frames are in use")
        i = self._free.pop()
        self.owner[i] = owner
        off = i * PAGE
        self.ram[off: off + PAGE] = 0
        return self.ram_base + off

    def alloc_guest(self, mem: "GuestMemory", page: int) -> int:
        """A frame for guest page ``page`` of ``mem``: first, if a reclaimer is installed
        and the pool is down to its reserve, reclaim (swap out) other guest pages."""
        short = self.reserve + 1 - len(self._free)
        if self.reclaimer is not None and short > 0:
            self.reclaimer(mem, short)
        hpa = self.alloc(mem.vm_id)
        self.gpa_page[self.index(hpa)] = page
        return hpa

    def top_up(self, mem: "GuestMemory") -> None:
        """Before a shadow fill: refill the reserve, so the tables the fill may build find
        frames -- reclaiming now, before the fill has chosen its frame, never after."""
        short = self.reserve - len(self._free)
        if self.reclaimer is not None and short > 0:
            self.reclaimer(mem, short)

    def index(self, hpa: int) -> int:
        return (hpa - self.ram_base) // PAGE

    def free(self, hpa: int) -> None:
        i = self.index(hpa)
        if self.owner[i] == self.RESERVED:
            raise ValueError(f"frame {hpa:#x} is not an allocatable frame")
        if self.owner[i] == self.FREE:
            raise ValueError(f"frame {hpa:#x} is already free")
        self.owner[i], self.gpa_page[i], self.refs[i] = self.FREE, -1, 0
        self._free.append(i)

    @property
    def free_count(self) -> int:
        return len(self._free)

    @property
    def pool_frames(self) -> int:
        """Every frame this allocator may hand out."""
        return self.nframes - self.first_frame

    def frames_of(self, owner: int) -> np.ndarray:
        """hpas of every frame ``owner`` holds."""
        return self.ram_base + np.flatnonzero(self.owner == owner) * PAGE

    def page_bytes(self, hpa: int) -> np.ndarray:
        """The 4 KiB at frame ``hpa`` (a view: writing it writes host RAM)."""
        off = hpa - self.ram_base
        return self.ram[off: off + PAGE]


class GuestMemory:
    """One VM's guest-physical RAM: ``size`` bytes at ``gpa_base``, backed page by page.

    Accesses outside ``[gpa_base, gpa_base + size)`` return None (reads) or raise (writes):
    that is not guest RAM, and the hypervisor decides whether it is a device or a fault.
    Swapped-out pages come back on the next access (``swap`` is the hypervisor's swap
    file, set by :class:`vmlab.hv.hostmem.HostMemory`); shared pages are copied on the
    first write.
    """

    def __init__(self, frames: FrameAllocator, vm_id: int, gpa_base: int, size: int):
        if gpa_base % PAGE or size % PAGE:
            raise ValueError("guest RAM must be page aligned")
        self.frames = frames
        self.vm_id = vm_id
        self.gpa_base = gpa_base
        self.size = size
        self.page_map = np.full(size // PAGE, NO_FRAME, dtype=np.int64)   # guest page -> hpa|flags
        self.state = np.full(size // PAGE, UNTOUCHED, dtype=np.int8)
        self.swap_slot = np.full(size // PAGE, -1, dtype=np.int64)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.swap = None                       #: the swap file (vmlab.hv.swap.SwapFile)
        self.on_remap = None                   #: called with a gpa whose backing changed
        self.charge = None                     #: called with simulated ns a swap-in costs
        self.swap_in_ns = 0

    def contains(self, gpa: int, n: int = 1) -> bool:
        return self.gpa_base <= gpa and gpa + n <= self.gpa_base + self.size

    def page_of(self, gpa: int) -> int:
        return (gpa - self.gpa_base) // PAGE

    def gpa_of(self, page: int) -> int:
        return self.gpa_base + page * PAGE

    # === the map ==============================================================================
    def hpa(self, gpa: int, allocate: bool = True) -> int | None:
        """The host address backing ``gpa`` (allocating its frame on first touch, swapping
        it in), or None.  With ``allocate=False``, None unless the page is in host memory
        now: a view never makes the host do work."""
        if not self.contains(gpa):
            return None
        entry = int(self.page_map[self.page_of(gpa)])
        if entry == NO_FRAME:
            if not allocate:
                return None
            return self._backing(gpa, False, False)[0]
        return (entry & ~FLAGS) + (gpa & FLAGS)

    def holds_data(self, gpa: int) -> bool:
        """Has the guest ever written this page (it is in a frame or in the swap file)?
        An untouched or ballooned page reads as zeros without needing a frame."""
        return self.contains(gpa) and self.state[self.page_of(gpa)] in (RESIDENT, SWAPPED)

    def backing(self, gpa: int, write: bool = False) -> tuple[int, bool]:
        """(hpa, read_only) for a mapping of guest RAM at ``gpa`` that the shadow builds
        after a guest fault: swapped in if needed (a major fault), the shared frame copied
        if the access is a store, the page marked accessed."""
        self.frames.top_up(self)
        return self._backing(gpa, write, True)

    def _backing(self, gpa: int, write: bool, fault: bool) -> tuple[int, bool]:
        page = self.page_of(gpa)
        entry = int(self.page_map[page])
        if entry == NO_FRAME:
            entry = self._bring_in(page, fault)
        if write and entry & READ_ONLY:
            entry = self._unshare(page, entry)
        self.page_map[page] = entry | ACCESSED
        return (entry & ~FLAGS) + (gpa & FLAGS), bool(entry & READ_ONLY)

    def _bring_in(self, page: int, fault: bool) -> int:
        """A frame for a page that has none: the swapped-out bytes, or zeros."""
        state = self.state[page]
        hpa = self.frames.alloc_guest(self, page)
        if state == SWAPPED:
            self.frames.page_bytes(hpa)[:] = np.frombuffer(self.swap.take(int(self.swap_slot[page])), np.uint8)
            self.swap_slot[page] = -1
            self.counters["swap_ins"] += 1
            self.counters["major_faults"] += fault
            if self.charge is not None:
                self.charge(self.swap_in_ns)
        elif state == BALLOONED:                   # touched without deflating first
            self.counters["balloon_out"] += 1
        else:
            self.counters["first_touches"] += 1
        self.state[page] = RESIDENT
        return hpa

    def _unshare(self, page: int, entry: int) -> int:
        """Copy-on-write: this page gets a private copy of the shared frame."""
        shared = entry & ~FLAGS
        i = self.frames.index(shared)
        if self.frames.refs[i] == 1:               # the last sharer: the frame is its own again
            self.frames.owner[i], self.frames.gpa_page[i], self.frames.refs[i] = self.vm_id, page, 0
            self.counters["cow_breaks"] += 1
            self._remapped(page)
            return shared
        data = self.frames.page_bytes(shared).copy()
        self._release(shared)
        self.page_map[page] = NO_FRAME             # (so reclaim cannot pick this page now)
        hpa = self.frames.alloc_guest(self, page)
        self.frames.page_bytes(hpa)[:] = data
        self.counters["cow_breaks"] += 1
        self._remapped(page)
        return hpa

    def _release(self, hpa: int) -> None:
        """This page no longer maps frame ``hpa``: drop a reference (shared) or free it."""
        i = self.frames.index(hpa)
        if self.frames.owner[i] == FrameAllocator.SHARED:
            self.frames.refs[i] -= 1
            if self.frames.refs[i] > 0:
                return
        self.frames.free(hpa)

    def _remapped(self, page: int) -> None:
        if self.on_remap is not None:
            self.on_remap(self.gpa_of(page))

    # === what the host does to pages ===========================================================
    def map_shared(self, page: int, shared_hpa: int) -> None:
        """Merge: the page now maps the shared frame ``shared_hpa`` (same content) read-only."""
        old = int(self.page_map[page])
        self.frames.refs[self.frames.index(shared_hpa)] += 1
        self.page_map[page] = shared_hpa | READ_ONLY
        self.state[page] = RESIDENT
        if old != NO_FRAME:
            self._release(old & ~FLAGS)
        self.counters["merged"] += 1
        self._remapped(page)

    def make_shared(self, page: int) -> int:
        """Turn this page's private frame into a shared one (its first sharer); its hpa."""
        hpa = int(self.page_map[page]) & ~FLAGS
        i = self.frames.index(hpa)
        self.frames.owner[i], self.frames.gpa_page[i], self.frames.refs[i] = FrameAllocator.SHARED, -1, 1
        self.page_map[page] = hpa | READ_ONLY
        self._remapped(page)
        return hpa

    def swap_out(self, page: int) -> None:
        """Write a private page to the swap file and give its frame back."""
        hpa = int(self.page_map[page]) & ~FLAGS
        self.swap_slot[page] = self.swap.put(self.frames.page_bytes(hpa).tobytes())
        self.page_map[page] = NO_FRAME
        self.state[page] = SWAPPED
        self.frames.free(hpa)
        self.counters["swap_outs"] += 1
        self._remapped(page)

    def balloon(self, page: int) -> bool:
        """The guest gave this page to its balloon: its frame (or swap slot) goes back to
        the host.  False if it was ballooned already."""
        if self.state[page] == BALLOONED:
            return False
        entry = int(self.page_map[page])
        if entry != NO_FRAME:
            self._release(entry & ~FLAGS)
        if self.state[page] == SWAPPED:
            self.swap.drop(int(self.swap_slot[page]))
            self.swap_slot[page] = -1
        self.page_map[page] = NO_FRAME
        self.state[page] = BALLOONED
        self.counters["balloon_in"] += 1
        self._remapped(page)
        return True

    def unballoon(self, page: int) -> bool:
        """The guest took this page out of its balloon: it gets a fresh (zeroed) frame on
        its next touch, like a page never touched.  False if it was not ballooned."""
        if self.state[page] != BALLOONED:
            return False
        self.state[page] = UNTOUCHED
        self.counters["balloon_out"] += 1
        return True

    def clear_accessed(self, page: int) -> None:
        """The clock's sweep: forget that the page was used, and unmap it from the shadow so
        that the next guest access faults and sets ACCESSED again (there is no hardware A
        bit to read: shadow leaves are built with A set)."""
        self.page_map[page] &= ~ACCESSED
        self._remapped(page)

    # === bytes =================================================================================
    def _offset(self, hpa: int) -> int:
        return hpa - self.frames.ram_base

    def read(self, gpa: int, n: int) -> bytes | None:
        """``n`` bytes at ``gpa`` (across pages), or None if any is outside guest RAM."""
        if not self.contains(gpa, n):
            return None
        out = bytearray()
        while n:
            chunk = min(n, PAGE - (gpa & (PAGE - 1)))
            off = self._offset(self._backing(gpa, False, False)[0])
            out += self.frames.ram[off: off + chunk].tobytes()
            gpa, n = gpa + chunk, n - chunk
        return bytes(out)

    def write(self, gpa: int, data: bytes) -> None:
        if not self.contains(gpa, len(data)):
            raise ValueError(f"gpa {gpa:#x}+{len(data)} is outside guest RAM")
        view = memoryview(bytes(data))
        while view:
            chunk = min(len(view), PAGE - (gpa & (PAGE - 1)))
            off = self._offset(self._backing(gpa, True, False)[0])
            self.frames.ram[off: off + chunk] = np.frombuffer(view[:chunk], dtype=np.uint8)
            gpa, view = gpa + chunk, view[chunk:]

    def read64(self, gpa: int) -> int | None:
        if gpa & 7 or not self.contains(gpa, 8):
            return None
        off = self._offset(self._backing(gpa, False, False)[0])
        return self.frames.words[off >> 3]

    def write64(self, gpa: int, value: int) -> None:
        off = self._offset(self._backing(gpa, True, False)[0])
        self.frames.words[off >> 3] = int(value) & MASK64

    # === how much ==============================================================================
    @property
    def resident_pages(self) -> int:
        return int(np.count_nonzero(self.page_map != NO_FRAME))

    def count(self, state: int) -> int:
        return int(np.count_nonzero(self.state == state))

    @property
    def shared_pages(self) -> int:
        """Pages that map a shared frame (read-only, copy-on-write)."""
        return int(np.count_nonzero((self.page_map != NO_FRAME) & (self.page_map & READ_ONLY != 0)))
