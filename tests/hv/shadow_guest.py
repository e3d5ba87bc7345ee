"""Stand-ins for the hypervisor core, guest page-table building, and a tiny run loop that
executes a guest in real U-mode on a real Machine with a shadow root in satp.

The run loop is the smallest possible "core": every trap lands at an M-mode address with a
breakpoint on it, Python asks ShadowPaging what to do, and the guest continues.
"""
from __future__ import annotations

import numpy as np

from vmlab import sv39
from vmlab.asm import assemble
from vmlab.hv.memory import PAGE, FrameAllocator, GuestMemory
from vmlab.hv.trace import Trace
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

GPA_BASE = 0x8000_0000
HOST_RESERVED = 0x1_0000           # host RAM below this is the "hypervisor's": never a frame
TRAP_HPA = L.RAM_BASE              # M-mode trap vector, with a breakpoint on it
RWXAD = PTE_R | PTE_W | PTE_X | PTE_A | PTE_D


class StandInVM:
    """The attributes ShadowPaging uses from the core's VM."""

    def __init__(self, frames: FrameAllocator, vm_id: int = 1, size: int = 256 * PAGE,
                 machine: Machine | None = None, gpa_base: int = GPA_BASE):
        self.id, self.frames, self.machine = vm_id, frames, machine
        self.mem = GuestMemory(frames, vm_id, gpa_base, size)
        self.trace = Trace()
        self._now = 0

    def time(self) -> int:
        self._now += 10
        return self._now


class StandInVCPU:
    def __init__(self, vm, vcpu_id: int = 0, priv: int = 1, satp: int = 0, mstatus: int = 0):
        self.id, self.vm, self.hart, self.priv = vcpu_id, vm, 0, priv
        self.csrs = {"satp": satp, "mstatus": mstatus}

    def csr(self, name) -> int:
        return self.csrs[name]


def ram_frames(nframes: int = 512) -> FrameAllocator:
    ram = np.zeros(nframes * PAGE, dtype=np.uint8)
    return FrameAllocator(ram, L.RAM_BASE, first=L.RAM_BASE + HOST_RESERVED)


def machine_frames(ram_size: int = 4 << 20) -> tuple[Machine, FrameAllocator]:
    m = Machine(ram_size=ram_size)
    m.write_mem(TRAP_HPA, (0x6F).to_bytes(4, "little"))     # j . (never reached: breakpoint)
    m.set_csr("mtvec", TRAP_HPA)
    m.add_breakpoint(TRAP_HPA)
    return m, FrameAllocator(m.mem, L.RAM_BASE, first=L.RAM_BASE + HOST_RESERVED)


class GuestTables:
    """Builds Sv39 tables inside guest RAM, as a guest kernel would (table pages handed out
    from ``table_gpa`` upward)."""

    def __init__(self, mem: GuestMemory, table_gpa: int):
        self.mem, self.next = mem, table_gpa
        self.root = self.alloc()

    def alloc(self) -> int:
        gpa, self.next = self.next, self.next + PAGE
        self.mem.write(gpa, bytes(PAGE))
        return gpa

    def slot(self, gva: int, level: int = 0) -> int:
        """gpa of the PTE for ``gva`` at ``level``, making tables on the way down."""
        table = self.root
        for lvl in range(2, level, -1):
            pte_gpa = table + 8 * sv39.vpn(gva, lvl)
            pte = self.mem.read64(pte_gpa)
            if not pte & PTE_V or pte & RWXAD or not self.mem.contains(sv39.pte_ppn(pte) << 12):
                pte = sv39.make_pte(self.alloc(), PTE_V)
                self.mem.write64(pte_gpa, pte)
            table = sv39.pte_ppn(pte) << 12
        return table + 8 * sv39.vpn(gva, level)

    def map(self, gva: int, gpa: int, flags: int, level: int = 0) -> int:
        slot = self.slot(gva, level)
        self.mem.write64(slot, sv39.make_pte(gpa, flags | PTE_V))
        return slot

    def satp(self, asid: int = 0) -> int:
        return sv39.make_satp(self.root, asid)


# --- running a guest on the real machine ---------------------------------------------------------

def load_code(vm, tables: GuestTables, source: str, gva: int, gpa: int, flags: int) -> dict:
    """Assemble ``source`` at ``gva``, put it at ``gpa`` in guest RAM, map it; return symbols."""
    prog = assemble(".option norvc\n" + source, base=gva)
    vm.mem.write(gpa, prog.image)
    for off in range(0, len(prog.image) + PAGE - 1, PAGE):
        tables.map(gva + off, gpa + off, flags)
    return dict(prog.symbols)


def run_guest(m: Machine, sp, vcpu, pc: int, max_exits: int = 200, budget: int = 100_000,
              regs: dict | None = None):
    """Run from ``pc`` in real U-mode until the guest's ``ecall``.

    Page faults go to ``sp.handle_fault``: "filled" retries, "wp" emulates the store (sd/sw
    only) and calls ``after_pt_write``, "guest" and "mmio" skip the instruction as a guest
    handler that ignores faults would.  Returns the list of (cause, tval, Fault) seen.
    """
    for name, value in (regs or {}).items():
        m.set_reg(name, value)
    log = []
    for _ in range(max_exits):
        m.set_csr("satp", sp.root_for(vcpu))
        m.priv, m.pc = L.PRIV_U, pc
        r = m.run(instructions=budget)
        assert r.reason == "breakpoint", f"guest stopped with {r.reason} at {r.pc:#x}"
        cause, tval, epc = m.csr("mcause"), m.csr("mtval"), m.csr("mepc")
        if cause == L.CAUSE_ECALL_U:
            return log
        if cause == L.CAUSE_ILLEGAL and _emulate_sfence(m, sp, vcpu, epc):
            pc = epc + 4
            continue
        f = sp.handle_fault(vcpu, cause, tval)
        log.append((cause, tval, f))
        if f.kind == "filled":
            pc = epc
        elif f.kind == "wp":
            _emulate_store(m, sp, vcpu, epc, f.gpa)
            pc = epc + 4
        else:
            pc = epc + 4
    raise AssertionError(f"more than {max_exits} exits: {log[-5:]}")


def _emulate_sfence(m: Machine, sp, vcpu, epc: int) -> bool:
    """sfence.vma from the guest traps as illegal in real U-mode: hand it to the shadow."""
    insn = _fetch(sp, vcpu, epc)
    if insn & 0xFE007FFF != 0x12000073:
        return False
    rs1, rs2 = (insn >> 15) & 31, (insn >> 20) & 31
    sp.sfence(vcpu, m.reg(rs1) if rs1 else None, m.reg(rs2) & 0xFFFF if rs2 else None)
    return True


def _emulate_store(m: Machine, sp, vcpu, epc: int, gpa: int) -> None:
    """What the core does on a "wp" fault: perform the guest's store on guest RAM."""
    insn = _fetch(sp, vcpu, epc)
    assert insn & 0x7F == 0x23, f"not a store: {insn:#x}"
    size = 1 << ((insn >> 12) & 7)
    value = m.reg((insn >> 20) & 31) & ((1 << (8 * size)) - 1)
    sp.vm.mem.write(gpa, value.to_bytes(size, "little"))
    sp.after_pt_write(vcpu, gpa)


def _fetch(sp, vcpu, gva: int) -> int:
    key = sp.key_for(vcpu)
    root = sp.roots[key]
    if root.direct:
        gpa = gva
    else:
        w = sv39.walk(sp.guest_read64, root.guest_satp, gva, "fetch", priv=root.priv)
        gpa = w.pa
    return int.from_bytes(sp.vm.mem.read(gpa, 4), "little")


def host_checksums(ram: np.ndarray, frames: FrameAllocator, allowed: set[int]) -> dict[int, bytes]:
    """A digest of every host page except ``allowed`` (hpas of frames a test may change)."""
    import hashlib
    out = {}
    for i in range(len(ram) // PAGE):
        hpa = frames.ram_base + i * PAGE
        if hpa not in allowed:
            out[hpa] = hashlib.blake2b(ram[i * PAGE:(i + 1) * PAGE].tobytes(), digest_size=16).digest()
    return out
