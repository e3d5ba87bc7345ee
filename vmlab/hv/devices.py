"""One VM's virtual board: the machine's own device models on the VM's own state arrays.

The machine's UART 16550, CLINT, PLIC and sifive_test are compiled functions over a
``dev``/``io``/``ctl`` array set (vmlab.machine.devices).  A VM gets its own set, so the
*same* model code serves the bare machine and every guest: a trapped guest store to the UART
becomes ``mmio_write(vm_dev, vm_io, vm_ctl, gpa, size, value)``.  The virtio block device is
the machine's :class:`~vmlab.machine.virtio_blk.VirtioBlk`, doing its DMA into the VM's
guest-physical memory.
"""
from __future__ import annotations

import numpy as np

from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.board import HART_EXTENSIONS
from vmlab.machine.console import drain_output, feed_input
from vmlab.machine.csr import MISA_H, MISA_VALUE
from vmlab.machine.devices import DEV_OK, mmio_read, mmio_write, set_irq_line, uart_update
from vmlab.machine.errors import BusError
from vmlab.machine.memmap import VIRTIO_WINDOW
from vmlab.machine.virtio_mmio import empty_slot_read
from vmlab.machine.fdt import isa_from_misa

#: What a vCPU offers, for its device tree: guest instructions run on the real hart, and
#: privileged state is emulated with the machine's own CSR code (the virtual stimecmp is
#: served by the same update_hwip), so it is the hart's ISA -- less H: trap-and-emulate
#: cannot give a guest VS-mode for guests of its own (vmlab.hv.vcpu clears misa.H).
VCPU_ISA = isa_from_misa(MISA_VALUE & ~MISA_H, HART_EXTENSIONS)


class _GuestDma:
    """Guest RAM as the virtio device sees it: gpas, and a BusError outside guest RAM --
    the error the device model turns into IOERR for that request (or NEEDS_RESET for a
    broken ring), exactly as on the bare machine, so a guest's bad address never reaches
    the host as anything else."""

    def __init__(self, mem):
        self.mem = mem

    def _check(self, gpa: int, n: int) -> None:
        if n < 0 or not self.mem.contains(gpa, n):
            raise BusError(f"DMA at gpa {gpa:#x}+{n:#x} outside guest RAM")

    def read(self, gpa: int, n: int) -> bytes:
        self._check(gpa, n)
        return self.mem.read(gpa, n)

    def write(self, gpa: int, data: bytes) -> None:
        self._check(gpa, len(data))
        self.mem.write(gpa, data)


#: The public name of that view: other device models (vmlab.hv.piodisk) DMA through it too.
GuestDma = _GuestDma


class VirtualDevices:
    """UART, CLINT, PLIC, sifive_test and (optionally) virtio-blk for one VM."""

    def __init__(self, mem, vcpus: int, drive: str | None = None, readonly: bool = False):
        self.dev = np.zeros(L.DEV_WORDS, dtype=np.int64)
        self.io = np.zeros(L.IO_BYTES, dtype=np.uint8)
        self.ctl = np.zeros(L.CTL_WORDS, dtype=np.int64)
        self.dev[L.D_MTIMECMP:L.D_MTIMECMP + L.MAX_HARTS] = -1
        self.ctl[L.C_HARTS] = vcpus
        self.ctl[L.C_RAM_BASE], self.ctl[L.C_RAM_SIZE] = mem.gpa_base, mem.size
        self.ctl[L.C_FAULT] = -1
        self.ctl[L.C_EXIT] = L.EXIT_NONE
        self.out = bytearray()            # everything the guest printed
        self.pending_in = bytearray()     # typed, not yet in the UART's receive ring
        self.virtio = None
        if drive is not None:
            from vmlab.machine.virtio_blk import VirtioBlk
            self.virtio = VirtioBlk(str(drive), read_only=readonly)
            self.virtio.attach(_GuestDma(mem))
        self.accesses = 0
        self.mem = mem
        self.slots: list = []             # more virtio-mmio devices (add_slot)

    def add_slot(self, base: int, size: int, irq: int, device, dt_node) -> None:
        """Plug another virtio-mmio ``device`` in at ``base`` on PLIC wire ``irq`` (e.g. the
        balloon, vmlab.hv.balloon); ``dt_node(tree)`` describes it in the device tree."""
        device.attach(_GuestDma(self.mem))
        self.slots.append((base, size, irq, device, dt_node))

    def _slot(self, gpa: int):
        return next((s for s in self.slots if s[0] <= gpa < s[0] + s[1]), None)

    def set_slot_irq(self, slot) -> None:
        set_irq_line(self.dev, slot[2], slot[3].irq_level)

    def sync_time(self, now_ns: int) -> None:
        """The device models read the time from dev/ctl: give them the machine's clock."""
        self.dev[L.D_TICKS] = now_ns
        self.ctl[L.C_SLICE_POS] = 0

    # --- loads and stores -----------------------------------------------------------------
    def read(self, gpa: int, size: int) -> int | None:
        """A guest load from a device register; None when nothing is there (access fault)."""
        self.accesses += 1
        slot = self._slot(gpa)
        if slot is not None:
            return slot[3].mmio_read(gpa - slot[0], size)
        if L.VIRTIO_BASE <= gpa < L.VIRTIO_BASE + L.VIRTIO_SIZE and self.virtio:
            return self.virtio.mmio_read(gpa - L.VIRTIO_BASE, size)
        if L.VIRTIO_BASE <= gpa < L.VIRTIO_BASE + VIRTIO_WINDOW:      # an empty slot
            return empty_slot_read((gpa - L.VIRTIO_BASE) % L.VIRTIO_SIZE, size)
        status, value = mmio_read(self.dev, self.io, self.ctl, gpa, size)
        return int(value) & ((1 << 64) - 1) if status == DEV_OK else None

    def write(self, gpa: int, size: int, value: int) -> bool:
        """A guest store to a device register; False when nothing is there."""
        self.accesses += 1
        slot = self._slot(gpa)
        if slot is not None:
            slot[3].mmio_write(gpa - slot[0], size, value & ((1 << 8 * size) - 1))
            if slot[3].signals_after_write(gpa - slot[0]):
                self.set_slot_irq(slot)
            return True
        if L.VIRTIO_BASE <= gpa < L.VIRTIO_BASE + L.VIRTIO_SIZE:
            if self.virtio is not None:
                off = gpa - L.VIRTIO_BASE
                self.virtio.mmio_write(off, size, value & ((1 << 8 * size) - 1))
                if self.virtio.signals_after_write(off):
                    set_irq_line(self.dev, L.VIRTIO_IRQ, self.virtio.irq_level)
            return True
        if L.VIRTIO_BASE <= gpa < L.VIRTIO_BASE + VIRTIO_WINDOW:
            return True                   # an empty virtio-mmio slot ignores stores
        self.ctl[L.C_EXIT] = L.EXIT_NONE
        ok = mmio_write(self.dev, self.io, self.ctl, gpa, size, i64(value)) == DEV_OK
        self.drain()
        return ok

    @property
    def halt_request(self) -> tuple[str, int] | None:
        """("halt", status) or ("reset", 0) after the guest wrote sifive_test, else None."""
        if self.ctl[L.C_EXIT] == L.EXIT_HALT:
            return "halt", int(self.ctl[L.C_EXIT_ARG])
        if self.ctl[L.C_EXIT] == L.EXIT_RESET:
            return "reset", 0
        return None

    # --- console ----------------------------------------------------------------------------
    def drain(self) -> None:
        """Move what the UART model wrote into its output ring to ``out``."""
        self.out += drain_output(self.io, self.ctl)

    def print_bytes(self, data: bytes) -> None:
        """Console output that did not go through the UART (SBI putchar, DBCN)."""
        self.drain()
        self.out += data

    def send_input(self, data: bytes) -> None:
        self.pending_in += data
        self.feed()

    def feed(self) -> None:
        """Move typed bytes into the UART receive ring as far as it has room."""
        feed_input(self.io, self.ctl, self.dev, self.pending_in)

    def getchar(self) -> int:
        """One typed byte for SBI console_getchar, or -1."""
        self.feed()
        head, tail = int(self.ctl[L.C_IN_HEAD]), int(self.ctl[L.C_IN_TAIL])
        if head == tail:
            return -1
        b = int(self.io[L.OUT_BYTES + (tail & (L.IN_BYTES - 1))])
        self.ctl[L.C_IN_TAIL] = tail + 1
        uart_update(self.dev, self.ctl)
        return b
