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
"""
from __future__ import annotations

import numpy as np

PAGE = 4096
NO_FRAME = -1


class OutOfFrames(Exception):
    """The host has no free frame left."""


class FrameAllocator:
    """Hands out 4 KiB frames of host RAM, lowest address first (so runs are repeatable).

    ``owner[i]`` records who holds frame i (a VM id, or :data:`SHADOW` for page-table
    frames the hypervisor builds) so that views and tests can show where memory went.
    """

    FREE = -1
    SHADOW = -2

    def __init__(self, ram: np.ndarray, ram_base: int, first: int | None = None, end: int | None = None):
        self.ram = ram
        self.ram_base = ram_base
        first = ram_base if first is None else first
        end = ram_base + len(ram) if end is None else end
        self.first_frame = (first - ram_base) // PAGE
        self.nframes = (end - ram_base) // PAGE
        self.owner = np.full(self.nframes, self.FREE, dtype=np.int32)
        self.owner[: self.first_frame] = self.SHADOW - 1     # below `first`: not ours to give
        self._free = list(range(self.nframes - 1, self.first_frame - 1, -1))  # pop() = lowest

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

    def free(self, hpa: int) -> None:
        i = (hpa - self.ram_base) // PAGE
        if self.owner[i] < self.SHADOW:
            raise ValueError(f"frame {hpa:#x} is not an allocatable frame")
        if self.owner[i] == self.FREE:
            raise ValueError(f"frame {hpa:#x} is already free")
        self.owner[i] = self.FREE
        self._free.append(i)

    @property
    def free_count(self) -> int:
        return len(self._free)

    def frames_of(self, owner: int) -> np.ndarray:
        """hpas of every frame ``owner`` holds."""
        return self.ram_base + np.flatnonzero(self.owner == owner) * PAGE


class GuestMemory:
    """One VM's guest-physical RAM: ``size`` bytes at ``gpa_base``, backed page by page.

    Accesses outside ``[gpa_base, gpa_base + size)`` return None (reads) or raise (writes):
    that is not guest RAM, and the hypervisor decides whether it is a device or a fault.
    """

    def __init__(self, frames: FrameAllocator, vm_id: int, gpa_base: int, size: int):
        if gpa_base % PAGE or size % PAGE:
            raise ValueError("guest RAM must be page aligned")
        self.frames = frames
        self.vm_id = vm_id
        self.gpa_base = gpa_base
        self.size = size
        self.page_map = np.full(size // PAGE, NO_FRAME, dtype=np.int64)   # guest page -> hpa

    def contains(self, gpa: int, n: int = 1) -> bool:
        return self.gpa_base <= gpa and gpa + n <= self.gpa_base + self.size

    def hpa(self, gpa: int, allocate: bool = True) -> int | None:
        """The host address backing ``gpa`` (allocating its frame on first touch), or None."""
        if not self.contains(gpa):
            return None
        page = (gpa - self.gpa_base) // PAGE
        base = self.page_map[page]
        if base == NO_FRAME:
            if not allocate:
                return None
            base = self.page_map[page] = self.frames.alloc(self.vm_id)
        return int(base) + (gpa & (PAGE - 1))

    def _offset(self, hpa: int) -> int:
        return hpa - self.frames.ram_base

    def read(self, gpa: int, n: int) -> bytes | None:
        """``n`` bytes at ``gpa`` (across pages), or None if any is outside guest RAM."""
        if not self.contains(gpa, n):
            return None
        out = bytearray()
        while n:
            chunk = min(n, PAGE - (gpa & (PAGE - 1)))
            off = self._offset(self.hpa(gpa))
            out += self.frames.ram[off: off + chunk].tobytes()
            gpa, n = gpa + chunk, n - chunk
        return bytes(out)

    def write(self, gpa: int, data: bytes) -> None:
        if not self.contains(gpa, len(data)):
            raise ValueError(f"gpa {gpa:#x}+{len(data)} is outside guest RAM")
        view = memoryview(bytes(data))
        while view:
            chunk = min(len(view), PAGE - (gpa & (PAGE - 1)))
            off = self._offset(self.hpa(gpa))
            self.frames.ram[off: off + chunk] = np.frombuffer(view[:chunk], dtype=np.uint8)
            gpa, view = gpa + chunk, view[chunk:]

    def read64(self, gpa: int) -> int | None:
        if gpa & 7 or not self.contains(gpa, 8):
            return None
        off = self._offset(self.hpa(gpa))
        return int(self.frames.ram[off: off + 8].view(np.uint64)[0])

    def write64(self, gpa: int, value: int) -> None:
        off = self._offset(self.hpa(gpa))
        self.frames.ram[off: off + 8] = np.frombuffer(int(value).to_bytes(8, "little"), dtype=np.uint8)

    @property
    def resident_pages(self) -> int:
        return int(np.count_nonzero(self.page_map != NO_FRAME))
