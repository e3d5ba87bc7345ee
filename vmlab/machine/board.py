"""The ``virt`` board as a Python object: what notebooks, tests and the CLI use.

:class:`Machine` owns the state arrays (layout.py), calls the compiled run loop (loop.py) in
chunks of about 10 ms of work, and does what needs Python between chunks: the virtio-mmio
devices (a disk in slot 0, a balloon in slot 1), console input and output, Ctrl-C, breakpoints reported back as :class:`RunResult`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine import snapshot as snapshot_file
from vmlab.machine.boot import BootImages, check_harts, check_ram, place_images
from vmlab.machine.console import drain_output, feed_input
from vmlab.machine.csr import MISA_H, MISA_M, csr_read, csr_write, reset_csrs
from vmlab.machine.devices import set_irq_line
from vmlab.machine.elf import load_elf_segments
from vmlab.machine.errors import BusError, MachineError
from vmlab.machine.fdt import DeviceTree, isa_from_misa, virt_tree
from vmlab.machine.loop import run as _run
from vmlab.machine.names import CAUSE_NAMES, INTERRUPT_NAMES, csr_number, reg_number
from vmlab.machine.rvc import expansion_table
from vmlab.machine.sigint import CtrlCFlag
from vmlab.machine.virtio_mmio import empty_slot_read

CHUNK = 1_000_000            # instructions per call into compiled code (<= ~10 ms of work)
#: multi-letter extensions the hart implements beside misa's letters (for the device tree)
HART_EXTENSIONS = ("zicntr", "zicsr", "zifencei", "zihintpause", "sstc")

_REASONS = {L.EXIT_BUDGET: "budget", L.EXIT_BREAKPOINT: "breakpoint", L.EXIT_HALT: "halt",
            L.EXIT_IDLE: "idle", L.EXIT_RESET: "reset", L.EXIT_TRAP: "trap"}


@dataclass
class RunResult:
    """Why a run stopped: ``reason`` is one of budget, breakpoint, halt, output,
    interrupted, idle (every hart in wfi, nothing armed), reset, or trap (hypervisor mode,
    ``ctl[C_FLAGS] & F_TRAP_EXIT``: the trap in ``ctl[C_TRAP_*]`` was not taken)."""

    reason: str
    instructions: int
    exit_code: int | None = None
    pc: int = 0
    matched: str | None = None      # which ``until_output`` pattern was seen


class _PhysMem:
    """Guest-physical RAM as a device doing DMA sees it (used by the virtio model)."""

    def __init__(self, machine: "Machine"):
        self.m = machine

    def read(self, paddr: int, n: int) -> bytes:
        return self.m.read_mem(paddr, n)

    def write(self, paddr: int, data: bytes) -> None:
        self.m.write_mem(paddr, data)


class Hart:
    """One hart's registers and CSRs, by name."""

    def __init__(self, machine: "Machine", h: int):
        self.m, self.h = machine, h

    @property
    def c(self) -> np.ndarray:
        return self.m.cpu[self.h]

    @property
    def pc(self) -> int:
        return int(self.c[L.PC]) & ((1 << 64) - 1)

    @pc.setter
    def pc(self, value: int) -> None:
        self.c[L.PC] = i64(value)

    @property
    def priv(self) -> int:
        return int(self.c[L.PRIV])

    @priv.setter
    def priv(self, value: int) -> None:
        if value not in (0, 1, 3):
            raise ValueError("privilege is 0 (U), 1 (S) or 3 (M)")
        self.c[L.PRIV] = value

    def reg(self, name) -> int:
        return int(self.c[L.XREG + reg_number(name)]) & ((1 << 64) - 1)

    def set_reg(self, name, value: int) -> None:
        i = reg_number(name)
        if i:
            self.c[L.XREG + i] = i64(value)

    def csr(self, name) -> int:
        m = self.m
        return int(csr_read(self.c, m.dev, m.ctl, self.h, csr_number(name))) & ((1 << 64) - 1)

    def set_csr(self, name, value: int) -> None:
        """Write a CSR as M-mode software would (WARL rules apply, privilege does not)."""
        num = csr_number(name)
        if num in (L.MCYCLE, L.MINSTRET, L.STIMECMP) or num < 0xC00:
            csr_write(self.c, num, i64(value))
        else:
            raise MachineError(f"CSR {name!r} is read-only")


class Machine:
    """The virt board: RAM at 0x8000_0000, UART, CLINT, PLIC, virtio-blk, sifive_test
    (and a virtio-balloon, if asked for)."""

    def __init__(self, ram_size: int = 128 << 20, harts: int = 1, drive: str | None = None,
                 readonly: bool = False, ram: np.ndarray | None = None, balloon: bool = False,
                 m_extension: bool = True, h_extension: bool = True):
        """``ram``: a uint8 array of ``ram_size`` bytes to use as RAM as it is (a restored
        snapshot's), instead of a fresh zeroed one.  ``balloon``: plug a virtio-balloon
        into virtio slot 1 (:meth:`attach_balloon`).  ``m_extension=False``: harts without
        M (misa.M clear), on which mul/div/rem are illegal instructions (lab 01).
        ``h_extension=False``: harts without the hypervisor extension (misa.H clear), as the
        shadow hypervisor's vCPUs are."""
        check_harts(harts)
        check_ram(ram_size)
        if ram is not None and (ram.dtype != np.uint8 or ram.shape != (ram_size,)):
            raise MachineError(f"RAM must be uint8[{ram_size}]")
        self.ram_size, self.nharts, self.drive = ram_size, harts, drive
        self.m_extension, self.h_extension = m_extension, h_extension
        self.cpu = np.zeros((harts, L.CPU_WORDS), dtype=np.int64)
        self.mem = np.zeros(ram_size, dtype=np.uint8) if ram is None else ram
        self.tlb = np.zeros((harts, 3, L.TLB_SETS, L.TLB_COLS), dtype=np.int64)
        self.dev = np.zeros(L.DEV_WORDS, dtype=np.int64)
        self.io = np.zeros(L.IO_BYTES, dtype=np.uint8)
        self.ctl = np.zeros(L.CTL_WORDS, dtype=np.int64)
        self._out = bytearray()
        self._pending_in = bytearray()
        self.breakpoints: list[int] = []
        self.symbols: dict[str, int] = {}
        self.virtio = None                # the disk, in virtio slot 0
        self.slots: dict = {}             # virtio slot number (1..7) -> device
        self.balloon = None
        self.ballooned: set[int] = set()
        if drive is not None:
            self.attach_drive(drive, readonly)
        if balloon:
            self.attach_balloon()
        self.harts = [Hart(self, h) for h in range(harts)]
        self.reset()

    # ---- reset and loading --------------------------------------------------------------
    def reset(self) -> None:
        """Power-on state: every hart in M-mode at 0x8000_0000; RAM is kept."""
        self.cpu[:] = 0
        for h in range(self.nharts):
            reset_csrs(self.cpu[h])
            if not self.m_extension:
                self.cpu[h, L.MISA] &= ~MISA_M
            if not self.h_extension:
                self.cpu[h, L.MISA] &= ~MISA_H
            self.cpu[h, L.RES_ADDR] = -1
            self.cpu[h, L.PC] = L.RAM_BASE
        self.tlb[:] = 0
        self.tlb[:, :, :, L.TLB_TAG] = L.TLB_EMPTY
        tohost, fromhost = self.dev[L.D_TOHOST], self.dev[L.D_FROMHOST]
        self.dev[:] = 0
        self.dev[L.D_TOHOST], self.dev[L.D_FROMHOST] = tohost, fromhost
        self.dev[L.D_MTIMECMP:L.D_MTIMECMP + L.MAX_HARTS] = -1
        keep = self.ctl[[L.C_OUT_HEAD, L.C_OUT_TAIL, L.C_IN_HEAD, L.C_IN_TAIL]].copy()
        self.ctl[:] = 0
        self.ctl[[L.C_OUT_HEAD, L.C_OUT_TAIL, L.C_IN_HEAD, L.C_IN_TAIL]] = keep
        self.ctl[L.C_RAM_BASE], self.ctl[L.C_RAM_SIZE] = L.RAM_BASE, self.ram_size
        self.ctl[L.C_HARTS] = self.nharts
        self.ctl[L.C_SLICE_LEN] = L.SLICE if self.nharts > 1 else L.SLICE_SINGLE
        self.ctl[L.C_FAULT] = -1
        self._sync_breakpoints()
        for device in self._virtio_devices():
            device.reset()

    def close(self) -> None:
        """Close the disk image (every completed write is already on the file)."""
        if self.virtio is not None:
            self.virtio.close()

    def input_can_wake(self) -> bool:
        """Could typed input wake a hart waiting in wfi?  Only through an enabled
        external interrupt (the UART's wire through the PLIC)."""
        ext = L.MIP_MEIP | L.MIP_SEIP
        return any(int(self.cpu[h, L.MIE]) & ext for h in range(self.nharts))

    def load_elf(self, path_or_bytes) -> int:
        """Load an ELF's PT_LOAD segments at their physical addresses; return the entry.

        ``tohost``/``fromhost`` symbols switch on HTIF (riscv-tests' exit and console).
        """
        entry, symbols = load_elf_segments(path_or_bytes, self.write_mem, self._zero_mem)
        self.symbols.update(symbols)
        if "tohost" in symbols:
            self.dev[L.D_TOHOST] = symbols["tohost"]
            self.dev[L.D_FROMHOST] = symbols.get("fromhost", 0)
        return entry

    def load_raw(self, data_or_path, addr: int) -> None:
        """Copy a raw image (bytes or a file) into RAM at physical address ``addr``."""
        if isinstance(data_or_path, (str, Path)):
            data_or_path = Path(data_or_path).read_bytes()
        self.write_mem(addr, bytes(data_or_path))

    def load(self, data_or_path, addr: int) -> int:
        """An ELF at its own addresses (returning its entry), else raw at ``addr``."""
        data = Path(data_or_path).read_bytes() if isinstance(data_or_path, (str, Path)) else bytes(data_or_path)
        if data[:4] == b"\x7fELF":
            return self.load_elf(data)
        self.load_raw(data, addr)
        return addr

    def boot_virt(self, bios=None, kernel=None, bootargs: str = "", initrd=None,
                  dtb=None) -> int:
        """Set up a boot as QEMU's virt does; return the DTB's address.

        bios at 0x8000_0000 (an ELF at its own addresses), kernel at 0x8020_0000, an initrd
        above the kernel, the device tree (the board's own, or ``dtb``) at the top of RAM,
        every hart at the firmware's entry in M-mode with a0 = hart id, a1 = DTB.  Without
        bios, the kernel is started in M-mode itself.  (vmlab.machine.boot has the layout.)
        """
        self.reset()
        images = BootImages(bios, kernel, initrd, bootargs, dtb)
        self.boot_layout = place_images(images, L.RAM_BASE, self.ram_size, self.load, self.write_mem,
                                 self.device_tree)
        for hart in self.harts:
            hart.pc = self.boot_layout.entry
            hart.set_reg("a0", hart.h)
            hart.set_reg("a1", self.boot_layout.dtb_addr)
        self.dtb_addr = self.boot_layout.dtb_addr
        return self.dtb_addr

    def device_tree(self) -> DeviceTree:
        """This board's device tree: its RAM, harts (ISA from misa), devices."""
        return virt_tree(L.RAM_BASE, self.ram_size, self.nharts,
                         virtio_blk=self.virtio is not None, virtio_slots=sorted(self.slots),
                         isa=isa_from_misa(int(self.cpu[0, L.MISA]), HART_EXTENSIONS))

    # ---- memory --------------------------------------------------------------------------
    def _ram_slice(self, paddr: int, n: int) -> slice:
        off = paddr - L.RAM_BASE
        if n < 0 or off < 0 or off + n > self.ram_size:
            raise BusError(f"physical range {paddr:#x}+{n:#x} is not RAM")
        return slice(off, off + n)

    def read_mem(self, paddr: int, n: int) -> bytes:
        return self.mem[self._ram_slice(paddr, n)].tobytes()

    def write_mem(self, paddr: int, data) -> None:
        data = bytes(data)
        self.mem[self._ram_slice(paddr, len(data))] = np.frombuffer(data, dtype=np.uint8)

    def fetch_address(self, va: int, hart: int = 0) -> int | None:
        """The physical address an instruction fetch from ``va`` uses now, if known without a
        page walk (bare/M-mode, or a fetch TLB hit); None otherwise.  For tracing."""
        c = self.cpu[hart]
        satp, priv = int(c[L.SATP]) & ((1 << 64) - 1), int(c[L.PRIV])
        if satp >> 60 != 8 or priv == L.PRIV_M:
            return va
        e = self.tlb[hart, L.ACC_FETCH, (i64(va) >> 12) & (L.TLB_SETS - 1)]
        if e[L.TLB_TAG] == i64(va) >> 12:
            return int(e[L.TLB_PPAGE]) | (va & 0xFFF)
        return None

    def _zero_mem(self, paddr: int, n: int) -> None:
        self.mem[self._ram_slice(paddr, n)] = 0

    # ---- hart 0 shortcuts ----------------------------------------------------------------
    @property
    def pc(self) -> int:
        return self.harts[0].pc

    @pc.setter
    def pc(self, value: int) -> None:
        self.harts[0].pc = value

    @property
    def priv(self) -> int:
        return self.harts[0].priv

    @priv.setter
    def priv(self, value: int) -> None:
        self.harts[0].priv = value

    def reg(self, name) -> int:
        return self.harts[0].reg(name)

    def set_reg(self, name, value: int) -> None:
        self.harts[0].set_reg(name, value)

    def csr(self, name) -> int:
        return self.harts[0].csr(name)

    def set_csr(self, name, value: int) -> None:
        self.harts[0].set_csr(name, value)

    # ---- breakpoints ---------------------------------------------------------------------
    def add_breakpoint(self, pc: int) -> None:
        if pc not in self.breakpoints:
            if len(self.breakpoints) >= L.MAX_BP:
                raise MachineError(f"at most {L.MAX_BP} breakpoints")
            self.breakpoints.append(pc)
        self._sync_breakpoints()

    def remove_breakpoint(self, pc: int) -> None:
        if pc in self.breakpoints:
            self.breakpoints.remove(pc)
        self._sync_breakpoints()

    def _sync_breakpoints(self) -> None:
        self.ctl[L.C_NBP] = len(self.breakpoints)
        for i, pc in enumerate(self.breakpoints):
            self.ctl[L.C_BP + i] = i64(pc)

    # ---- console -------------------------------------------------------------------------
    @property
    def console_output(self) -> str:
        self._drain()
        return self._out.decode("utf-8", errors="replace")

    @property
    def console_bytes(self) -> bytes:
        self._drain()
        return bytes(self._out)

    def read_console(self, start: int = 0) -> bytes:
        """Console output from byte ``start`` on (cheap for following a long run)."""
        self._drain()
        return bytes(self._out[start:])

    def send_input(self, text_or_bytes) -> None:
        """Type into the UART (bytes are delivered as the guest reads them)."""
        data = text_or_bytes.encode() if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        self._pending_in += data
        self._feed()

    def _feed(self) -> None:
        feed_input(self.io, self.ctl, self.dev, self._pending_in)

    def _drain(self) -> int:
        data = drain_output(self.io, self.ctl)
        self._out += data
        return len(data)

    # ---- running -------------------------------------------------------------------------
    def step(self) -> RunResult:
        """Execute one instruction (or take one trap) on the current hart."""
        return self.run(instructions=1)

    def run(self, instructions: int | None = None, until_output=None) -> RunResult:
        """Run until the budget is spent, a breakpoint, a halt, ``until_output`` (a string, or
        a list of strings) appears in the console output produced by this run, or Ctrl-C
        (reason "interrupted"; the machine can simply continue)."""
        stop = CtrlCFlag()
        done = 0
        self._drain()
        seen = len(self._out)            # output before this run is not searched
        if isinstance(until_output, (str, bytes)):
            until_output = [until_output]
        patterns = [p.encode() if isinstance(p, str) else bytes(p) for p in until_output or ()]
        flags = int(self.ctl[L.C_FLAGS]) & ~L.F_EXIT_ON_OUTPUT     # keep F_TRAP_EXIT
        self.ctl[L.C_FLAGS] = flags | (L.F_EXIT_ON_OUTPUT if patterns else 0)
        self.ctl[L.C_SKIP_BP] = 1
        with stop:
            while True:
                if stop.hit:
                    return self._result("interrupted", done)
                chunk = CHUNK if instructions is None else min(CHUNK, instructions - done)
                if chunk <= 0:
                    return self._result("budget", done)
                self.ctl[L.C_BUDGET] = chunk
                code = _run(self.cpu, self.mem, self.tlb, self.dev, self.io, self.ctl, expansion_table())
                done += chunk - int(self.ctl[L.C_BUDGET])
                if code == L.EXIT_MMIO:
                    self._virtio_access()
                    continue
                if self._drain() and patterns:
                    new_from, seen = seen, len(self._out)
                    for p in patterns:         # only the new bytes (and a pattern's overlap)
                        if self._out.find(p, max(0, new_from - len(p) + 1)) >= 0:
                            r = self._result("output", done)
                            r.matched = p.decode(errors="replace")
                            return r
                if code == L.EXIT_OUTPUT or code == L.EXIT_BUDGET:
                    if self._pending_in:
                        self._feed()
                    continue
                if code == L.EXIT_IDLE and self._pending_in:
                    self._feed()
                    continue
                return self._result(_REASONS[code], done)

    def _result(self, reason: str, done: int) -> RunResult:
        code = int(self.ctl[L.C_EXIT_ARG]) if reason == "halt" else None
        return RunResult(reason, done, code, self.harts[int(self.ctl[L.C_CUR_HART])].pc)

    def _virtio_access(self) -> None:
        """Finish the access to a virtio-mmio slot the compiled loop handed back to us: an
        empty slot reads as QEMU's do ("virt", version 2, device id 0) and ignores writes."""
        c = self.ctl
        slot, off = divmod(int(c[L.C_MMIO_ADDR]) - L.VIRTIO_BASE, L.VIRTIO_SIZE)
        size, device = int(c[L.C_MMIO_SIZE]), self._slot_device(slot)
        if c[L.C_MMIO_WRITE]:
            if device is not None:
                device.mmio_write(off, size, int(c[L.C_MMIO_VALUE]) & ((1 << (8 * size)) - 1))
                if device.signals_after_write(off):
                    set_irq_line(self.dev, L.VIRTIO_IRQ + slot, device.irq_level)
            return
        v = device.mmio_read(off, size) if device is not None else empty_slot_read(off, size)
        bits = 8 * size
        if int(c[L.C_MMIO_SIGNED]) < 4 and (v >> (bits - 1)) & 1:
            v -= 1 << bits
        rd = int(c[L.C_MMIO_RD])
        if rd:
            self.cpu[int(c[L.C_CUR_HART]), L.XREG + rd] = i64(v)

    def _slot_device(self, slot: int):
        return self.virtio if slot == 0 else self.slots.get(slot)

    def _virtio_devices(self) -> list:
        return ([self.virtio] if self.virtio is not None else []) + list(self.slots.values())

    def set_slot_irq(self, slot: int) -> None:
        """Drive slot ``slot``'s PLIC wire from its device (after the host changed it)."""
        device = self._slot_device(slot)
        if device is not None:
            set_irq_line(self.dev, L.VIRTIO_IRQ + slot, device.irq_level)

    # ---- statistics and snapshots --------------------------------------------------------
    @property
    def counters(self) -> dict:
        c = self.ctl
        exc = {CAUSE_NAMES.get(i, str(i)): int(c[L.trap_counter(i, False)])
               for i in L.COUNTED_EXCEPTIONS if c[L.trap_counter(i, False)]}
        irq = {INTERRUPT_NAMES.get(i, str(i)): int(c[L.C_INT + i]) for i in range(16) if c[L.C_INT + i]}
        return {"instructions": int(c[L.C_INSTRET]), "exceptions": exc, "interrupts": irq,
                "traps": {**exc, **irq}, "tlb_hits": int(c[L.C_TLB_HIT]),
                "tlb_misses": int(c[L.C_TLB_MISS]), "mmio": int(c[L.C_MMIO]),
                "time_ns": int(self.dev[L.D_TICKS] + c[L.C_SLICE_POS]),
                "idle_ns": int(c[L.C_IDLE_NS])}

    def snapshot(self, path) -> None:
        """Save the whole machine, its disk included; :meth:`restore` continues exactly
        where it stopped.  The file format is documented in vmlab.machine.snapshot."""
        snapshot_file.save(self, path)

    @classmethod
    def restore(cls, path, drive=None) -> "Machine":
        """A machine from a snapshot file (validated before use; never unpickled).  With a
        disk, its saved contents are written to ``drive`` (default: the original image)."""
        m = snapshot_file.load(cls, path, drive)
        m._sanitize()
        return m

    def _sanitize(self) -> None:
        """What the compiled code trusts (sizes, indices, cached translations) is set from
        the machine itself, never taken from a file."""
        if not np.isin(self.cpu[:, L.PRIV], (0, 1, 3)).all():
            raise snapshot_file.SnapshotError("snapshot has a hart in no privilege level")
        c = self.ctl
        c[L.C_RAM_BASE], c[L.C_RAM_SIZE], c[L.C_HARTS] = L.RAM_BASE, self.ram_size, self.nharts
        c[L.C_SLICE_LEN] = L.SLICE if self.nharts > 1 else L.SLICE_SINGLE
        c[L.C_CUR_HART] = min(max(int(c[L.C_CUR_HART]), 0), self.nharts - 1)
        c[L.C_FLAGS] &= L.F_EXIT_ON_OUTPUT | L.F_TRAP_EXIT
        self.tlb[:] = 0                              # a cache: refilled from page tables
        self.tlb[:, :, :, L.TLB_TAG] = L.TLB_EMPTY
        self._sync_breakpoints()

    def attach_drive(self, path: str, readonly: bool = False) -> None:
        """Plug a disk image into the virtio slot (before the guest looks at it)."""
        from vmlab.machine.virtio_blk import VirtioBlk
        self.close()
        self.drive = path
        self.virtio = VirtioBlk(str(path), read_only=readonly)
        self.virtio.attach(_PhysMem(self))

    def attach_balloon(self, slot: int = 1):
        """Plug a virtio-balloon into virtio slot ``slot`` (before the guest boots: the
        device tree names it).  Bare, there is no host pool to give pages back to: the
        device counts what the guest inflates and deflates, and :meth:`set_balloon_target`
        asks for pages."""
        from vmlab.machine.memmap import virtio_slot
        from vmlab.machine.virtio_balloon import VirtioBalloon
        virtio_slot(slot)                       # a slot the board has
        if slot == 0 or slot in self.slots:
            raise MachineError(f"virtio slot {slot} is taken")
        self.ballooned: set[int] = set()       # guest PFNs in the balloon now
        self.balloon = VirtioBalloon(self.ballooned.update, self.ballooned.difference_update)
        self.balloon.attach(_PhysMem(self))
        self.slots[slot] = self.balloon
        return self.balloon

    def set_balloon_target(self, pages: int) -> None:
        """Ask the guest's balloon driver to hold ``pages`` 4 KiB pages."""
        if self.balloon is None:
            raise MachineError("no balloon: Machine(balloon=True) or attach_balloon() first")
        self.balloon.set_target(pages)
        slot = next(n for n, d in self.slots.items() if d is self.balloon)
        self.set_slot_irq(slot)
