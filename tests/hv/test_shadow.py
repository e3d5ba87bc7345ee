"""Shadow page tables against the reference walker: fills, A/D, privilege separation, the
root cache, coherence bookkeeping and the trace (no guest code runs here; see
test_shadow_guests.py for guests on the real machine)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from shadow_guest import GPA_BASE, GuestTables, StandInVCPU, StandInVM, ram_frames
from vmlab import sv39
from vmlab.hv import shadow as S
from vmlab.hv.memory import PAGE, FrameAllocator
from vmlab.hv.shadow import Fault, ShadowPaging
from vmlab.hv.shadow_view import describe, side_by_side
from vmlab.hv.trace import SHADOW
from vmlab.machine import layout as L
from vmlab.machine.mmu import context, walk as mmu_walk
from vmlab.sv39 import PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

CAUSE = {"fetch": 12, "load": 13, "store": 15}
RAM_PAGES = 128
TABLES = GPA_BASE + 0x40000          # guest page tables from here up
MS_SUM, MS_MXR = L.MS_SUM, L.MS_MXR


def setup(strategy="sfence", priv=1, mstatus=0, max_roots=16, nframes=512):
    fa = ram_frames(nframes)
    vm = StandInVM(fa, vm_id=1, size=RAM_PAGES * PAGE)
    gt = GuestTables(vm.mem, TABLES)
    vcpu = StandInVCPU(vm, priv=priv, satp=gt.satp(asid=3), mstatus=mstatus)
    return vm, gt, vcpu, ShadowPaging(vm, strategy, max_roots=max_roots)


def host_read64(frames: FrameAllocator):
    def read(hpa):
        off = hpa - frames.ram_base
        if hpa & 7 or off < 0 or off + 8 > len(frames.ram):
            return None
        return int(frames.ram[off:off + 8].view(np.uint64)[0])
    return read


def shadow_walk(sp, vcpu, gva, access):
    """The shadow translation the real MMU sees: the guest runs in real U-mode."""
    return sv39.walk(host_read64(sp.vm.frames), sp.root_for(vcpu), gva, access, priv="U")


def machine_walk(sp, vcpu, gva, access):
    """The same with the machine's jitted MMU walk; returns the host page or None."""
    fa = sp.vm.frames
    ctl = np.zeros(L.CTL_WORDS, dtype=np.int64)
    ctl[L.C_RAM_BASE], ctl[L.C_RAM_SIZE] = fa.ram_base, len(fa.ram)
    satp = sp.root_for(vcpu)
    tag = sv39.satp_fields(satp)[1]
    acc = {"fetch": L.ACC_FETCH, "load": L.ACC_LOAD, "store": L.ACC_STORE}[access]
    page, _, _ = mmu_walk(fa.ram, ctl, _s(satp), _s(gva), acc, context(tag, L.PRIV_U, False, False))
    return None if page < 0 else page


def _s(v):
    return v - (1 << 64) if v >> 63 else v


def shadow_leaves_of(sp):
    return [(root, m) for root in sp.roots.values() for m in root.tree.mappings()]


# --- random guest tables against the reference walker ---------------------------------------------

GVAS = [sv39.canonical_va(v2 << 30 | v1 << 21 | v0 << 12)
        for v2 in (0, 1, 2, 511) for v1 in (0, 1, 5) for v0 in (0, 1, 7, 511)]
TARGETS = ([GPA_BASE + k * PAGE for k in range(0, 64, 3)]          # guest RAM
           + [TABLES, TABLES + PAGE, TABLES + 2 * PAGE]             # its page tables
           + [GPA_BASE + 0x20_0000, GPA_BASE + PAGE * 200,         # outside guest RAM
              0x1_0000_0000, L.RAM_BASE + 0x10_0000, 0x10_0000 * 3]
           + [L.UART_BASE, L.CLINT_BASE])                           # devices

A = PTE_A
COMMON = [PTE_R | PTE_W | PTE_X | A | PTE_D, PTE_R | PTE_W | A, PTE_R | A, PTE_R | PTE_X | A, PTE_X | A,
          PTE_R | PTE_W | PTE_X | PTE_U | A | PTE_D, PTE_R | PTE_W | PTE_U | A, PTE_R | PTE_U | A | PTE_D,
          PTE_X | PTE_U | A, PTE_R | PTE_W, PTE_R | PTE_X | PTE_U]
# mostly sensible leaves; one in five anything at all (bit 8: leave V as drawn)
flags = st.tuples(st.integers(0, 4), st.sampled_from(COMMON), st.integers(0, 1023)).map(
    lambda t: t[1] if t[0] else t[2])
mapping = st.tuples(st.sampled_from(GVAS), st.sampled_from(TARGETS), flags,
                    st.sampled_from([0, 0, 0, 1, 2]))
access = st.sampled_from(list(CAUSE))


def build(gt, maps, junk):
    for gva, gpa, flags, level in maps:
        if level:
            gpa &= ~((PAGE << (9 * level)) - 1) if flags & 0x200 == 0 else ~0   # mostly aligned
        flags = (flags & 0xFF) | (PTE_V if flags & 0x100 == 0 else 0)
        gt.mem.write64(gt.slot(gva, level), sv39.make_pte(gpa, flags))
    for index, value in junk:            # corrupt root entries: outside RAM, U/A/D on non-leaves
        gt.mem.write64(gt.root + 8 * index, value)


junk = st.lists(st.tuples(st.integers(3, 510), st.sampled_from([
    sv39.make_pte(0x1_0000_0000, PTE_V), sv39.make_pte(TABLES, PTE_V | PTE_U),
    sv39.make_pte(TABLES, PTE_V),                                    # the root points at itself
    sv39.make_pte(L.RAM_BASE + 0x100_0000, PTE_V), 1 << 60 | PTE_V | PTE_R])), max_size=3)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), maps=st.lists(mapping, min_size=1, max_size=25), junk=junk,
       priv=st.sampled_from([0, 1]), sum_=st.booleans(), mxr=st.booleans(),
       strategy=st.sampled_from(S.STRATEGIES))
def test_random_tables_agree_with_reference_walk_composed_with_gpa_map(
        data, maps, junk, priv, sum_, mxr, strategy):
    status = (MS_SUM if sum_ else 0) | (MS_MXR if mxr else 0)
    vm, gt, vcpu, sp = setup(strategy, priv=priv, mstatus=status)
    build(gt, maps, junk)
    p = "S" if priv else "U"
    near = st.sampled_from([m[0] for m in maps] + GVAS[:3])
    offset = st.tuples(st.integers(0, 4), st.integers(0, PAGE - 8),                # mostly
                       st.sampled_from([0x1000, 0x10_0000, 0x1F_F000])).map(     # in the page
        lambda t: t[1] if t[0] else t[2])
    for _ in range(data.draw(st.integers(1, 30))):
        gva = data.draw(near) + data.draw(offset)
        access = data.draw(st.sampled_from(list(CAUSE)))
        ref = sv39.walk(sp.guest_read64, gt.satp(3), gva, access, priv=p, sum=sum_, mxr=mxr)
        f = sp.handle_fault(vcpu, CAUSE[access], gva)
        check_one(sp, vcpu, gva, access, ref, f)
    check_no_more_than_guest(sp, vcpu, p, sum_, mxr)


def check_one(sp, vcpu, gva, access, ref, f: Fault):
    mem = sp.vm.mem
    event(f"{access} {f.kind} {f.cause}")
    if not ref.ok:
        assert (f.kind, f.cause, f.tval) == ("guest", ref.fault, gva), ref.reason
        return
    if not mem.contains(ref.pa):
        if sp.is_device(ref.pa) and access != "fetch":
            assert (f.kind, f.gpa) == ("mmio", ref.pa)
        else:
            assert (f.kind, f.cause, f.tval) == ("guest", {"fetch": 1, "load": 5, "store": 7}[access], gva)
        return
    if f.kind == "wp":
        assert sp.write_protect and access == "store" and f.gpa == ref.pa
        return
    assert f.kind == "filled", f
    hpa = mem.hpa(ref.pa, allocate=False)
    sw = shadow_walk(sp, vcpu, gva, access)
    assert sw.ok and sw.pa == hpa, sw.reason
    assert machine_walk(sp, vcpu, gva, access) == hpa & ~0xFFF
    guest_pte = mem.read64(ref.steps[-1].pte_pa)
    assert guest_pte & PTE_A and (access != "store" or guest_pte & PTE_D)


def check_no_more_than_guest(sp, vcpu, p, sum_, mxr):
    """Every shadow leaf allows only what the guest's tables allow now, maps exactly the
    frame the guest's gpa is backed by, and lies inside this VM's frames."""
    own = set(int(h) for h in sp.vm.frames.frames_of(sp.vm.id))
    root = sp.roots[sp.key_for(vcpu)]
    for s in root.tree.mappings():
        assert s.pa in own and s.pte & PTE_U and not s.pte & PTE_G
        for access, bit in (("load", PTE_R), ("store", PTE_W), ("fetch", PTE_X)):
            if not s.pte & bit:
                continue
            ref = sv39.walk(sp.guest_read64, root.guest_satp, s.va, access, priv=p, sum=sum_, mxr=mxr)
            assert ref.ok, (access, ref.reason)
            assert sp.vm.mem.hpa(ref.pa, allocate=False) == s.pa
            if access == "store":
                assert sp.vm.mem.read64(ref.steps[-1].pte_pa) & PTE_D


def pte_slots(sp, gt, maps):
    """gpas of every PTE the guest's walks for ``maps`` read: the entries worth rewriting."""
    slots = {gt.root + 8 * i for i in (0, 1, 2, 511)}
    for gva, *_ in maps:
        slots.update(st_.pte_pa for st_ in sv39.walk(sp.guest_read64, gt.satp(3), gva).steps)
    return sorted(slots)


def writable_in_shadow(sp, gpa):
    """Could the guest store to ``gpa`` without trapping (some shadow leaf maps it with W)?"""
    hpa = sp.vm.mem.hpa(gpa, allocate=False)
    return hpa is not None and any(m.pa >> 12 == hpa >> 12 and m.pte & PTE_W
                                   for _, m in shadow_leaves_of(sp))


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), maps=st.lists(mapping, min_size=1, max_size=12),
       priv=st.sampled_from([0, 1]), sum_=st.booleans(), strategy=st.sampled_from(S.STRATEGIES))
def test_shadow_never_disagrees_with_the_guest_after_its_coherence_point(
        data, maps, priv, sum_, strategy):
    """The guest rewrites random PTEs between random accesses.  With write-protect the core
    reports each store to a *protected* page (stores to other pages are not trapped at all)
    and the shadow must agree with the guest's tables at every moment; with sfence it must
    agree after each full fence."""
    vm, gt, vcpu, sp = setup(strategy, priv=priv, mstatus=MS_SUM if sum_ else 0)
    build(gt, maps, [])
    sp.root_for(vcpu)
    slots, gvas, p = pte_slots(sp, gt, maps), [m[0] for m in maps], "S" if priv else "U"
    new_pte = st.one_of(st.just(0), st.builds(sv39.make_pte, st.sampled_from(TARGETS + [TABLES]),
                                              flags.map(lambda f: (f & 0xFF) | PTE_V)))
    for _ in range(data.draw(st.integers(1, 40))):
        op = data.draw(st.sampled_from(["access"] * 3 + ["write", "fence"]))
        if op == "access":
            gva = data.draw(st.sampled_from(gvas)) + data.draw(st.integers(0, PAGE - 8))
            sp.handle_fault(vcpu, CAUSE[data.draw(access)], gva)
        elif op == "write":
            slot = data.draw(st.sampled_from(slots))
            trapped = sp.write_protect and not writable_in_shadow(sp, slot) and sp._pt_refs[slot >> 12]
            vm.mem.write64(slot, data.draw(new_pte))
            if trapped:
                sp.after_pt_write(vcpu, slot)
        else:
            sp.sfence(vcpu, None, None)
        if sp.write_protect or op == "fence":
            check_no_more_than_guest(sp, vcpu, p, sum_, False)


# --- A and D ---------------------------------------------------------------------------------------

def test_load_sets_A_maps_read_only_then_first_store_sets_D_and_upgrades():
    vm, gt, vcpu, sp = setup()
    slot = gt.map(0x5000, GPA_BASE + 0x3000, PTE_R | PTE_W)
    assert sp.handle_fault(vcpu, 13, 0x5008).kind == "filled"
    assert vm.mem.read64(slot) & (PTE_A | PTE_D) == PTE_A
    assert not shadow_walk(sp, vcpu, 0x5008, "store").ok        # clean: read-only in the shadow
    assert shadow_walk(sp, vcpu, 0x5008, "load").ok
    assert sp.handle_fault(vcpu, 15, 0x5010).kind == "filled"
    assert vm.mem.read64(slot) & PTE_D
    assert shadow_walk(sp, vcpu, 0x5010, "store").pa == vm.mem.hpa(GPA_BASE + 0x3010)
    assert sp.counters["fills"] == 1 and sp.counters["dirty_upgrades"] == 1
    assert [e.handler for e in vm.trace.events()][-2:] == ["shadow.fill", "shadow.dirty"]


def test_fetch_sets_only_A_and_a_dirty_page_is_writable_at_once():
    vm, gt, vcpu, sp = setup()
    code = gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_X)
    data = gt.map(0x2000, GPA_BASE + 0x2000, PTE_R | PTE_W | PTE_A | PTE_D)
    sp.handle_fault(vcpu, 12, 0x1000)
    assert vm.mem.read64(code) & (PTE_A | PTE_D) == PTE_A
    sp.handle_fault(vcpu, 13, 0x2000)
    assert shadow_walk(sp, vcpu, 0x2000, "store").ok            # D already set: no second fault
    assert not shadow_walk(sp, vcpu, 0x1000, "store").ok and shadow_walk(sp, vcpu, 0x1000, "fetch").ok


def test_a_faulting_access_sets_neither_A_nor_D():
    vm, gt, vcpu, sp = setup()
    slot = gt.map(0x5000, GPA_BASE + 0x3000, PTE_R)
    f = sp.handle_fault(vcpu, 15, 0x5000)
    assert (f.kind, f.cause, f.tval) == ("guest", 15, 0x5000)
    assert vm.mem.read64(slot) & (PTE_A | PTE_D) == 0
    assert sp.counters["guest_faults"] == 1 and not sp.roots[sp.key_for(vcpu)].tree.leaves


def test_a_superpage_is_shadowed_page_by_page():
    vm, gt, vcpu, sp = setup()
    gt.map(0x4000_0000, GPA_BASE, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D, level=1)   # 2 MiB
    for gva in (0x4000_0000, 0x4001_3008, 0x4007_F000):
        assert sp.handle_fault(vcpu, 13, gva).kind == "filled"
        assert shadow_walk(sp, vcpu, gva, "load").pa == vm.mem.hpa(GPA_BASE + (gva - 0x4000_0000))
    f = sp.handle_fault(vcpu, 13, 0x4010_0000)               # inside the superpage, beyond RAM
    assert (f.kind, f.cause) == ("guest", 5)
    root = sp.roots[sp.key_for(vcpu)]
    assert [m.level for m in root.tree.mappings()] == [0, 0, 0]
    sp.sfence(vcpu, 0x401F_F000, None)                         # any address in the superpage
    assert not root.tree.leaves and sp.counters["leaves_dropped"] == 3


# --- one tree per virtual privilege and SUM/MXR ------------------------------------------------------

def test_vS_and_vU_get_separate_trees_honouring_U_SUM_and_MXR():
    vm, gt, vcpu, sp = setup()
    gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)   # user data
    gt.map(0x2000, GPA_BASE + 0x2000, PTE_R | PTE_W | PTE_A | PTE_D)           # kernel data
    gt.map(0x3000, GPA_BASE + 0x3000, PTE_X | PTE_A)                            # execute-only
    gt.map(0x4000, GPA_BASE + 0x4000, PTE_R | PTE_X | PTE_U | PTE_A)            # user code

    def kind(priv, status, cause, gva):
        vcpu.priv, vcpu.csrs["mstatus"] = priv, status
        return sp.handle_fault(vcpu, cause, gva).kind

    assert kind(0, 0, 13, 0x1000) == "filled" and kind(0, 0, 13, 0x2000) == "guest"
    assert kind(1, 0, 13, 0x2000) == "filled" and kind(1, 0, 13, 0x1000) == "guest"
    assert kind(1, MS_SUM, 15, 0x1000) == "filled"
    assert kind(1, MS_SUM, 12, 0x4000) == "guest"                # S never executes U pages
    assert kind(0, MS_SUM, 13, 0x2000) == "guest"                # SUM means nothing to U
    assert kind(1, 0, 13, 0x3000) == "guest" and kind(1, MS_MXR, 13, 0x3000) == "filled"
    keys = list(sp.roots)
    assert len(keys) == 4 and len({sp.roots[k].tag for k in keys}) == 4
    assert len({sp.roots[k].tree.root_hpa for k in keys}) == 4
    # what each tree holds: U-mode's has only the user page; S-mode without SUM only kernel's
    tree = {k[2:]: {m.va for m in sp.roots[k].tree.mappings()} for k in keys}
    assert tree[("U", False, False)] == {0x1000}
    assert tree[("S", False, False)] == {0x2000}
    assert tree[("S", True, False)] == {0x1000}
    assert tree[("S", False, True)] == {0x3000}
    vcpu.priv, vcpu.csrs["mstatus"] = 0, MS_SUM                  # U with SUM shares U's tree
    assert sp.key_for(vcpu) == ("sv39", gt.satp(3), "U", False, False)


def test_mxr_is_baked_into_the_shadow_as_R():
    vm, gt, vcpu, sp = setup(mstatus=MS_MXR)
    gt.map(0x3000, GPA_BASE + 0x3000, PTE_X | PTE_A)
    sp.handle_fault(vcpu, 13, 0x3000)
    (m,) = sp.roots[sp.key_for(vcpu)].tree.mappings()
    assert m.pte & (PTE_R | PTE_W | PTE_X) == PTE_R | PTE_X


def test_virtual_M_and_bare_satp_share_the_direct_map():
    vm, gt, vcpu, sp = setup(priv=3)
    satp_m = sp.root_for(vcpu)
    assert sp.handle_fault(vcpu, 13, GPA_BASE + 0x7008).kind == "filled"
    assert shadow_walk(sp, vcpu, GPA_BASE + 0x7008, "store").pa == vm.mem.hpa(GPA_BASE + 0x7008)
    f = sp.handle_fault(vcpu, 15, L.UART_BASE + 5)
    assert (f.kind, f.gpa) == ("mmio", L.UART_BASE + 5)
    assert sp.handle_fault(vcpu, 12, L.UART_BASE).cause == 1                     # no code there
    assert sp.handle_fault(vcpu, 13, GPA_BASE + RAM_PAGES * PAGE).cause == 5     # beyond RAM
    assert sp.handle_fault(vcpu, 12, 0x4000_0000_0000).cause == 1                # far beyond
    vcpu.priv, vcpu.csrs["satp"] = 1, 0
    assert sp.root_for(vcpu) == satp_m and list(sp.roots) == [S.DIRECT]


def test_vM_with_MPRV_translates_data_as_MPP_and_fetches_untranslated():
    status = L.MS_MPRV | (L.PRIV_S << L.MS_MPP_SHIFT)
    vm, gt, vcpu, sp = setup(priv=3, mstatus=status)
    gt.map(0x4000_0000, GPA_BASE + 0x5000, PTE_R | PTE_W | PTE_A | PTE_D)
    gt.map(GPA_BASE + 0x1000, GPA_BASE + 0x6000, PTE_R | PTE_A | PTE_D)     # same gva as the code
    user = gt.map(0x2000, GPA_BASE + 0x7000, PTE_R | PTE_U | PTE_A)
    assert sp.handle_fault(vcpu, 12, GPA_BASE + 0x1000).kind == "filled"     # M-mode code
    assert shadow_walk(sp, vcpu, GPA_BASE + 0x1000, "fetch").pa == vm.mem.hpa(GPA_BASE + 0x1000)
    assert not shadow_walk(sp, vcpu, GPA_BASE + 0x1000, "load").ok
    assert sp.handle_fault(vcpu, 15, 0x4000_0008).kind == "filled"           # data as vS's
    assert shadow_walk(sp, vcpu, 0x4000_0008, "store").pa == vm.mem.hpa(GPA_BASE + 0x5008)
    assert not shadow_walk(sp, vcpu, 0x4000_0008, "fetch").ok
    assert sp.handle_fault(vcpu, 13, 0x2000).cause == 13                     # U page, SUM clear
    vcpu.csrs["mstatus"] = status | MS_SUM
    assert sp.handle_fault(vcpu, 13, 0x2000).kind == "filled"
    # code and data wanting one page at two gpas: the leaf flips, then the guest gets a fault
    vcpu.csrs["mstatus"] = status
    kinds = [sp.handle_fault(vcpu, cause, GPA_BASE + 0x1000).kind for cause in ((13, 12) * 9)[:17]]
    assert kinds == ["filled"] * S.MAX_FLIPS + ["guest"]
    vcpu.csrs["mstatus"] = L.MS_MPRV | (L.PRIV_M << L.MS_MPP_SHIFT)           # MPP = M: no effect
    assert sp.key_for(vcpu) == S.DIRECT
    assert vm.mem.read64(user) & PTE_A


# --- the root cache -----------------------------------------------------------------------------

def test_root_cache_reuses_trees_and_evicts_least_recently_used_freeing_frames():
    vm, gt, vcpu, sp = setup(max_roots=2)
    gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_A)
    satps = [gt.satp(asid) for asid in (1, 2, 3)]
    free0 = vm.frames.free_count

    def switch(satp):
        vcpu.csrs["satp"] = satp
        real = sp.root_for(vcpu)
        sp.handle_fault(vcpu, 13, 0x1000)
        return real

    a, b = switch(satps[0]), switch(satps[1])
    assert a != b and switch(satps[0]) == a and sp.counters["root_cache_hits"] == 1
    used = free0 - vm.frames.free_count        # two trees, 3 table frames each, + 1 guest page
    c = switch(satps[2])                       # evicts asid 2's tree, least recently used
    assert sp.counters["roots_evicted"] == 1 and [k[1] for k in sp.roots] == [satps[0], satps[2]]
    assert free0 - vm.frames.free_count == used
    assert sv39.satp_fields(c)[1] == sv39.satp_fields(b)[1]     # the freed ASID tag is reused
    assert vm.trace.count(SHADOW, S.ROOT_EVICT) == 1


def test_a_tree_a_vcpu_is_on_is_never_evicted():
    vm, gt, vcpu, sp = setup(max_roots=1)
    other = StandInVCPU(vm, vcpu_id=1, priv=1, satp=gt.satp(9))
    mine = sp.root_for(vcpu)
    sp.root_for(other)                          # over the bound rather than pull the rug
    assert len(sp.roots) == 2 and sp.root_for(vcpu) == mine
    other.csrs["satp"] = gt.satp(10)            # other leaves asid 9: that tree can go
    sp.root_for(other)
    assert len(sp.roots) == 2 and sp.counters["roots_evicted"] == 1
    assert [(t["guest_satp"], t["vcpus"]) for t in sp.trees()] == [(gt.satp(3), [0]), (gt.satp(10), [1])]


def test_two_vms_never_share_an_asid_tag():
    fa = ram_frames()
    sps = []
    for vm_id in (1, 2):
        vm = StandInVM(fa, vm_id=vm_id, size=RAM_PAGES * PAGE)
        sps.append(ShadowPaging(vm))
    tags = [sv39.satp_fields(sp.root_for(StandInVCPU(sp.vm, priv=3)))[1] for sp in sps]
    assert tags[0] != tags[1] and 0 not in tags


# --- coherence bookkeeping ------------------------------------------------------------------------

def test_sfence_by_address_and_asid_drops_only_what_it_names():
    vm, gt, vcpu, sp = setup()
    for i in range(4):
        gt.map(0x1000 * (i + 1), GPA_BASE + 0x1000 * (i + 1), PTE_R | PTE_A)
    for i in range(4):
        sp.handle_fault(vcpu, 13, 0x1000 * (i + 1))
    vcpu.csrs["satp"] = gt.satp(4)                   # same tables, another ASID: another tree
    sp.handle_fault(vcpu, 13, 0x1000)
    tree3, tree4 = (sp.roots[k].tree for k in sp.roots)
    sp.sfence(vcpu, 0x2000, 3)
    assert sorted(tree3.leaves) == [1, 3, 4] and sorted(tree4.leaves) == [1]
    sp.sfence(vcpu, 0x1000, 7)                        # no tree has guest ASID 7
    assert len(tree3.leaves) == 3
    sp.sfence(vcpu, None, 4)
    assert not tree4.leaves and len(tree3.leaves) == 3 and len(tree4.tables) == 1
    sp.sfence(vcpu, 0x3000, None)
    assert sorted(tree3.leaves) == [1, 4]
    sp.sfence(vcpu, None, None)
    assert not tree3.leaves and sp.counters["flushes"] == 5 and sp.counters["leaves_dropped"] == 5


def test_write_protect_catches_page_table_pages_and_drops_dependents():
    vm, gt, vcpu, sp = setup("write-protect")
    gt.map(0x6000, TABLES, PTE_R | PTE_W | PTE_A | PTE_D)          # the root table, mapped
    data = gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_W | PTE_A | PTE_D)
    assert sp.handle_fault(vcpu, 13, 0x6000).kind == "filled"
    assert not shadow_walk(sp, vcpu, 0x6000, "store").ok           # a table page: read-only
    assert sp.handle_fault(vcpu, 15, 0x1000).kind == "filled"
    assert shadow_walk(sp, vcpu, 0x1000, "store").ok               # data stays writable
    f = sp.handle_fault(vcpu, 15, 0x6008)
    assert (f.kind, f.gpa) == ("wp", TABLES + 8)
    level0 = data & ~0xFFF                                         # the table holding 0x1000's leaf
    vm.mem.write64(data, sv39.make_pte(GPA_BASE + 0x9000, PTE_V | PTE_R | PTE_A))   # the core's emulated store
    sp.after_pt_write(vcpu, data)
    assert sp.counters["wp_faults"] == 1 and sp.counters["pt_writes"] == 1
    assert sp.handle_fault(vcpu, 13, 0x1000).kind == "filled"
    assert shadow_walk(sp, vcpu, 0x1000, "load").pa == vm.mem.hpa(GPA_BASE + 0x9000)
    assert level0 >> 12 in sp._pt_refs
    sp.sfence(vcpu, None, None)
    assert sp.counters["flushes"] == 0 and sp.roots[sp.key_for(vcpu)].tree.leaves


def test_write_protect_downgrades_a_writable_page_that_becomes_a_table():
    vm, gt, vcpu, sp = setup("write-protect")
    page = GPA_BASE + 0x8000
    gt.map(0x1000, page, PTE_R | PTE_W | PTE_A | PTE_D)
    sp.handle_fault(vcpu, 15, 0x1000)
    assert shadow_walk(sp, vcpu, 0x1000, "store").ok
    # the guest turns that page into the level-0 table for 0x4000_0000
    vm.mem.write64(gt.slot(0x4000_0000, 1), sv39.make_pte(page, PTE_V))
    vm.mem.write64(page, sv39.make_pte(GPA_BASE + 0x2000, PTE_V | PTE_R | PTE_A))
    sp.handle_fault(vcpu, 13, 0x4000_0000)
    assert not shadow_walk(sp, vcpu, 0x1000, "store").ok
    assert sp.handle_fault(vcpu, 15, 0x1000).kind == "wp"
    assert sp.counters["pages_protected"] >= 1


def test_invalidate_gpa_drops_every_leaf_on_that_frame_in_every_tree():
    vm, gt, vcpu, sp = setup()
    gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_U | PTE_A)
    gt.map(0x2000, GPA_BASE + 0x1000, PTE_R | PTE_U | PTE_A)          # an alias
    gt.map(0x3000, GPA_BASE + 0x2000, PTE_R | PTE_U | PTE_A)
    vcpu.csrs["mstatus"] = MS_SUM
    for priv in (0, 1):
        vcpu.priv = priv
        for gva in (0x1000, 0x2000, 0x3000):
            assert sp.handle_fault(vcpu, 13, gva).kind == "filled"
    old = vm.mem.hpa(GPA_BASE + 0x1000)
    vm.mem.page_map[1] = vm.frames.alloc(vm.id)                        # the host moves the page
    assert sp.invalidate_gpa(GPA_BASE + 0x1000) == 4
    for key in sp.roots:
        assert sorted(sp.roots[key].tree.leaves) == [3]
    sp.handle_fault(vcpu, 13, 0x2000)
    assert shadow_walk(sp, vcpu, 0x2000, "load").pa == vm.mem.hpa(GPA_BASE + 0x1000) != old


def test_a_guest_spraying_its_address_space_cannot_exhaust_host_frames():
    vm, gt, vcpu, sp = setup(max_roots=2)
    sp.max_tables = 12
    for i in range(40):                  # 1 GiB pages all over the address space
        gt.map(i << 30, GPA_BASE, PTE_R | PTE_A, level=2)
    for i in range(40):
        gva = (i << 30) + (i % 8) * 0x1_1000
        assert sp.handle_fault(vcpu, 13, gva).kind == "filled"
        assert shadow_walk(sp, vcpu, gva, "load").pa == vm.mem.hpa(GPA_BASE + (gva & 0x3FFF_FFFF))
        assert len(vm.frames.frames_of(FrameAllocator.SHADOW)) <= 12
        # the trees' running count of their table frames is the sum it stands for
        assert sp._table_count[0] == sum(len(r.tree.tables) for r in sp.roots.values()) \
            == len(vm.frames.frames_of(FrameAllocator.SHADOW)) == sp.max_tables - sp.table_room()
    assert sp.counters["recycles"] >= 6 and vm.trace.count(SHADOW, S.RECYCLE) == sp.counters["recycles"]


def test_when_the_host_runs_out_of_frames_the_trees_are_recycled():
    vm, gt, vcpu, sp = setup(nframes=48)           # 32 frames for the host to hand out
    for i in range(12):
        gt.map(i << 30, GPA_BASE, PTE_R | PTE_A, level=2)
    while vm.frames.free_count > 6:                # somebody else takes almost everything
        vm.frames.alloc(7)
    for i in range(12):
        assert sp.handle_fault(vcpu, 13, i << 30).kind == "filled"
    assert sp.counters["recycles"] >= 1


def test_reset_gives_every_frame_back():
    vm, gt, vcpu, sp = setup()
    gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_A)
    before = len(vm.frames.frames_of(FrameAllocator.SHADOW))
    for priv in (0, 1, 3):
        vcpu.priv = priv
        sp.handle_fault(vcpu, 13, 0x1000 if priv < 3 else GPA_BASE)
    assert len(vm.frames.frames_of(FrameAllocator.SHADOW)) > before == 0
    assert sp._table_count[0] == len(vm.frames.frames_of(FrameAllocator.SHADOW))
    sp.reset()
    assert len(vm.frames.frames_of(FrameAllocator.SHADOW)) == 0 and not sp.roots
    assert sp._table_count[0] == 0 and sp.table_room() == sp.max_tables
    assert not sp._deps and not sp._pt_refs and not sp._by_target


# --- trace and views ------------------------------------------------------------------------------

def test_every_event_is_a_typed_shadow_record():
    vm, gt, vcpu, sp = setup()
    gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_W | PTE_A)
    sp.handle_fault(vcpu, 13, 0x1000)
    sp.handle_fault(vcpu, 15, 0x1000)
    sp.handle_fault(vcpu, 13, 0x9000)
    sp.sfence(vcpu, 0x1000, None)
    rec = vm.trace.records(SHADOW)
    assert list(rec["cause"]) == [S.ROOT_BUILD, S.FILL, S.DIRTY, S.GUEST_FAULT, S.SFENCE]
    assert rec["tval"][1] == 0x1000 and rec["insn"][1] == (GPA_BASE + 0x1000) >> 12
    assert rec["insn"][3] == 13 and rec["insn"][4] == 1         # cause; leaves dropped
    assert set(vm.trace.names) >= {"shadow.fill", "shadow.sfence"}


def test_side_by_side_shows_lazy_fills_and_stale_leaves():
    vm, gt, vcpu, sp = setup()
    slot = gt.map(0x1000, GPA_BASE + 0x1000, PTE_R | PTE_A)
    gt.map(0x2000, GPA_BASE + 0x2000, PTE_R | PTE_A)
    sp.handle_fault(vcpu, 13, 0x1000)
    key = sp.key_for(vcpu)
    rows = side_by_side(sp, key)
    assert [(r.guest.va, len(r.shadow), r.stale) for r in rows] == [(0x1000, 1, False), (0x2000, 0, False)]
    assert rows[0].shadow[0].pa == vm.mem.hpa(GPA_BASE + 0x1000)
    vm.mem.write64(slot, sv39.make_pte(GPA_BASE + 0x5000, PTE_V | PTE_R | PTE_A))   # no sfence
    rows = side_by_side(sp, key)
    assert [(r.gva, r.guest is None, r.stale) for r in rows][:2] == [(0x1000, False, False), (0x1000, True, True)]
    assert "STALE" in describe(sp, key)
    sp.sfence(vcpu, 0x1000, None)
    assert not any(r.stale for r in side_by_side(sp, key))
