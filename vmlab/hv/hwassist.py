"""The hardware-assisted backend's pieces: a guest run in VS/VU mode by the H extension.

The VM's backend (``create_vm(backend="hw")``) is vmlab.hv.hw_backend, its vCPUs
vmlab.hv.hw_vcpu and its exits vmlab.hv.hw_exits; :class:`GStage` here is its G-stage, and
:class:`HwVcpu` the smallest hypervisor on it (no devices), for the machine's tests.  Under trap-and-emulate (``shadow``) the guest
kernel runs in real U-mode and every privileged instruction, every page-table change the
shadow must follow, every system call of its programs exits to the hypervisor.  Here the hart
runs the guest in VS-mode: its CSR accesses, its own page tables (vsatp), the traps it
delegates to itself (hedeleg/hideleg) stay inside the guest.  The hypervisor sees only the
traps the hardware sends to HS-mode -- its *exits*:

- a **guest-page fault** (20/21/23): the G-stage (hgatp) has no entry for the GPA yet.  The
  G-stage is filled from the VM's GPA -> HPA page map (:class:`GStage`), on demand, exactly
  where a shadow fill would go -- but one fill serves every guest mapping of that page;
- an **ecall from VS** (10): an SBI call;
- a **virtual instruction** (22): something the guest may not do itself (wfi under VTW ...).

How an exit reaches Python: stvec points at a host address with a machine breakpoint on it,
so the run stops before the first instruction of "HS-mode"; :meth:`HwVcpu.resume` is the
hypervisor's sret (V := hstatus.SPV, back to the guest's pc).
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.isa.causes import cause_name, exception_code
from vmlab.isa.paging import (GSTAGE_ROOT_INDEX_BITS, HGATP_MODE_SV39X4, HGATP_MODE_SHIFT,
                              HGATP_VMID_SHIFT, PAGE_SIZE, PTE_A, PTE_D, PTE_PPN_SHIFT, PTE_R,
                              PTE_U, PTE_V, PTE_W, PTE_X, VPN_BITS)
from vmlab.machine import layout as L
from vmlab.machine.trap import sret

#: the exits the hypervisor handles, by their cause code
GUEST_PAGE_FAULTS = tuple(exception_code(n) for n in (
    "fetch_guest_page_fault", "load_guest_page_fault", "store_guest_page_fault"))
VS_ECALL = exception_code("virtual_supervisor_ecall")
VIRTUAL_INSTRUCTION = exception_code("virtual_instruction")
#: medeleg for the hw backend: what the hart sends to HS-mode instead of M-mode
MEDELEG_HW = sum(1 << c for c in (*GUEST_PAGE_FAULTS, VS_ECALL, VIRTUAL_INSTRUCTION))
#: hedeleg: what the guest handles itself (its own U-mode ecalls, page faults, breakpoints)
HEDELEG_GUEST = sum(1 << exception_code(n) for n in (
    "user_ecall", "breakpoint", "fetch_page_fault", "load_page_fault", "store_page_fault",
    "illegal_instruction"))
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D    # G-stage leaves: checked as U


class GStage:
    """A VM's G-stage page table (Sv39x4) in host frames, built from its GPA -> HPA map."""

    def __init__(self, machine, frames, mem, vmid: int):
        self.machine, self.frames, self.mem, self.vmid = machine, frames, mem, vmid
        # the root is 16 KiB, 16 KiB aligned: four frames in a row from the allocator
        self.root_hpa = self._root()
        self.fills = 0
        self.own_fill = None          # a lab's fill in place of the hypervisor's (set_fill)

    def _root(self) -> int:
        """Four frames in a row from a 16 KiB boundary (frames before it are given up)."""
        base = self.frames.alloc(-2)
        while base % (4 * PAGE_SIZE):
            base = self.frames.alloc(-2)
        rest = [self.frames.alloc(-2) for _ in range(3)]
        if rest != [base + i * PAGE_SIZE for i in (1, 2, 3)]:
            raise RuntimeError("no 16 KiB run of host frames for the G-stage root")
        return base

    @property
    def hgatp(self) -> int:
        return (HGATP_MODE_SV39X4 << HGATP_MODE_SHIFT) | (self.vmid << HGATP_VMID_SHIFT) \
            | (self.root_hpa >> 12)

    def set_fill(self, fill) -> None:
        """Let ``fill(gpa, write) -> bool`` answer this VM's guest-page faults instead of
        :meth:`fill` (lab 06 grades a student's this way); None gives the job back.  It is
        called exactly where the hypervisor's own fill would be: True means "mapped, resume
        the guest", False "not guest RAM: emulate the access as a device's"."""
        self.own_fill = fill

    def fill(self, gpa: int, write: bool = True) -> bool:
        """Map the guest page holding ``gpa`` (a 4 KiB leaf); False if it is no guest RAM.
        A page that shares its frame with others (page sharing) is mapped read-only unless
        the fault was a store (``write``): the store that comes later faults again, and
        the page gets its own copy then."""
        if self.own_fill is not None:
            return self.own_fill(gpa, write)
        if not self.mem.contains(gpa):
            return False
        hpa, read_only = self.mem.backing(gpa, write=write)
        leaf = LEAF & ~PTE_W if read_only else LEAF
        table = self.root_hpa
        for level in (2, 1):
            bits = GSTAGE_ROOT_INDEX_BITS if level == 2 else VPN_BITS
            index = (gpa >> (12 + 9 * level)) & ((1 << bits) - 1)
            pte = self._read(table, index)
            if not pte & PTE_V:
                pte = (self.frames.alloc(-2) >> 12) << PTE_PPN_SHIFT | PTE_V
                self._write(table, index, pte)
            table = (pte >> PTE_PPN_SHIFT) << 12
        self._write(table, (gpa >> 12) & 0x1FF, (hpa >> 12) << PTE_PPN_SHIFT | leaf)
        self.fills += 1
        return True

    def leaf(self, gpa: int) -> tuple[int, int] | None:
        """(hpa of the last-level table, the leaf PTE) for ``gpa``'s page, or None if no
        table on the way there exists yet."""
        table = self.root_hpa
        for level in (2, 1):
            bits = GSTAGE_ROOT_INDEX_BITS if level == 2 else VPN_BITS
            pte = self._read(table, (gpa >> (12 + 9 * level)) & ((1 << bits) - 1))
            if not pte & PTE_V:
                return None
            table = (pte >> PTE_PPN_SHIFT) << 12
        return table, self._read(table, (gpa >> 12) & 0x1FF)

    def unmap(self, gpa: int) -> bool:
        """Drop the leaf for ``gpa``'s page (its host frame changed); True if there was one.
        The caller flushes the VMID's translations."""
        found = self.leaf(gpa)
        if found is None or not found[1] & PTE_V:
            return False
        self._write(found[0], (gpa >> 12) & 0x1FF, 0)
        return True

    def _read(self, table: int, index: int) -> int:
        return int.from_bytes(self.machine.read_mem(table + 8 * index, 8), "little")

    def _write(self, table: int, index: int, pte: int) -> None:
        self.machine.write_mem(table + 8 * index, pte.to_bytes(8, "little"))


@dataclass(frozen=True)
class HwExit:
    """One trap the hart sent to HS-mode: what the hypervisor gets to handle."""

    cause: int
    gva: int          # stval: the guest's address (or instruction bits)
    gpa: int          # htval << 2 for a guest-page fault, else 0
    pc: int           # sepc

    @property
    def name(self) -> str:
        return cause_name(self.cause)


class HwVcpu:
    """One vCPU run by the hardware: hart ``hart`` of ``machine`` in VS/VU mode."""

    def __init__(self, machine, gstage: GStage, exit_vector: int, hart: int = 0):
        self.m, self.g, self.hart, self.exit_vector = machine, gstage, hart, exit_vector
        self.exits: list[HwExit] = []
        machine.add_breakpoint(exit_vector)

    def enter(self, pc: int, vsatp: int = 0) -> None:
        """Set the hart up as HS-mode would before its first sret into the guest."""
        h = self.m.harts[self.hart]
        for name, value in [("stvec", self.exit_vector), ("medeleg", MEDELEG_HW),
                            ("hedeleg", HEDELEG_GUEST), ("hgatp", self.g.hgatp),
                            ("vsatp", vsatp), ("hstatus", (1 << 7) | (1 << 8))]:
            self.m.set_csr(name, value)
        h.c[L.PRIV], h.c[L.VIRT] = L.PRIV_S, 1
        h.pc = pc

    def run(self, budget: int = 1_000_000) -> HwExit | None:
        """Run the guest until an exit the hypervisor must handle itself (None: budget
        spent, or the machine stopped for its own reasons).  Guest-page faults on guest RAM
        are filled here and the guest resumed: they are exits, counted, but not returned."""
        while budget > 0:
            r = self.m.run(instructions=budget)
            budget -= max(r.instructions, 1)
            if r.reason != "breakpoint" or r.pc != self.exit_vector:
                return None
            ex = self._exit()
            self.exits.append(ex)
            if ex.cause in GUEST_PAGE_FAULTS and self.g.fill(ex.gpa):
                self.resume()
                continue
            return ex
        return None

    def _exit(self) -> HwExit:
        m = self.m
        return HwExit(m.csr("scause"), m.csr("stval"), m.csr("htval") << 2, m.csr("sepc"))

    def resume(self, skip: int = 0) -> None:
        """The hypervisor's sret: back into the guest (V from hstatus.SPV), ``skip`` bytes
        after the trapping instruction (4 after an ecall it emulated)."""
        h = self.m.harts[self.hart]
        if skip:
            self.m.set_csr("sepc", (self.m.csr("sepc") + skip) & ((1 << 64) - 1))
        self.m.set_csr("hstatus", self.m.csr("hstatus") | (1 << 7))
        sret(h.c)          # (the exit vector's breakpoint stays armed for the next exit)
