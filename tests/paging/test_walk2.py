"""The reference two-stage walker (``vmlab.sv39.walk2``): rules of the spec on hand-built
tables, then thousands of random two-stage trees walked by it and by the machine's jitted
MMU (``walk_guest``) on the same RAM: same host address or fault, same GPA reported, same
count of memory references, the same A/D bits written."""
from __future__ import annotations

import random

import numpy as np
import pytest

from twostage_trees import G_ROOT, RAM_BASE, TwoStageTrees, ram_io
from vmlab import sv39
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.mmu import guest_context, walk_guest
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, make_pte

LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
RAM_SIZE = 4 << 20
ACC = {"fetch": L.ACC_FETCH, "load": L.ACC_LOAD, "store": L.ACC_STORE}


class Words:
    """A sparse host memory of 8-byte words (RAM: 16 MiB at 0x8000_0000)."""

    def __init__(self):
        self.words: dict[int, int] = {}

    def read64(self, hpa):
        return self.words.get(hpa, 0) if RAM_BASE <= hpa < RAM_BASE + (16 << 20) else None

    def write64(self, hpa, value):
        self.words[hpa] = value

    def set(self, table, index, pte):
        self.words[table + 8 * index] = pte


G_L1, G_L0 = RAM_BASE + 0x10000, RAM_BASE + 0x11000
VS_ROOT, VS_L1, VS_L0 = RAM_BASE + 0x20000, RAM_BASE + 0x21000, RAM_BASE + 0x22000
DATA_GPA = RAM_BASE + 0x30000
GVA = 0x4000_1238                   # VPN[2] = 1, VPN[1] = 0, VPN[0] = 1
HGATP = sv39.make_hgatp(G_ROOT, vmid=1)
VSATP = sv39.make_satp(VS_ROOT)


def g_identity(mem: Words, level: int) -> None:
    """The G stage maps guest RAM 1:1 (the first 2 MiB) with leaves at ``level``."""
    if level == 2:
        mem.set(G_ROOT, 2, make_pte(RAM_BASE, LEAF | PTE_U))
        return
    mem.set(G_ROOT, 2, make_pte(G_L1, PTE_V))
    if level == 1:
        mem.set(G_L1, 0, make_pte(RAM_BASE, LEAF | PTE_U))
        return
    mem.set(G_L1, 0, make_pte(G_L0, PTE_V))
    for i in range(512):
        mem.set(G_L0, i, make_pte(RAM_BASE + 4096 * i, LEAF | PTE_U))


def vs_map(mem: Words, level: int, flags: int = LEAF) -> None:
    """The VS stage maps GVA's page to DATA_GPA with a leaf at ``level`` (a superpage: to
    guest RAM's start)."""
    if level == 2:
        mem.set(VS_ROOT, 1, make_pte(RAM_BASE, flags))
        return
    mem.set(VS_ROOT, 1, make_pte(VS_L1, PTE_V))
    if level == 1:
        mem.set(VS_L1, 0, make_pte(RAM_BASE, flags))
        return
    mem.set(VS_L1, 0, make_pte(VS_L0, PTE_V))
    mem.set(VS_L0, 1, make_pte(DATA_GPA, flags))


@pytest.mark.parametrize("g_level, vs_level, refs", [(0, 0, 15), (1, 0, 11), (2, 0, 7),
                                                     (1, 1, 8), (2, 2, 3), (0, 2, 7)])
def test_reference_counts(g_level, vs_level, refs):
    """(G reads + 1) per VS level, then the G reads of the data: 15 at most."""
    mem = Words()
    g_identity(mem, g_level)
    vs_map(mem, vs_level)
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "load")
    assert w.ok, w.reason
    assert len(w.refs) == refs
    assert [r.n for r in w.refs] == list(range(1, refs + 1))
    stages = "".join("G" if r.stage == "G" else "V" for r in w.refs)
    g = 3 - g_level
    assert stages == ("G" * g + "V") * (3 - vs_level) + "G" * g
    assert w.hpa == w.gpa                 # the G stage is the identity on RAM
    assert w.gpa == (DATA_GPA + 0x238 if vs_level == 0 else
                     RAM_BASE + (GVA & ((1 << (12 + 9 * vs_level)) - 1)))


def test_vsatp_bare_leaves_only_the_g_stage():
    mem = Words()
    g_identity(mem, 0)
    w = sv39.walk2(mem.read64, 0, HGATP, RAM_BASE + 0x1238, "store")
    assert w.ok and w.gpa == w.hpa == RAM_BASE + 0x1238 and len(w.refs) == 3 and not w.vs_steps


def test_guest_page_fault_in_a_vs_table_read_reports_the_pte_gpa():
    """The G stage has no entry for the VS level-1 table: a guest-page fault of the access's
    kind (load: 21), reporting the PTE's own guest-physical address."""
    mem = Words()
    g_identity(mem, 0)
    vs_map(mem, 0)
    mem.set(G_L0, (VS_L1 - RAM_BASE) >> 12, 0)
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "load")
    assert w.fault == 21 and w.fault_gpa == VS_L1 + 8 * 0 and w.implicit
    assert len(w.refs) == 4 + 3               # the root's G walk + PTE, then G reads to the hole
    assert w.vs_steps[-1].pte is None and "not valid" in w.reason


def test_g_stage_leaf_without_u_and_vs_table_without_r():
    mem = Words()
    g_identity(mem, 0)
    vs_map(mem, 0)
    mem.set(G_L0, (DATA_GPA - RAM_BASE) >> 12, make_pte(DATA_GPA, LEAF))          # no U
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "store")
    assert w.fault == 23 and w.fault_gpa == DATA_GPA + 0x238 and "without U" in w.reason
    assert not w.implicit                       # the data's own G walk: an explicit access
    mem.set(G_L0, (VS_L0 - RAM_BASE) >> 12, make_pte(VS_L0, PTE_V | PTE_X | PTE_U))  # X only
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "fetch")
    assert w.fault == 20 and w.fault_gpa == VS_L0 + 8 and "without R" in w.reason and w.implicit


def test_vs_stage_faults_are_page_faults():
    mem = Words()
    g_identity(mem, 0)
    vs_map(mem, 0, LEAF & ~PTE_W)
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "store")
    assert w.fault == 15 and w.fault_gpa is None and len(w.refs) == 12   # no final G walk
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA | 1 << 50, "load")
    assert w.fault == 13 and w.refs == []
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "load", priv="U")
    assert w.fault == 13 and "without U" in w.reason


def test_a_and_d_set_at_both_stages():
    mem = Words()
    g_identity(mem, 0)
    vs_map(mem, 0, LEAF & ~(PTE_A | PTE_D))
    data_slot = G_L0 + 8 * ((DATA_GPA - RAM_BASE) >> 12)
    mem.words[data_slot] &= ~(PTE_A | PTE_D)
    w = sv39.walk2(mem.read64, VSATP, HGATP, GVA, "store", write64=mem.write64)
    assert w.ok
    assert mem.words[VS_L0 + 8] & (PTE_A | PTE_D) == PTE_A | PTE_D
    assert mem.words[data_slot] & (PTE_A | PTE_D) == PTE_A | PTE_D


# --- against the machine's jitted walk -----------------------------------------------------

def jitted(m: Machine, trees: TwoStageTrees, gva: int, access: str, priv: str, sum_: bool,
           mxr: bool, gmxr: bool):
    """The machine's walk_guest on its own RAM: (page or -cause-1, level, refs, fault GPA)."""
    ctl = m.ctl
    ctl[L.C_WALK_REFS] = 0
    ctl[L.C_FAULT_GPA] = -1
    # (as the hart does: the VS stage sees vsstatus.MXR | mstatus.MXR, the G stage only the latter)
    ctx = guest_context(7, 3, L.PRIV_U if priv == "U" else L.PRIV_S, sum_, mxr or gmxr, gmxr, False)
    page, level, _ = walk_guest(m.mem, ctl, i64(trees.vsatp), i64(trees.hgatp), i64(gva),
                                ACC[access], ctx)
    return int(page), int(level), int(ctl[L.C_WALK_REFS]), int(ctl[L.C_FAULT_GPA])


@pytest.mark.parametrize("seed", range(4))
def test_random_trees_against_the_jitted_mmu(seed):
    rng = random.Random(seed)
    m = Machine(ram_size=RAM_SIZE)
    trees = TwoStageTrees(m, rng, RAM_SIZE)
    if seed == 3:
        trees.vsatp = 0                       # Bare: only the G stage
    outcomes, lengths = {}, set()
    for _ in range(1500):
        gva = trees.gva()
        trees.grow(gva)
        access = rng.choice(["fetch", "load", "store"])
        priv, sum_, mxr, gmxr = rng.choice("SU"), rng.random() < 0.5, rng.random() < 0.3, rng.random() < 0.3
        before = m.mem.copy()
        copy = Machine(ram_size=RAM_SIZE, ram=before.copy())
        read64, write64 = ram_io(copy, RAM_SIZE)
        w = sv39.walk2(read64, trees.vsatp, trees.hgatp, gva, access, priv=priv,
                       sum=sum_, mxr=mxr or gmxr, gmxr=gmxr, write64=write64)
        page, level, refs, fault_gpa = jitted(m, trees, gva, access, priv, sum_, mxr, gmxr)
        where = f"gva {gva:#x} {access} {priv} sum={sum_} mxr={mxr} gmxr={gmxr}: {w.reason}"
        if w.ok:
            assert page == w.hpa & ~0xFFF, where
            assert level == (w.level or 0), where
        else:
            assert page == -w.fault - 1, where
            if w.fault_gpa is not None:
                assert fault_gpa & ((1 << 64) - 1) == w.fault_gpa, where
        assert refs == len(w.refs), where
        assert np.array_equal(m.mem, copy.mem), where        # the same A/D bits written
        outcomes[w.fault] = outcomes.get(w.fault, 0) + 1
        lengths.add(len(w.refs))
    # the random trees reach every outcome: success, page, guest-page and access faults
    kinds = {None, 12, 13, 15, 20, 21, 23} if seed != 3 else {None, 20, 21, 23}
    assert kinds <= set(outcomes), outcomes
    assert outcomes[None] >= 100 and max(lengths) >= (12 if seed != 3 else 3), str(sorted(lengths))
