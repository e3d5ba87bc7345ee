"""Lab 06's machines and drivers: guests run in VS-mode on the machine's H extension.

Two small set-ups, each a bare program the hart runs with V = 1 (no hypervisor backend
needed, only the machine's two-stage translation), and what the lab runs on the hw backend:

- :func:`count_walk_refs` -- page tables built in advance (VS-stage Sv39 over G-stage
  Sv39x4, leaves at the levels asked for), a program of loads, and the MMU's own count of
  the memory references its walks made (``C_WALK_REFS``) between the first and the last load;
- :func:`fill_run` -- an empty G-stage, a guest that reads and writes its RAM (spread over two
  regions, one above 512 GiB of guest-physical space) and stores to a device, and a
  hypervisor loop that hands every guest-page fault to a fill function: the student's in the
  lab, :func:`reference_fill` in the grader;
- :func:`teachos_run` -- teachos under ``create_vm(backend=...)``, under hw optionally with a
  fill function as the VM's G-stage fill (:func:`install_fill`);
- :func:`per_op_costs` -- ``vmlab nanobench``'s system-call, PTE-update and TLB rows under
  sfence, write-protect and hw, per operation.

Guest-physical and host-physical addresses are kept apart in names: ``gpa`` / ``hpa``.
"""
from __future__ import annotations

import random

import numpy as np

from vmlab.isa.paging import (GSTAGE_ROOT_INDEX_BITS, HGATP_MODE_SHIFT, HGATP_MODE_SV39X4,
                              HGATP_VMID_SHIFT, PTE_A, PTE_D, PTE_PPN_SHIFT, PTE_R, PTE_U, PTE_V,
                              PTE_W, PTE_X, SATP_MODE_SV39)
from vmlab.hv.hwassist import GUEST_PAGE_FAULTS, VS_ECALL
from vmlab.isa.causes import exception_code
from vmlab.machine import layout as L

RAM = 0x8000_0000
TLB_SETS = L.TLB_SETS
#: the walk-count machine's guest: code and page tables in the guest-physical gigabyte at
#: 0x8000_0000 (mapped 1:1 onto host RAM), data at GVA 0x4000_0000 -> GPA 0xC000_0000
CODE_GVA = RAM
DATA_GVA, DATA_GPA, DATA_SPAN = 0x4000_0000, 0xC000_0000, 8 << 20
G_ROOT_HPA = RAM + 0x20_0000           # 16 KiB, 16 KiB aligned
FIRST_TABLE = RAM + 0x21_0000
SUPERVISOR_LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
G_LEAF = SUPERVISOR_LEAF | PTE_U       # G-stage permissions are checked as for U-mode


def pointer(table: int) -> int:
    return (table >> 12) << PTE_PPN_SHIFT | PTE_V


def leaf(addr: int, flags: int) -> int:
    return (addr >> 12) << PTE_PPN_SHIFT | flags


class TableWriter:
    """Page tables written straight into a machine's RAM, tables handed out in a row."""

    def __init__(self, machine, first: int = FIRST_TABLE):
        self.m, self.next = machine, first

    def table(self) -> int:
        addr, self.next = self.next, self.next + 4096
        return addr

    def set(self, table: int, index: int, pte: int) -> None:
        self.m.write_mem(table + 8 * index, pte.to_bytes(8, "little"))

    def map(self, root: int, index: int, out: int, span: int, level: int, flags: int) -> None:
        """Map the gigabyte at ``root[index]`` onto ``out`` with leaves at ``level``; below
        1 GiB only its first ``span`` bytes."""
        if level == 2:
            return self.set(root, index, leaf(out, flags))
        l1 = self.table()
        self.set(root, index, pointer(l1))
        for i in range(span >> 21):
            if level == 1:
                self.set(l1, i, leaf(out + (i << 21), flags))
                continue
            l0 = self.table()
            self.set(l1, i, pointer(l0))
            words = [leaf(out + (i << 21) + (j << 12), flags) for j in range(512)]
            self.m.write_mem(l0, np.array(words, dtype=np.uint64).tobytes())


def hgatp(root_hpa: int, vmid: int = 1) -> int:
    return (HGATP_MODE_SV39X4 << HGATP_MODE_SHIFT) | (vmid << HGATP_VMID_SHIFT) | (root_hpa >> 12)


def enter_vs(m, pc: int, hgatp_value: int, vsatp: int = 0) -> None:
    """Put hart 0 in VS-mode at ``pc`` as a hypervisor's sret would (hgatp, vsatp set)."""
    m.set_csr("hgatp", hgatp_value)
    m.set_csr("vsatp", vsatp)
    h = m.harts[0]
    h.c[L.PRIV], h.c[L.VIRT] = L.PRIV_S, 1
    h.pc = pc


# ---- 1. the memory references of two-stage walks ----------------------------------------------
def loads_program(loads: list[int]):
    from vmlab.asm import assemble
    body = "\n".join(f"    li      t0, {gva:#x}\n    ld      t1, 0(t0)" for gva in loads)
    return assemble(f"_start:\n    nop\nbegin:\n{body}\nend:\n    j       end\n", base=CODE_GVA,
                    filename="lab06-loads.s")


def _check_level(name: str, level) -> int:
    if type(level) is not int or level not in (0, 1, 2):
        raise ValueError(f"{name} must be 0, 1 or 2 (4 KiB, 2 MiB, 1 GiB), not {level!r}")
    return level


def two_stage_machine(vs_leaf_level: int, g_leaf_tables: int, g_leaf_data: int, program=None):
    """A machine whose hart 0 is in VS-mode at the program's start (if any), every table
    built; and the satp of a shadow table for the same data window, as trap-and-emulate would
    compose it (gva -> hpa, 4 KiB leaves, walked as U: the guest kernel runs in real U-mode)."""
    from vmlab.machine import Machine
    m = Machine(ram_size=16 << 20)
    t = TableWriter(m)
    # G-stage: the guest's first gigabyte (code, its tables) 1:1; its data gigabyte onto RAM
    t.map(G_ROOT_HPA, RAM >> 30, RAM, DATA_SPAN, g_leaf_tables, G_LEAF)
    t.map(G_ROOT_HPA, DATA_GPA >> 30, RAM, DATA_SPAN, g_leaf_data, G_LEAF)
    # VS-stage (its tables at guest-physical = host-physical addresses): code 1 GiB, data
    vs_root = t.table()
    t.set(vs_root, CODE_GVA >> 30, leaf(RAM, SUPERVISOR_LEAF))
    t.map(vs_root, DATA_GVA >> 30, DATA_GPA, DATA_SPAN, vs_leaf_level, SUPERVISOR_LEAF)
    shadow_root = t.table()
    t.map(shadow_root, DATA_GVA >> 30, RAM, DATA_SPAN, 0, SUPERVISOR_LEAF | PTE_U)
    for s in (program.sections.values() if program else ()):
        if s.size and "a" in s.flags:
            m.write_mem(s.addr, bytes(s.data))
    enter_vs(m, program.symbols["_start"] if program else CODE_GVA, hgatp(G_ROOT_HPA),
             SATP_MODE_SV39 << 60 | vs_root >> 12)
    return m, SATP_MODE_SV39 << 60 | shadow_root >> 12


def count_walk_refs(vs_leaf_level: int, g_leaf_tables: int, g_leaf_data: int, loads) -> dict:
    """Run ``loads`` (GVAs in the data window) on the machine in VS-mode; what its MMU
    counted from the first load to the last: TLB misses (walks) and memory references."""
    levels = [_check_level(n, v) for n, v in (("vs_leaf_level", vs_leaf_level),
                                               ("g_leaf_tables", g_leaf_tables),
                                               ("g_leaf_data", g_leaf_data))]
    loads = [int(a) for a in loads]
    if any(not DATA_GVA <= a < DATA_GVA + DATA_SPAN - 7 for a in loads):
        raise ValueError(f"loads must lie in the data window {DATA_GVA:#x}.."
                         f"{DATA_GVA + DATA_SPAN:#x}")
    prog = loads_program(loads)
    m, _ = two_stage_machine(*levels, prog)
    counts = []
    for label in ("begin", "end"):
        m.add_breakpoint(prog.symbols[label])
        r = m.run(instructions=10_000)
        if r.reason != "breakpoint" or r.pc != prog.symbols[label]:
            raise RuntimeError(f"the loads program stopped with {r.reason!r} at {r.pc:#x}")
        counts.append((int(m.ctl[L.C_TLB_MISS]), int(m.ctl[L.C_WALK_REFS])))
    (miss0, refs0), (miss1, refs1) = counts
    return {"walks": miss1 - miss0, "refs": refs1 - refs0}


# ---- 2. the G-stage fill -----------------------------------------------------------------------
GUEST_CODE_GPA = RAM                    # the guest's code: the first page of its low region
HOST_RAM = 8 << 20
HOST_FRAMES = RAM + 0x10_0000           # guest frames and G-stage tables come from here up
EXIT_VECTOR = RAM + 0x1000              # "HS-mode": a breakpoint, the hypervisor in Python
STORE_GUEST_PAGE_FAULT = exception_code("store_guest_page_fault")
ACCESS_WORDS = {exception_code("fetch_guest_page_fault"): "a fetch",
                exception_code("load_guest_page_fault"): "a load", STORE_GUEST_PAGE_FAULT: "a store"}


def gstage_layout(rng) -> dict:
    """A seeded guest: a low RAM region (code + data) and a high one above 512 GiB, whose
    root index differs from the low one only above bit 8; one device page; data words."""
    low_pages, high_pages = rng.randrange(3, 7), rng.randrange(2, 5)
    high = ((2 + 512 * rng.randrange(1, 4)) << 30) + (rng.randrange(1, 256) << 21)
    device = (rng.randrange(0x100, 0x400) << 16)
    touches = [(0, p) for p in range(1, low_pages)] + [(1, p) for p in range(high_pages)]
    rng.shuffle(touches)
    return {"ram": [{"gpa": GUEST_CODE_GPA, "pages": low_pages}, {"gpa": high, "pages": high_pages}],
            "device": device, "touches": touches, "seed": rng.randrange(1 << 30)}


def fill_guest_source(layout: dict) -> str:
    """The guest: for each touched page, add the word there to a0 and store a0 back at +8;
    then read every stored word again, store the low byte of a0 to the device, and ecall."""
    lines = ["_start:", "    li      a0, 0"]
    addrs = [layout["ram"][r]["gpa"] + (p << 12) + 16 * (p % 7) for r, p in layout["touches"]]
    for gpa in addrs:
        lines += [f"    li      t0, {gpa:#x}", "    ld      t1, 0(t0)", "    add     a0, a0, t1",
                  "    sd      a0, 8(t0)"]
    for gpa in addrs:
        lines += [f"    li      t0, {gpa:#x}", "    ld      t1, 8(t0)", "    xor     a0, a0, t1"]
    lines += [f"    li      t0, {layout['device']:#x}", "    sb      a0, 0(t0)",
              "    srli    a1, a0, 8", "    sb      a1, 1(t0)", "    ecall", "1:  j       1b"]
    return "\n".join(lines) + "\n"


class GuestRam:
    """A guest's RAM: each guest page backed by a host frame, frames in a seeded order (so
    nothing can assume guest-physical and host-physical pages run side by side)."""

    def __init__(self, m, layout: dict):
        self.m, self.layout = m, layout
        pages = [(r["gpa"] >> 12) + i for r in layout["ram"] for i in range(r["pages"])]
        frames = list(range(len(pages) + 8))
        random.Random(layout["seed"]).shuffle(frames)
        self.frame_of = {gp: HOST_FRAMES + (f << 12) for gp, f in zip(pages, frames)}
        self.next_table = HOST_FRAMES + ((len(pages) + 8) << 12)
        words = random.Random(layout["seed"] + 1)
        for gp, hpa in self.frame_of.items():
            data = [words.randrange(1 << 32) for _ in range(512)]
            m.write_mem(hpa, np.array(data, dtype=np.uint64).tobytes())

    def hpa_of(self, gpa: int) -> int | None:
        return self.frame_of.get(gpa >> 12)

    def write(self, gpa: int, data: bytes) -> None:
        self.m.write_mem(self.frame_of[gpa >> 12] + (gpa & 0xFFF), data)


class FillRequest:
    """What a G-stage fill gets: one guest-page fault, the G-stage, and the host frames the
    hypervisor allows it to name (every PTE it writes is checked against them)."""

    def __init__(self, owner: "GStageOwner", cause: int | None, htval: int):
        self._owner, self.cause, self.htval = owner, cause, htval
        self.root = owner.root_hpa

    def hpa_of(self, gpa: int) -> int | None:
        """The host frame backing the guest page holding ``gpa``, or None: no guest RAM."""
        return self._owner.hpa_of(int(gpa))

    def new_table(self) -> int:
        """A fresh, zeroed 4 KiB table in host memory (its host-physical address)."""
        return self._owner.new_table()

    def read_pte(self, table: int, index: int) -> int:
        self._owner.check_slot(table, index)
        return int.from_bytes(self._owner.m.read_mem(table + 8 * index, 8), "little")

    def write_pte(self, table: int, index: int, pte: int) -> None:
        self._owner.check_slot(table, index)
        self._owner.check_pte(int(pte))
        self._owner.m.write_mem(table + 8 * index, int(pte).to_bytes(8, "little"))


class FillError(Exception):
    """What a fill did wrong, in one line for the student."""


class GStageOwner:
    """The hypervisor's side of a fill: what a fill may touch (the root, the tables
    new_table made, the frames hpa_of gave) and how its answer is judged."""

    def __init__(self, m, root_hpa: int):
        self.m, self.root_hpa, self.tables = m, root_hpa, {root_hpa}
        self.fills, self.last_fault = 0, None

    def check_slot(self, table: int, index: int) -> None:
        size = (1 << GSTAGE_ROOT_INDEX_BITS) if table == self.root_hpa else 512
        if table not in self.tables:
            raise FillError(f"{int(table):#x} is not the root or a table new_table gave")
        if type(index) is not int or not 0 <= index < size:
            raise FillError(f"index {index!r} is outside table {table:#x} ({size} entries)")

    def check_pte(self, pte: int) -> None:
        """A pointer must name a table of ours, a leaf a frame of the guest's RAM."""
        if not pte & PTE_V:
            return
        target = (pte >> PTE_PPN_SHIFT) << 12
        if pte & (PTE_R | PTE_W | PTE_X):
            if not self.is_frame(target):
                raise FillError(f"a leaf names host frame {target:#x}, which hpa_of did not give")
        elif target not in self.tables:
            raise FillError(f"a pointer names {target:#x}, which is no table new_table gave")

    def ask(self, fill, cause: int | None, htval: int) -> bool:
        """Hand one guest-page fault to ``fill``; True if it mapped guest RAM.  A fill that
        raises, or that the hardware still rejects (the same page faults again at once), or
        that leaves guest RAM unmapped, ends the run with one line."""
        page = (htval << 2) >> 12
        if self.last_fault == (cause, page):
            raise FillError(f"guest-page fault again at the same guest page right after your "
                            f"fill returned True ({_cause_word(cause)}): the hardware's walk "
                            f"still fails there")
        try:
            mapped = fill(FillRequest(self, cause, htval))
        except FillError:
            raise
        except Exception as exc:      # the student's bug: one line, the host untouched
            raise FillError(f"your fill raised {type(exc).__name__}: {exc}") from exc
        if mapped is True:
            self.fills, self.last_fault = self.fills + 1, (cause, page)
            return True
        if self.is_ram(htval << 2):
            raise FillError(f"your fill did not map a page of guest RAM ({_cause_word(cause)})")
        self.last_fault = None
        return False


class FillHypervisor(GStageOwner):
    """The smallest hardware-assisted hypervisor: run the guest, take its exits, fill its
    G-stage on guest-page faults with ``fill``, emulate its device, stop at its SBI ecall."""

    MAX_EXITS = 200

    def __init__(self, layout: dict, fill):
        from vmlab.asm import assemble
        from vmlab.machine import Machine
        m = Machine(ram_size=HOST_RAM)
        self.fill, self.layout, self.ram = fill, layout, GuestRam(m, layout)
        self.next_table = (self.ram.next_table + 0x3FFF) & ~0x3FFF     # the 16 KiB root
        super().__init__(m, self.next_table)
        self.next_table += 0x4000
        prog = assemble(fill_guest_source(layout), base=GUEST_CODE_GPA, filename="lab06-fill.s")
        for s in prog.sections.values():
            if s.size and "a" in s.flags:
                self.ram.write(s.addr, bytes(s.data))
        self.mmio = []
        m.set_csr("stvec", EXIT_VECTOR)
        m.set_csr("medeleg", sum(1 << c for c in (*GUEST_PAGE_FAULTS, VS_ECALL)))
        m.set_csr("hstatus", L.HS_SPV)
        m.add_breakpoint(EXIT_VECTOR)
        enter_vs(m, prog.symbols["_start"], hgatp(self.root_hpa))

    def hpa_of(self, gpa: int) -> int | None:
        return self.ram.hpa_of(gpa)

    def is_ram(self, gpa: int) -> bool:
        return self.ram.hpa_of(gpa) is not None

    def is_frame(self, hpa: int) -> bool:
        return hpa in self.ram.frame_of.values()

    def new_table(self) -> int:
        if self.next_table + 4096 > RAM + HOST_RAM:
            raise FillError("new_table: out of host memory (a table per fault is too many)")
        addr, self.next_table = self.next_table, self.next_table + 4096
        self.tables.add(addr)
        return addr

    def run(self) -> dict:
        for _ in range(self.MAX_EXITS):
            r = self.m.run(instructions=100_000)
            if r.reason != "breakpoint" or r.pc != EXIT_VECTOR:
                raise FillError(f"the guest stopped with {r.reason!r} at {r.pc:#x}")
            cause = self.m.csr("scause")
            if cause == VS_ECALL:
                return {"answer": self.m.reg("a0"), "mmio": self.mmio, "fills": self.fills}
            if cause not in GUEST_PAGE_FAULTS:
                raise FillError(f"the guest took exception {cause} at {self.m.csr('sepc'):#x}")
            if self.ask(self.fill, cause, self.m.csr("htval")):
                self._resume(0)
            else:
                self._emulate(self.m.csr("htval") << 2 | (self.m.csr("stval") & 3))
        raise FillError(f"more than {self.MAX_EXITS} exits: the guest keeps faulting")

    def _emulate(self, gpa: int) -> None:
        """The device: a store of a0's byte (the guest's only device access); skip it."""
        dev = self.layout["device"]
        if self.m.csr("scause") == STORE_GUEST_PAGE_FAULT and dev <= gpa < dev + 4096:
            self.mmio.append([gpa - dev, self.m.reg("a0" if gpa == dev else "a1") & 0xFF])
            return self._resume(4)
        raise FillError(f"the guest touched guest-physical {gpa:#x}, which is neither RAM nor "
                        "its device")

    def _resume(self, skip: int) -> None:
        from vmlab.machine.trap import sret
        if skip:
            self.m.set_csr("sepc", (self.m.csr("sepc") + skip) & ((1 << 64) - 1))
        self.m.set_csr("hstatus", self.m.csr("hstatus") | L.HS_SPV)
        sret(self.m.harts[0].c)


class VmFill(GStageOwner):
    """A fill function as the G-stage fill of a VM under the hw backend
    (``vm.hw.gstage.set_fill``): the hypervisor's own frames and tables, the student's walk."""

    def __init__(self, vm):
        super().__init__(vm.machine, vm.hw.gstage.root_hpa)
        self.vm, self.given = vm, set()

    def hpa_of(self, gpa: int) -> int | None:
        if not self.vm.mem.contains(gpa):
            return None
        hpa = self.vm.mem.backing(gpa, write=True)[0] & ~0xFFF
        self.given.add(hpa)
        return hpa

    def is_ram(self, gpa: int) -> bool:
        return self.vm.mem.contains(gpa)

    def is_frame(self, hpa: int) -> bool:
        return hpa in self.given

    def new_table(self) -> int:
        from vmlab.hv.memory import FrameAllocator
        addr = self.vm.frames.alloc(FrameAllocator.SHADOW)      # zeroed
        self.tables.add(addr)
        return addr


def install_fill(vm, fill) -> VmFill:
    """Make ``fill`` the G-stage fill of ``vm`` (created with ``backend="hw"``)."""
    owner = VmFill(vm)
    gstage = vm.hw.gstage

    def filled(gpa: int, write: bool) -> bool:
        ok = owner.ask(fill, None, gpa >> 2)     # (the student's leaves are always writable)
        gstage.fills += ok
        return ok
    gstage.set_fill(filled)
    return owner


def _cause_word(cause: int | None) -> str:
    return ACCESS_WORDS.get(cause, "a guest access")


TEACHOS_DISK = b"Hello from sector 0 of the disk!\n"


def teachos_run(backend: str, fill=None):
    """teachos with a small disk, booted to its power-off under ``backend`` ("shadow" or
    "hw"; with ``fill``, the G-stage fill of the hw backend); the VM, its devices closed."""
    import tempfile
    from pathlib import Path
    from vmlab.guests import teachos
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk.img"
        disk.write_bytes(TEACHOS_DISK.ljust(8 * 512, b"\0"))
        vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk,
                                                                backend=backend)
        vm.owner = install_fill(vm, fill) if fill else None
        vm.boot(kernel=teachos.build().elf)
        try:
            vm.result = vm.run(instructions=400_000_000)
        finally:
            vm.close_devices()
    return vm


def fill_run(fill, guest) -> dict:
    """Driver: run ``guest`` (a layout of :func:`gstage_layout`, or "teachos": booted under
    the hw backend) on ``fill``; what the guest computed and how many faults the fill
    answered -- or the one line saying what went wrong."""
    if guest == "teachos":
        return _teachos_fill(fill)
    hv = FillHypervisor(guest, fill)
    try:
        return hv.run()
    except FillError as exc:
        return {"error": str(exc), "fills": hv.fills}


def _teachos_fill(fill) -> dict:
    try:
        vm = teachos_run("hw", fill)
    except Exception as exc:
        cause = exc
        while cause is not None and not isinstance(cause, FillError):
            cause = cause.__cause__
        if cause is None:
            raise
        return {"error": str(cause)}
    return {"console": vm.console_output, "reason": vm.result.reason, "fills": vm.owner.fills}


def reference_fill(req) -> bool:
    """The hypervisor's fill: GPA = htval << 2; an 11-bit root index, 9-bit below; a 4 KiB
    leaf with U set (G-stage accesses are checked as U-mode ones) and A/D already set."""
    gpa = req.htval << 2
    hpa = req.hpa_of(gpa)
    if hpa is None:
        return False
    table = req.root
    for level, bits in ((2, GSTAGE_ROOT_INDEX_BITS), (1, 9)):
        index = (gpa >> (12 + 9 * level)) & ((1 << bits) - 1)
        pte = req.read_pte(table, index)
        if not pte & PTE_V:
            pte = pointer(req.new_table())
            req.write_pte(table, index, pte)
        table = (pte >> PTE_PPN_SHIFT) << 12
    req.write_pte(table, (gpa >> 12) & 0x1FF, leaf(hpa, G_LEAF))
    return True


# ---- 3. the nanobenchmarks, three techniques ----------------------------------------------------
NANO_OPS = ("syscall", "ptemod", "tlb")
TECHNIQUES = ("sfence", "write-protect", "hw")


def costs_of(report: dict) -> dict:
    """{technique: {op: {exits, cycles, walks, refs}}} per operation from a
    :func:`vmlab.bench.nanobench.nanobench` report (refs: memory references of page walks)."""
    return {t: {op: {"exits": c[t]["exits"], "cycles": c[t]["cycles"], "walks": c[t]["walks"],
                     "refs": c[t]["walks"] * c[t]["refs_per_walk"]}
                for op, c in report["results"].items()} for t in report["techniques"]}


def nano_report(n: int = 50) -> dict:
    """The three rows the decision exercise prices, under its three techniques."""
    from vmlab.bench.nanobench import nanobench
    return nanobench(n, NANO_OPS, TECHNIQUES, repeats=1)


_COSTS_CACHE: dict = {}


def per_op_costs(n: int = 50) -> dict:
    """:func:`costs_of` the :func:`nano_report`, measured once per process (the counts and
    simulated cycles are deterministic: the grader's measurement is the student's)."""
    if n not in _COSTS_CACHE:
        _COSTS_CACHE[n] = costs_of(nano_report(n))
    return _COSTS_CACHE[n]


# ---- the lab's first guest: what still exits ----------------------------------------------------
def vs_guest(source: str, ram_pages: int = 256):
    """``source`` assembled at GPA 0x8000_0000 as a guest of ``ram_pages`` pages, ready to
    run in VS-mode: a :class:`vmlab.hv.hwassist.HwVcpu` (its G-stage empty, filled on
    demand) and the program (for its symbols)."""
    from vmlab.asm import assemble
    from vmlab.hv.hwassist import GStage, HwVcpu
    from vmlab.hv.memory import FrameAllocator, GuestMemory
    from vmlab.machine import Machine
    m = Machine(ram_size=8 << 20)
    frames = FrameAllocator(m.mem, RAM, first=RAM + (1 << 20))
    mem = GuestMemory(frames, vm_id=1, gpa_base=RAM, size=ram_pages << 12)
    prog = assemble(source, base=RAM, filename="lab06-guest.s")
    for s in prog.sections.values():
        if s.size and "a" in s.flags and not s.nobits:
            mem.write(s.addr, bytes(s.data))
    vcpu = HwVcpu(m, GStage(m, frames, mem, vmid=1), EXIT_VECTOR)
    vcpu.enter(prog.symbols["_start"])
    return vcpu, prog
