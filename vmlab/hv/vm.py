"""The hypervisor and its virtual machines.

``Hypervisor(machine)`` takes over a machine: it owns the frame allocator over the
machine's RAM (every VM's memory and every shadow page table come from it) and the VMs.
A :class:`VM` has guest-physical RAM (a gpa -> hpa page map), virtual devices, a shadow
pager, vCPUs and a trace::

    hv = Hypervisor(Machine(ram_size=256 << 20))
    vm = hv.create_vm(ram_size=128 << 20)
    vm.boot(kernel="uboot.elf")                 # a kernel in vS; SBI from the hypervisor
    vm.boot(bios="fw_jump.elf", kernel=...)     # firmware in virtual M-mode
    r = vm.run(instructions=50_000_000, until_output="=>")
    print(vm.console_output, vm.trace.by_cause())
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from vmlab.hv import paravirt, translate  # noqa: F401  (they add their SBI / exit handlers:
#                                         every VM sees the same tables, whatever was imported)
from vmlab.hv.devices import VCPU_ISA, VirtualDevices
from vmlab.hv.htif import Htif
from vmlab.hv.memory import FrameAllocator, GuestMemory
from vmlab.hv.shadow import ShadowPaging
from vmlab.hv.trace import SCHED, Trace
from vmlab.hv.vcpu import VCpu
from vmlab.machine import layout as L
from vmlab.machine.bits import words
from vmlab.machine.board import Machine, RunResult
from vmlab.machine.boot import BootImages, check_harts, place_images
from vmlab.machine.errors import MachineError
from vmlab.machine.fdt import virt_tree
from vmlab.machine.csr import STCE
from vmlab.machine.elf import load_elf_segments
from vmlab.machine.sigint import CtrlCFlag

#: exceptions a vS kernel handles itself when the hypervisor is its firmware (as OpenSBI
#: delegates them): everything but ecall from S (SBI) and from M
VS_MEDELEG = 0xB1FF
VS_MIDELEG = L.MIP_SSIP | L.MIP_STIP | L.MIP_SEIP
CHUNK = 2_000_000
QUANTUM = 50_000         # instructions per vCPU turn when several share the hart
BACKENDS = ("shadow", "hw")


class HvError(Exception):
    """Something the hypervisor cannot do for this guest."""


def make_shadow(vm, strategy: str):
    """The VM's shadow pager (vmlab.hv.shadow): gva -> hpa tables built from the guest's."""
    return ShadowPaging(vm, strategy=strategy)


class Hypervisor:
    """Owns a machine: its RAM (as host frames) and real hart 0, on which vCPUs run."""

    def __init__(self, machine=None):
        if machine is None:
            machine = Machine(ram_size=256 << 20)
        self.machine = machine
        self.frames = FrameAllocator(machine.mem, L.RAM_BASE)
        self.vms: list[VM] = []
        self.last_on_hart: dict[int, VCpu] = {}
        c = machine.cpu
        c[:, L.PRIV], c[:, L.MIE], c[:, L.MIDELEG], c[:, L.MEDELEG] = L.PRIV_U, 0, 0, 0
        c[1:, L.WAITING] = 1                       # other real harts sit out
        machine.dev[L.D_MTIMECMP:L.D_MTIMECMP + L.MAX_HARTS] = -1

    def create_vm(self, ram_size: int = 128 << 20, vcpus: int = 1, drive=None,
                  shadow: str = "sfence", fast_exits: bool = True,
                  backend: str = "shadow") -> "VM":
        """``fast_exits``: the hot exits are handled in compiled code (vmlab.hv.fastpath);
        False sends every exit through the Python handlers, to step through them.
        ``backend``: "shadow" (trap-and-emulate, shadow page tables) or "hw" (the guest in
        VS/VU mode on the H extension, two-stage translation: vmlab.hv.hw_backend; its
        few exits always go through Python)."""
        if backend not in BACKENDS:
            raise HvError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        vm = VM(self, len(self.vms), ram_size, vcpus, drive, shadow, backend)
        vm.fast_exits = fast_exits and backend == "shadow"
        self.vms.append(vm)
        return vm


class VM:
    """One virtual machine: guest RAM at gpa 0x8000_0000, the virt board's devices, vCPUs."""

    def __init__(self, hv: Hypervisor, vm_id: int, ram_size: int, vcpus: int, drive, shadow: str,
                 backend: str = "shadow"):
        check_harts(vcpus)          # the machine's one limit, for vCPUs too
        self.hv, self.id, self.machine, self.frames = hv, vm_id, hv.machine, hv.frames
        self.mem = GuestMemory(hv.frames, vm_id, L.RAM_BASE, ram_size)
        self.trace = Trace()
        self.rows = np.zeros((vcpus, L.CPU_WORDS), dtype=np.int64)
        # the machine's clock words, read on every exit (bits.words: plain ints, cheaply)
        self._mdev = words(hv.machine.dev, signed=True)
        self._mctl = words(hv.machine.ctl, signed=True)
        self.devices = VirtualDevices(self.mem, vcpus, drive)
        self.backend, self.hw = backend, None
        if backend == "hw":                     # the H-extension backend: vmlab.hv.hw_backend
            from vmlab.hv.hw_backend import HwBackend
            self.hw = HwBackend(self)
        self.vcpus = [self._new_vcpu(i) for i in range(vcpus)]
        self.shadow = self.hw.shadow if self.hw else make_shadow(self, shadow)
        self.sbi_from_hv = False
        self.fast_exits = True            # vmlab.hv.fastpath handles the hot exits
        self.sbi_calls: Counter = Counter()
        self.stopped: tuple[str, int] | None = None
        self.symbols: dict[str, int] = {}
        self._images = None
        self.htif = None                 # riscv-tests' tohost/fromhost, when the ELF has them
        self._turn = self._last = 0

    def _new_vcpu(self, i: int):
        return self.hw.new_vcpu(i) if self.hw else VCpu(self, i)

    # --- time ---------------------------------------------------------------------------------
    def time(self) -> int:
        """Simulated ns: the machine's clock (guest instructions plus the cost of exits)."""
        return self._mdev[L.D_TICKS] + self._mctl[L.C_SLICE_POS]

    def mtime(self) -> int:
        return self.time() // 100

    def charge(self, ns: int) -> None:
        """Exits cost the guest simulated time: the clock moves on by ``ns``."""
        self._mdev[L.D_TICKS] += ns

    # --- loading and booting -------------------------------------------------------------------
    def _write(self, gpa: int, data: bytes) -> None:
        if not self.mem.contains(gpa, len(data)):
            raise HvError(f"image at gpa {gpa:#x}+{len(data):#x} is outside guest RAM")
        self.mem.write(gpa, data)

    def load_elf(self, path_or_bytes) -> int:
        """Copy an ELF's segments to their (guest-physical) addresses; return the entry."""
        entry, symbols = load_elf_segments(path_or_bytes, self._write,
                                           lambda gpa, n: self._write(gpa, bytes(n)))
        self.symbols.update(symbols)
        if "tohost" in symbols:
            self.htif = Htif(self, symbols["tohost"], symbols.get("fromhost"))
        return entry

    def load(self, image, gpa: int) -> int:
        data = Path(image).read_bytes() if isinstance(image, (str, Path)) else bytes(image)
        if data[:4] == b"\x7fELF":
            return self.load_elf(data)
        self._write(gpa, data)
        return gpa

    def boot(self, kernel=None, bios=None, bootargs: str = "", initrd=None, dtb=None) -> int:
        """Boot as QEMU's virt would; return the device tree's gpa.

        With ``bios``: the firmware runs in *virtual M-mode* from its entry (the kernel at
        0x8020_0000 for it to start), all vCPUs at once, as on reset.  Without: the kernel
        starts in *virtual S-mode* on vCPU 0 and the hypervisor is its SBI firmware.
        Either way a0 = hart id and a1 = the device tree's gpa.  ``initrd`` and ``dtb`` are
        placed as on the bare machine (vmlab.machine.boot).
        """
        if kernel is None and bios is None:
            raise HvError("nothing to boot: give a kernel or a bios")
        if bios is not None and self.hw:
            raise HvError("the hw backend starts a kernel in VS-mode; firmware (bios) needs "
                          "a virtual M-mode, which only the shadow backend has")
        self._images = (kernel, bios, bootargs, initrd, dtb)
        images = BootImages(bios, kernel, initrd, bootargs, dtb)
        try:
            self.boot_layout = place_images(images, L.RAM_BASE, self.mem.size, self.load,
                                            self._write, self.device_tree)
        except MachineError as exc:
            raise HvError(str(exc)) from exc
        entry, dtb_gpa = self.boot_layout.entry, self.boot_layout.dtb_addr
        self.sbi_from_hv = bios is None
        for v in self.vcpus:
            v.set_pc(entry)
            v.set_reg(10, v.id)
            v.set_reg(11, dtb_gpa)
            if bios is None:
                (self.hw.hand_over if self.hw else self._as_firmware_would)(v)
            v.started = bios is not None or v.id == 0
        self.dtb_gpa = dtb_gpa
        return dtb_gpa

    def device_tree(self):
        """The VM's board: the virt tree with the ISA the vCPUs virtualize."""
        tree = virt_tree(L.RAM_BASE, self.mem.size, len(self.vcpus),
                         virtio_blk=self.devices.virtio is not None, isa=VCPU_ISA)
        for *_, dt_node in self.devices.slots:       # devices plugged in later (balloon)
            dt_node(tree)
        return tree

    @staticmethod
    def _as_firmware_would(v: VCpu) -> None:
        """Leave the virtual hart as OpenSBI leaves a hart for the kernel: in S-mode,
        with traps and S-level interrupts delegated, counters and stimecmp allowed."""
        r = v.row
        r[L.PRIV] = L.PRIV_S
        r[L.MEDELEG], r[L.MIDELEG] = VS_MEDELEG, VS_MIDELEG
        r[L.MCOUNTEREN] = 7
        r[L.MENVCFG] = STCE

    # --- stopping -----------------------------------------------------------------------------
    def stop(self, reason: str, status: int) -> None:
        """The guest asked to power off ("halt", status) or reset ("reset")."""
        self.stopped = (reason, status)

    def reboot(self) -> int:
        """Start again after a reset request: fresh vCPUs, devices and shadow tables, the
        images loaded again; RAM is kept (as on the machine) and so is the console."""
        if self._images is None:
            raise HvError("reboot before boot")
        old = self.devices
        drive = old.virtio.path if old.virtio is not None else None
        readonly = old.virtio is not None and old.virtio.read_only
        if old.virtio is not None:
            old.virtio.close()
        self.devices = VirtualDevices(self.mem, len(self.vcpus), drive, readonly)
        self.devices.out, self.devices.pending_in = old.out, old.pending_in
        for base, size, irq, device, dt_node in old.slots:     # plugged-in devices stay,
            device.reset()                                     # reset as on a real board
            self.devices.add_slot(base, size, irq, device, dt_node)
        self.rows[:] = 0
        self.vcpus = [self._new_vcpu(i) for i in range(len(self.vcpus))]
        self.shadow.reset()
        self.stopped = None
        kernel, bios, bootargs, initrd, dtb = self._images
        return self.boot(kernel=kernel, bios=bios, bootargs=bootargs, initrd=initrd, dtb=dtb)

    def close_devices(self) -> None:
        """Close the disk image (every completed write is already on the file)."""
        if self.devices.virtio is not None:
            self.devices.virtio.close()

    def check_halt(self) -> None:
        req = self.devices.halt_request
        if req is not None:
            self.stop(*req)

    # --- console ------------------------------------------------------------------------------
    @property
    def console_bytes(self) -> bytes:
        self.devices.drain()
        return bytes(self.devices.out)

    @property
    def console_output(self) -> str:
        return self.console_bytes.decode("utf-8", errors="replace")

    def send_input(self, text_or_bytes) -> None:
        data = text_or_bytes.encode() if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        self.devices.send_input(data)

    # --- running ------------------------------------------------------------------------------
    def run(self, instructions: int | None = None, until_output=None) -> RunResult:
        """Run the vCPUs (round robin, one exit at a time) like Machine.run: until the
        budget is spent, the guest halts or resets, ``until_output`` appears in the output
        of this run, every vCPU waits with nothing that could wake it ("idle"), or Ctrl-C
        ("interrupted": always between exits, so the VM can simply continue)."""
        if isinstance(until_output, (str, bytes)):
            until_output = [until_output]
        patterns = [p.encode() if isinstance(p, str) else bytes(p) for p in until_output or ()]
        out = self.devices.out
        start = seen = len(out)
        done = 0
        with CtrlCFlag() as ctrl_c:
            again = self._again(ctrl_c, out, bool(patterns))
            while True:
                reason = self._why_stop(ctrl_c, instructions, done)
                if reason is not None:
                    return self._result(reason, done)
                v = self._next_vcpu()
                if v is None:
                    if not self._idle_until_deadline():
                        return self._result("idle", done)
                    continue
                budget = self._slice(instructions, done)
                done += (v.run(budget) if again is None else v.run(budget, again)).instructions
                if self.htif is not None:
                    self.htif.poll()
                if patterns and len(out) > seen:
                    hit, seen = self._match(patterns, out, start, seen), len(out)
                    if hit is not None:
                        return self._result("output", done, hit.decode(errors="replace"))
                if self.devices.pending_in:
                    self.devices.feed()

    def _again(self, ctrl_c, out, watch_output: bool):
        """vcpu.run's ``again``: may the vCPU go on to its next exit without coming back
        here?  Only where this loop would do nothing but call it again: one vCPU (no turns
        to take), no HTIF to poll, no typed input to feed; not after Ctrl-C, nor after
        output while ``until_output`` watches it.  None when it may never: each exit
        comes back (and under the hw backend, whose few exits gain nothing from it)."""
        if len(self.vcpus) != 1 or self.htif is not None or self.hw is not None:
            return None
        typed = self.devices.pending_in
        if not watch_output:
            return lambda: not (ctrl_c.hit or typed)
        length = len(out)

        def again() -> bool:
            nonlocal length
            grown, length = len(out) != length, len(out)
            return not (grown or ctrl_c.hit or typed)
        return again

    def _why_stop(self, ctrl_c, instructions, done) -> str | None:
        if self.stopped:
            return self.stopped[0]
        if ctrl_c.hit:
            return "interrupted"
        if instructions is not None and done >= instructions:
            return "budget"
        return None

    def _slice(self, instructions, done) -> int:
        """The budget of one vcpu.run(): what is left, in turns when vCPUs share the hart."""
        left = CHUNK if instructions is None else min(CHUNK, instructions - done)
        return min(left, QUANTUM) if len(self.vcpus) > 1 else left

    def _result(self, reason: str, done: int, matched: str | None = None) -> RunResult:
        status = self.stopped[1] if reason == "halt" and self.stopped else None
        r = RunResult(reason, done, status, self._pc())
        r.matched = matched
        return r

    @staticmethod
    def _match(patterns, out, start, seen):
        for p in patterns:
            if p in out[max(start, seen - len(p) + 1):]:
                return p
        return None

    def _pc(self) -> int:
        return self.vcpus[self._last].pc

    def _next_vcpu(self) -> VCpu | None:
        """Round robin over started vCPUs that are not waiting in wfi (or can wake)."""
        vcpus = self.vcpus
        n = len(vcpus)
        for i in range(n):
            j = (self._turn + i) % n
            v = vcpus[j]
            if not v.started:
                continue
            if v.row[L.WAITING]:
                v.update_lines()
                if not (v.row[L.MIP] | v.row[L.HWIP]) & v.row[L.MIE]:
                    continue
            if j != self._last:
                self.trace.record(SCHED, time=self.time(), vm=self.id, vcpu=j, handler="switch")
            self._last, self._turn = j, (j + 1) % n
            return v
        return None

    def _idle_until_deadline(self) -> bool:
        """Every vCPU waits: jump the clock to the first virtual timer deadline (False if
        nothing is armed and no input is waiting -- the guest sleeps forever)."""
        deadlines = [v.next_deadline() for v in self.vcpus if v.started]
        t = min(deadlines, default=1 << 62)
        now = self.time()
        if t >= 1 << 62 or t <= now:
            waiting = len(self.devices.pending_in)
            self.devices.feed()                    # typed input may wake a vCPU (UART irq)
            return len(self.devices.pending_in) < waiting
        self.machine.dev[L.D_TICKS] += t - now
        self.machine.ctl[L.C_IDLE_NS] += t - now
        return True

    def __repr__(self) -> str:
        return (f"<VM {self.id}: {self.mem.size >> 20} MiB, {len(self.vcpus)} vCPU(s), "
                f"{self.mem.resident_pages} pages resident, {self.trace!r}>")
