"""Guests running on the real machine in U-mode with a shadow root in satp: translations in
hardware, coherence as a guest sees it, and adversarial guests that try to reach memory that
is not theirs (checked with checksums of every other host page)."""
from __future__ import annotations

import pytest

from shadow_guest import (
    GPA_BASE, GuestTables, StandInVCPU, StandInVM, host_checksums, load_code, machine_frames,
    run_guest,
)
from vmlab import sv39
from vmlab.hv.memory import PAGE, FrameAllocator
from vmlab.hv.shadow import ShadowPaging
from vmlab.hv.shadow_view import side_by_side
from vmlab.machine import layout as L
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_W, PTE_X

RAM_PAGES = 64
TABLES = GPA_BASE + 0x2_0000          # guest page tables (gpa), 8 pages
TABLE_WINDOW = 0x5000_0000            # where the guest kernel maps its own tables (gva)
OPS_GVA, OPS_GPA = 0x3000_0000, GPA_BASE + 0x3000
DATA_GVA, DATA_GPA = 0x4000_0000, GPA_BASE + 0x8000
LOAD, STORE, FENCE_ALL, FENCE_VA = 0, 1, 2, 3
SUPER = 0x20_0000_0000                # a 1 GiB guest superpage (gva)
UNSET = (1 << 64) - 1                 # what a load that faulted leaves in its result slot

# A tiny guest kernel: it interprets a list of (op, gva, value, result) records, so one
# program serves every test.  Faulting accesses are skipped by the test's run loop, as a
# guest trap handler that ignores faults would.
INTERPRETER = """
_start:
    beqz    s1, done
    ld      t0, 0(s0)
    ld      t1, 8(s0)
    ld      t2, 16(s0)
    li      t3, 1
    beq     t0, t3, store
    li      t3, 2
    beq     t0, t3, fence_all
    li      t3, 3
    beq     t0, t3, fence_va
    li      t4, -1
    ld      t4, 0(t1)
    sd      t4, 24(s0)
    j       next
store:
    sd      t2, 0(t1)
    j       next
fence_all:
    sfence.vma zero, zero
    j       next
fence_va:
    sfence.vma t1, zero
next:
    addi    s0, s0, 32
    addi    s1, s1, -1
    j       _start
done:
    ecall
"""


class Guest:
    """One VM on the machine with a kernel (code at gva 0x1000), its op list, data pages
    and its own page tables mapped at TABLE_WINDOW, and a second VM next to it."""

    def __init__(self, strategy="sfence", priv=1):
        self.m, self.frames = machine_frames()
        self.vm = StandInVM(self.frames, vm_id=1, size=RAM_PAGES * PAGE, machine=self.m)
        for page in range(RAM_PAGES):                      # all of guest RAM resident first,
            self.vm.mem.hpa(GPA_BASE + page * PAGE)        # so later frames lie above it
        self.other = StandInVM(self.frames, vm_id=2, size=8 * PAGE, machine=self.m)
        self.other.mem.write(GPA_BASE, b"\x5A" * 8 * PAGE)
        self.gt = GuestTables(self.vm.mem, TABLES)
        user = PTE_U if priv == 0 else 0
        load_code(self.vm, self.gt, INTERPRETER, 0x1000, GPA_BASE + 0x1000, PTE_R | PTE_X | user)
        self.gt.map(OPS_GVA, OPS_GPA, PTE_R | PTE_W | user)
        for i in range(4):
            self.gt.map(DATA_GVA + i * PAGE, DATA_GPA + i * PAGE, PTE_R | PTE_W | user)
            self.vm.mem.write64(DATA_GPA + i * PAGE, 1000 + i)
        for i in range(8):
            self.gt.map(TABLE_WINDOW + i * PAGE, TABLES + i * PAGE, PTE_R | PTE_W | user)
        self.vcpu = StandInVCPU(self.vm, priv=priv, satp=self.gt.satp(asid=1))
        self.sp = ShadowPaging(self.vm, strategy)

    def pte_gva(self, gva: int, level: int = 0) -> int:
        """Where the guest sees the PTE for ``gva`` through its table window."""
        return TABLE_WINDOW + self.gt.slot(gva, level) - TABLES

    def run(self, ops):
        """Run the op list; returns (results of loads, fault log)."""
        for i, (op, gva, value) in enumerate(ops):
            rec = OPS_GPA + 32 * i
            for k, v in enumerate((op, gva, value, UNSET)):
                self.vm.mem.write64(rec + 8 * k, v & UNSET)
        log = run_guest(self.m, self.sp, self.vcpu, 0x1000, max_exits=400,
                        regs={"s0": OPS_GVA, "s1": len(ops)})
        results = [self.vm.mem.read64(OPS_GPA + 32 * i + 24) for i in range(len(ops))]
        return results, log

    def allowed(self) -> set[int]:
        """Frames the run may change: the VM's own and its shadow tables."""
        return {int(h) for owner in (1, FrameAllocator.SHADOW) for h in self.frames.frames_of(owner)}

    def assert_unchanged(self, before: dict) -> None:
        """Every host page outside this VM's frames and its shadow tables (as they are now:
        a run may take new ones) still has the contents it had in ``before``."""
        allowed = self.allowed()
        after = host_checksums(self.m.mem, self.frames, allowed)
        assert after == {hpa: d for hpa, d in before.items() if hpa not in allowed}

    def assert_shadow_sound(self):
        """Every shadow leaf of every tree maps one of this VM's own frames, and (after a
        full fence, or always with write-protect) agrees with the guest's tables."""
        own = {int(h) for h in self.frames.frames_of(1)}
        shadow_frames = {int(h) for h in self.frames.frames_of(FrameAllocator.SHADOW)}
        for key, root in self.sp.roots.items():
            assert root.tree.root_hpa in shadow_frames
            for mp in root.tree.mappings():
                assert mp.pa & ~0xFFF in own, f"shadow leaf {mp.va:#x} -> {mp.pa:#x} leaves the VM"
            if self.sp.write_protect:
                assert not [r for r in side_by_side(self.sp, key) if r.stale]


def faults(log):
    return [(cause, tval, f.kind, f.cause) for cause, tval, f in log if f.kind != "filled"]


# --- translation in hardware -----------------------------------------------------------------------

@pytest.mark.parametrize("priv", [1, 0])
def test_guest_runs_on_shadow_tables_in_hardware(priv):
    g = Guest(priv=priv)
    results, log = g.run([(LOAD, DATA_GVA, 0), (STORE, DATA_GVA + 8, 77), (LOAD, DATA_GVA + 8, 0),
                          (LOAD, DATA_GVA + 3 * PAGE, 0)])
    assert results[0] == 1000 and results[2] == 77 and results[3] == 1003
    assert g.vm.mem.read64(DATA_GPA + 8) == 77
    assert faults(log) == []
    c = g.sp.counters
    # code, ops (load then store: D), data page 0 (load then store: D), data page 3
    assert (c["fills"], c["dirty_upgrades"]) == (4, 2)
    g.assert_shadow_sound()


def test_vU_cannot_touch_supervisor_pages_and_gets_the_fault_reflected():
    g = Guest(priv=0)
    g.gt.map(DATA_GVA + 5 * PAGE, DATA_GPA, PTE_R | PTE_W | PTE_A | PTE_D)      # no U
    results, log = g.run([(LOAD, DATA_GVA + 5 * PAGE, 0), (STORE, DATA_GVA + 5 * PAGE, 1)])
    assert results[0] == UNSET
    assert faults(log) == [(13, DATA_GVA + 5 * PAGE, "guest", 13), (15, DATA_GVA + 5 * PAGE, "guest", 15)]
    assert g.vm.mem.read64(DATA_GPA) == 1000


def test_address_spaces_switch_through_the_root_cache_without_refills():
    g = Guest()
    other_root = GuestTables(g.vm.mem, TABLES + 12 * PAGE)        # a second process's tables
    load_code(g.vm, other_root, INTERPRETER, 0x1000, GPA_BASE + 0x1000, PTE_R | PTE_X)
    other_root.map(OPS_GVA, OPS_GPA, PTE_R | PTE_W)
    other_root.map(DATA_GVA, DATA_GPA + 2 * PAGE, PTE_R | PTE_W)   # same gva, other page
    seen = []
    for satp in (g.gt.satp(1), other_root.satp(2), g.gt.satp(1), other_root.satp(2)):
        g.vcpu.csrs["satp"] = satp
        results, _ = g.run([(LOAD, DATA_GVA, 0)])
        seen.append((results[0], g.sp.counters["fills"]))
    assert [v for v, _ in seen] == [1000, 1002, 1000, 1002]
    assert seen[2][1] == seen[3][1] == seen[1][1]          # the second round filled nothing
    assert g.sp.counters["root_switches"] == 3 and g.sp.counters["roots_built"] == 2


# --- coherence as the guest sees it ----------------------------------------------------------------

def remap_ops(g):
    """Load X, point X's PTE at another page, load X again, fence, load X once more."""
    new_pte = sv39.make_pte(DATA_GPA + PAGE, PTE_R | PTE_W | PTE_A | 1)
    return [(LOAD, DATA_GVA, 0), (STORE, g.pte_gva(DATA_GVA), new_pte), (LOAD, DATA_GVA, 0),
            (FENCE_VA, DATA_GVA, 0), (LOAD, DATA_GVA, 0)]


def test_sfence_strategy_guest_sees_the_change_after_its_sfence():
    g = Guest("sfence")
    results, log = g.run(remap_ops(g))
    assert results[0] == 1000
    assert results[2] == 1000            # stale until the fence, as the spec allows
    assert results[4] == 1001
    c = g.sp.counters
    assert c["sfences"] == c["flushes"] == 1 and c["wp_faults"] == 0 and c["leaves_dropped"] >= 1


def test_write_protect_strategy_guest_sees_the_change_at_once():
    g = Guest("write-protect")
    results, log = g.run(remap_ops(g))
    assert results[0] == 1000 and results[2] == 1001 and results[4] == 1001
    c = g.sp.counters
    assert c["wp_faults"] == 1 and c["pt_writes"] == 1 and c["flushes"] == 0
    assert [f.kind for _, _, f in log].count("wp") == 1
    g.assert_shadow_sound()


def test_both_strategies_agree_after_fences_and_count_differently():
    counts = {}
    for strategy in ("sfence", "write-protect"):
        g = Guest(strategy)
        ops = []
        for i in range(3):        # rotate the four data pages under four gvas, fence each time
            for k in range(4):
                pte = sv39.make_pte(DATA_GPA + ((k + i + 1) % 4) * PAGE, PTE_R | PTE_W | 1)
                ops.append((STORE, g.pte_gva(DATA_GVA + k * PAGE), pte))
            ops.append((FENCE_ALL, 0, 0))
            ops += [(LOAD, DATA_GVA + k * PAGE, 0) for k in range(4)]
        results, _ = g.run(ops)
        loads = [r for (op, _, _), r in zip(ops, results) if op == LOAD]
        assert loads == [1000 + (k + i + 1) % 4 for i in range(3) for k in range(4)]
        counts[strategy] = dict(g.sp.counters)
        g.assert_shadow_sound()
    assert counts["sfence"]["wp_faults"] == 0 and counts["sfence"]["flushes"] == 3
    # 12 PTE stores, but the first 4 go to a table no shadow leaf depends on yet: not protected
    assert counts["write-protect"]["wp_faults"] == 8 and counts["write-protect"]["flushes"] == 0


# --- adversarial guests ------------------------------------------------------------------------------

def hostile_targets(g):
    """gpas a guest might use to reach memory that is not its own."""
    other_hpa = int(g.frames.frames_of(2)[0])              # the other VM's frame
    shadow_hpa = int(g.frames.frames_of(FrameAllocator.SHADOW)[0])
    return {"other VM": other_hpa, "shadow root": shadow_hpa,
            "top of host RAM": L.RAM_BASE + len(g.m.mem) - PAGE,
            "beyond host RAM": L.RAM_BASE + len(g.m.mem) + PAGE, "far": 0xFF_FFFF_F000}


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
def test_ptes_naming_host_memory_or_other_vms_fault_and_change_nothing(strategy):
    g = Guest(strategy)
    g.sp.root_for(g.vcpu)                                   # the shadow root exists now
    targets = hostile_targets(g)
    assert all(not g.vm.mem.contains(gpa) for gpa in targets.values())
    ops = []
    for i, gpa in enumerate(targets.values()):
        gva = 0x6000_0000 + i * PAGE
        g.gt.map(gva, gpa, PTE_R | PTE_W | PTE_A | PTE_D)
        ops += [(LOAD, gva, 0), (STORE, gva, 0xBAD)]
    g.gt.map(SUPER, GPA_BASE, PTE_R | PTE_W | PTE_A | PTE_D, level=2)   # 1 GiB over host RAM
    ops += [(LOAD, SUPER + DATA_GPA - GPA_BASE, 0), (STORE, SUPER + RAM_PAGES * PAGE, 1),
            (STORE, SUPER + 0x20_0000, 2)]
    before = host_checksums(g.m.mem, g.frames, set())
    results, log = g.run(ops)
    g.assert_unchanged(before)
    expected = []
    for i in range(len(targets)):
        gva = 0x6000_0000 + i * PAGE
        expected += [(13, gva, "guest", 5), (15, gva, "guest", 7)]
    expected += [(15, SUPER + RAM_PAGES * PAGE, "guest", 7), (15, SUPER + 0x20_0000, "guest", 7)]
    assert faults(log) == expected
    assert results[2 * len(targets)] == 1000                # inside guest RAM: its own page
    assert g.other.mem.read(GPA_BASE, 8 * PAGE) == b"\x5A" * 8 * PAGE
    g.assert_shadow_sound()


def test_table_pages_outside_guest_ram_are_access_faults():
    g = Guest()
    g.sp.root_for(g.vcpu)
    hostile = hostile_targets(g)
    for i, (name, gpa) in enumerate(hostile.items()):
        gva = (8 + i) << 30                                  # a fresh root slot each
        g.vm.mem.write64(g.gt.root + 8 * (8 + i), sv39.make_pte(gpa, 1))   # non-leaf -> outside
        for cause, fault in ((12, 1), (13, 5), (15, 7)):
            f = g.sp.handle_fault(g.vcpu, cause, gva)
            assert (f.kind, f.cause, f.tval) == ("guest", fault, gva), name
    g.vcpu.csrs["satp"] = sv39.make_satp(hostile["other VM"], 1)           # root outside RAM
    f = g.sp.handle_fault(g.vcpu, 12, 0x1000)
    assert (f.kind, f.cause) == ("guest", 1)


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
def test_guest_rewriting_its_own_tables_cannot_escape(strategy):
    g = Guest(strategy)
    g.sp.root_for(g.vcpu)
    targets = list(hostile_targets(g).values())
    ops, probes = [], []
    for i, gpa in enumerate(targets):                        # new leaves aimed outside
        gva = DATA_GVA + (8 + i) * PAGE
        ops.append((STORE, g.pte_gva(gva), sv39.make_pte(gpa, PTE_R | PTE_W | PTE_A | PTE_D | 1)))
        probes.append(gva)
    # a level-1 entry turned into a table pointer to the other VM's frame
    ops.append((STORE, g.pte_gva(0x6000_0000, 1), sv39.make_pte(targets[0], 1)))
    probes.append(0x6000_0000)
    # its own data leaf turned into a pointer at the shadow root (by number)
    ops.append((STORE, g.pte_gva(DATA_GVA), sv39.make_pte(targets[1], PTE_R | PTE_W | PTE_A | PTE_D | 1)))
    probes.append(DATA_GVA)
    ops.append((FENCE_ALL, 0, 0))
    for gva in probes:
        ops += [(LOAD, gva, 0), (STORE, gva, 0xBAD)]
    before = host_checksums(g.m.mem, g.frames, set())
    results, log = g.run(ops)
    g.assert_unchanged(before)
    expected = [(c, gva, "guest", a) for gva in probes for c, a in ((13, 5), (15, 7))]
    assert faults(log)[-len(expected):] == expected
    assert all(r == UNSET for (op, _, _), r in zip(ops, results) if op == LOAD)
    assert g.other.mem.read(GPA_BASE, 8 * PAGE) == b"\x5A" * 8 * PAGE
    g.assert_shadow_sound()


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
def test_ptes_aimed_at_the_shadow_tables_reach_only_the_guests_own_pages(strategy):
    g = Guest(strategy)
    g.run([(LOAD, DATA_GVA, 0)])                             # build some shadow tables first
    shadow = [int(h) for h in g.frames.frames_of(FrameAllocator.SHADOW)]
    tables_before = {h: bytes(g.m.mem[h - L.RAM_BASE:h - L.RAM_BASE + PAGE]) for h in shadow}
    ops = []
    for i, hpa in enumerate(shadow):
        gva = 0x6000_0000 + i * PAGE
        # the same number as a gpa: outside guest RAM here; and its offset into guest RAM
        g.gt.map(gva, hpa, PTE_R | PTE_W | PTE_A | PTE_D)
        g.gt.map(gva + 0x100_0000, GPA_BASE + (hpa - L.RAM_BASE) % (RAM_PAGES * PAGE) // PAGE * PAGE,
                 PTE_R | PTE_W | PTE_A | PTE_D)
        ops += [(STORE, gva, 0), (STORE, gva + 0x100_0000, 0)]
    results, log = g.run(ops)
    assert [f.cause for _, _, f in log if f.kind == "guest"] == [7] * len(shadow)
    for h in shadow:                         # the guest's stores zeroed no shadow PTE
        old, new = tables_before[h], bytes(g.m.mem[h - L.RAM_BASE:h - L.RAM_BASE + PAGE])
        assert all(new[k:k + 8] == old[k:k + 8] for k in range(0, PAGE, 8) if old[k:k + 8] != bytes(8))
    g.assert_shadow_sound()


def test_full_fences_without_pte_changes_cost_refills_only_with_the_sfence_strategy():
    fills = {}
    for strategy in ("sfence", "write-protect"):
        g = Guest(strategy)
        ops = [op for _ in range(5) for op in
               [(FENCE_ALL, 0, 0)] + [(LOAD, DATA_GVA + k * PAGE, 0) for k in range(4)]]
        results, _ = g.run(ops)
        assert [r for r in results if r != UNSET] == [1000, 1001, 1002, 1003] * 5
        fills[strategy] = g.sp.counters["fills"]
    # write-protect: code, ops and 4 data pages once.  sfence: code and ops before the first
    # fence, then all six again after each of the five fences
    assert fills["write-protect"] == 6 and fills["sfence"] == 2 + 5 * 6
