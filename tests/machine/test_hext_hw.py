"""The start of the hardware-assisted backend (``vmlab.hv.hwassist``): a guest runs in
VS-mode on the machine's H extension, its G-stage filled on demand from a GPA -> HPA page map;
the hypervisor sees only the traps that reach HS-mode."""
from __future__ import annotations

from vmlab.asm import assemble
from vmlab.hv.hwassist import GStage, HwVcpu, VIRTUAL_INSTRUCTION, VS_ECALL
from vmlab.hv.memory import FrameAllocator, GuestMemory
from vmlab.machine import Machine

RAM_BASE, GUEST_BASE = 0x8000_0000, 0x8000_0000
EXIT_VECTOR = RAM_BASE + 0x1000            # host memory; the hypervisor's "HS-mode code"

GUEST = """
    .globl _start
_start:
    la      t0, data
    ld      a0, 0(t0)
    la      t2, data2
    ld      t1, 0(t2)                   # the next page: another G-stage fill
    add     a0, a0, t1
    li      a7, 1
    ecall                               # an SBI call: an exit
    csrw    sscratch, a0                # the guest's own CSRs (vsscratch): no exit
    csrr    a1, sscratch
    csrr    a2, sstatus
    ecall
    wfi                                 # with hstatus.VTW: a virtual instruction
1:  j       1b
    .data
    .balign 4096
data:
    .dword  40
    .balign 4096
data2:
    .dword  2
"""


def test_guest_runs_in_vs_mode_and_exits_only_to_hs():
    m = Machine(ram_size=8 << 20)
    frames = FrameAllocator(m.mem, RAM_BASE, first=RAM_BASE + (1 << 20))
    mem = GuestMemory(frames, vm_id=1, gpa_base=GUEST_BASE, size=1 << 20)
    prog = assemble(GUEST, base=GUEST_BASE)
    for name, section in prog.sections.items():
        if section.size and "a" in section.flags:
            mem.write(section.addr, bytes(section.data))
    vcpu = HwVcpu(m, GStage(m, frames, mem, vmid=3), EXIT_VECTOR)
    vcpu.enter(prog.symbols["_start"])

    first = vcpu.run()
    assert first is not None and first.cause == VS_ECALL
    assert m.reg("a0") == 42 and m.reg("a7") == 1           # the guest read its data via G
    fills = [(e.cause, e.gpa) for e in vcpu.exits if e.cause in (20, 21, 23)]
    data = prog.symbols["data"]
    assert fills == [(20, GUEST_BASE), (21, data), (21, data + 4096)]   # htval << 2: the GPA
    assert vcpu.g.fills == 3

    vcpu.resume(skip=4)
    second = vcpu.run()
    assert second.cause == VS_ECALL and m.reg("a1") == 42    # sscratch stayed the guest's
    assert m.csr("vsscratch") == 42 and m.csr("sscratch") == 0

    m.set_csr("hstatus", m.csr("hstatus") | (1 << 21))     # VTW: wfi exits
    vcpu.resume(skip=4)
    third = vcpu.run()
    assert third.cause == VIRTUAL_INSTRUCTION and third.gva == 0x10500073
    assert m.ctl[69] > 0                                     # two-stage walks were counted


BARE_TO_SV39_GUEST = """
    .globl _start
_start:
    la      t0, table                  # an Sv39 root with nothing in it: every fetch faults
    srli    t0, t0, 12
    li      t1, 8 << 60
    or      t0, t0, t1
    sfence.vma
    csrw    satp, t0                   # (V=1: vsatp) the MMU on
    li      a0, 1                      # must not run: a fetch page fault (12) instead
    ecall
    .data
    .balign 4096
table:
    .zero   4096
"""


def test_fetch_after_enabling_vs_stage_translation_faults():
    """A guest's translations made while vsatp was Bare do not answer once it writes vsatp
    = Sv39 (no fence after the write): the next fetch faults (12) instead of running the
    ecall.  (The TLB context carries the VS-stage mode.)"""
    m = Machine(ram_size=8 << 20)
    frames = FrameAllocator(m.mem, 0x8000_0000, first=0x8010_0000)
    mem = GuestMemory(frames, vm_id=1, gpa_base=0x8000_0000, size=1 << 20)
    prog = assemble(BARE_TO_SV39_GUEST, base=0x8000_0000)
    for section in prog.sections.values():
        if section.size and "a" in section.flags:
            mem.write(section.addr, bytes(section.data))
    vcpu = HwVcpu(m, GStage(m, frames, mem, vmid=1), 0x8000_1000 + (4 << 20))
    vcpu.enter(prog.symbols["_start"])
    m.set_csr("mtvec", 0x100)
    m.add_breakpoint(0x100)
    vcpu.run(budget=10_000)
    assert (m.csr("mcause"), m.reg("a0")) == (12, 0)
    assert m.csr("scause") == 20     # HS last saw the G-stage fill of the table's page, not
                                     # the ecall (10)
