"""The walk picture against the reference walker, on random page tables.

The picture is data (vmlab/viz/scene.py): boxes, arrows and labels with stable ids.  For
thousands of random walks -- valid and invalid PTEs, superpages (aligned or not), reserved
bits, W without R, U pages seen from S and U, PTEs outside memory, non-canonical addresses
-- every level the reference walker read must be drawn with the PTE it read, and nothing
else; the fault must be drawn at the level where it happened with the walker's reason; a
successful walk must end at the physical page and byte the walker computed.
"""
from __future__ import annotations

import random

import pytest

from nb_kernels import require

require("anywidget")

from vmlab import sv39                                          # noqa: E402
from vmlab.viz.walk import COL_X, SLOT_H, WalkView, col_x, walk_scene  # noqa: E402

RAM = (0x8000_0000, 0x8400_0000)          # memory the random tables live in; outside: None
FLAGS = [sv39.PTE_V, sv39.PTE_V | sv39.PTE_R, sv39.PTE_V | sv39.PTE_R | sv39.PTE_W,
         sv39.PTE_V | sv39.PTE_R | sv39.PTE_X, sv39.PTE_V | sv39.PTE_X, sv39.PTE_V | sv39.PTE_W,
         0, sv39.PTE_R]


class RandomTables:
    """A random three-level tree: each table slot the walks use gets a random PTE."""

    def __init__(self, rng: random.Random):
        self.rng, self.mem = rng, {}
        self.root = self._page()

    def _page(self) -> int:
        return self.rng.randrange(*RAM, 4096) if self.rng.random() < 0.97 else 0x1000_0000

    def read64(self, pa: int):
        if not RAM[0] <= pa < RAM[1]:
            return None                       # no memory there: the walk's access fault
        return self.mem.get(pa, 0)

    def populate(self, va: int) -> None:
        """Give the slots on ``va``'s path random contents (tables, leaves, junk)."""
        table = self.root
        for level in (2, 1, 0):
            pte_pa = table + 8 * sv39.vpn(va, level)
            if not RAM[0] <= pte_pa < RAM[1]:
                return
            if pte_pa not in self.mem:
                self.mem[pte_pa] = self._pte(level)
            pte = self.mem[pte_pa]
            if not pte & sv39.PTE_V or pte & 0xE:
                return
            table = sv39.pte_ppn(pte) << 12

    def _pte(self, level: int) -> int:
        r = self.rng
        flags = r.choice(FLAGS) | r.choice([0, sv39.PTE_U]) | r.choice([0, sv39.PTE_A, sv39.PTE_A | sv39.PTE_D])
        if level and r.random() < 0.5:
            flags = sv39.PTE_V                # a pointer to the next level
        pa = self._page()
        if level and flags & 0xE and r.random() < 0.7:   # a superpage, mostly aligned
            pa &= ~((1 << (12 + 9 * level)) - 1)
        pte = sv39.make_pte(pa, flags)
        if r.random() < 0.03:
            pte |= 1 << 60                    # a reserved bit
        return pte


def random_va(rng: random.Random) -> int:
    va = rng.getrandbits(39)
    if rng.random() < 0.5:
        va = sv39.canonical_va(va)
    if rng.random() < 0.08:
        va ^= 1 << rng.randrange(39, 64)       # not canonical any more
    return va


def check(scene, w: sv39.Walk, read64) -> None:
    shapes = {s["id"]: s for s in scene.shapes}
    # the address fields are the address's bits
    for level in (2, 1, 0):
        assert shapes[f"field-vpn{level}"]["label"] == format(sv39.vpn(w.va, level), "09b")
    assert shapes["field-offset"]["label"] == format(w.va & 0xFFF, "012b")
    accessed = len(w.steps) + (1 if w.fault in (1, 5, 7) else 0)
    drawn = sorted({int(i.split("-")[1]) for i in shapes if i.startswith("table-")}, reverse=True)
    assert drawn == [2, 1, 0][:accessed]
    for n, st in enumerate(w.steps, 1):
        slot = shapes[f"slot-{st.level}-{st.index}"]
        assert "used" in slot["cls"] and f"{st.pte:#018x}" in slot["label"] and slot["step"] == n
        assert f"{st.table_pa:#x}" in shapes[f"table-{st.level}"]["label"]
        arrow = shapes[f"arrow-vpn{st.level}"]
        assert (arrow["x2"], arrow["y2"]) == (slot["x"] - 2, slot["y"] + SLOT_H // 2)
        assert shapes[f"pte-{st.level}"]["label"] == f"PPN {sv39.pte_ppn(st.pte):#x}"
        lit = "".join(ch for ch in "VRWXUGAD" if "on" in shapes[f"flag-{st.level}-{ch}"]["cls"].split())
        assert lit == st.flags.replace("-", "")
    for sid, s in shapes.items():              # every slot shows the word really there
        if sid.startswith("slot-"):
            _, level, index = sid.split("-")
            table = next(st.table_pa for st in w.steps if st.level == int(level)) if any(
                st.level == int(level) for st in w.steps) else None
            if table is not None:
                pte = read64(table + 8 * int(index))
                assert s["label"].endswith(f"{pte:#018x}" if pte is not None else "not in memory")
    if w.ok:
        assert "fault" not in shapes and scene.steps == len(w.steps) + 1
        size = w.page_size
        assert f"@ {w.pa & ~(size - 1):#x}" in shapes["page"]["label"]
        assert f"= {w.pa:#x}" in shapes["byte-label"]["label"]
        leaf = shapes[f"slot-{w.leaf.level}-{w.leaf.index}"]
        assert shapes["arrow-page"]["y1"] == leaf["y"] + SLOT_H // 2
        assert f"physical {w.pa:#x}" in shapes["result"]["label"]
    else:
        fault = shapes["fault"]
        assert " ".join(fault["label"].split("\n")[2:]) == w.reason
        assert fault["label"].startswith(f"✗ fault {w.fault}\n(")
        assert fault["step"] == scene.steps
        if sv39.canonical(w.va):
            assert fault["x"] == col_x(2 - (accessed - 1)) and scene.steps == accessed
        else:
            assert fault["x"] == 0 and "fault" in shapes["field-sign"]["cls"]
        assert "page" not in shapes and f"fault {w.fault}" in shapes["result"]["label"]


@pytest.mark.parametrize("seed", range(8))
def test_walk_picture_matches_the_reference_walker(seed):
    rng = random.Random(seed)
    seen = {"ok": 0, "fault": 0, "super": 0, "access": 0, "noncanonical": 0}
    for _ in range(40):
        t = RandomTables(rng)
        satp = sv39.make_satp(t.root, asid=rng.randrange(1 << 16))
        for _ in range(12):
            va = random_va(rng)
            t.populate(va)
            access = rng.choice(["load", "store", "fetch"])
            priv, sum_, mxr = rng.choice("SU"), rng.random() < 0.5, rng.random() < 0.5
            w, scene = walk_scene(t.read64, satp, va, access, priv=priv, sum=sum_, mxr=mxr)
            ref = sv39.walk(t.read64, satp, va, access, priv=priv, sum=sum_, mxr=mxr)
            assert (w.pa, w.fault, w.reason, w.steps) == (ref.pa, ref.fault, ref.reason, ref.steps)
            check(scene, ref, t.read64)
            seen["ok" if ref.ok else "fault"] += 1
            seen["super"] += bool(ref.ok and ref.leaf.level)
            seen["access"] += ref.fault in (1, 5, 7)
            seen["noncanonical"] += not sv39.canonical(va)
    assert all(seen.values()), seen           # every kind of walk was drawn at least once


def test_untranslated_walk_draws_no_tables():
    w, scene = walk_scene(lambda pa: 0, 0, 0x8000_1234, "load")
    assert w.ok and w.pa == 0x8000_1234 and not scene.ids("table-") and scene.steps == 1
    assert "physical = virtual" in scene.get("result")["label"]


def test_walk_view_animates_a_new_address_and_follows_faults():
    t = RandomTables(random.Random(1))
    va = 0x4000_0000
    t.mem.clear()
    l1, l0, page = 0x8010_1000, 0x8010_2000, 0x8020_0000
    t.mem[t.root + 8 * sv39.vpn(va, 2)] = sv39.make_pte(l1, sv39.PTE_V)
    t.mem[l1 + 8 * sv39.vpn(va, 1)] = sv39.make_pte(l0, sv39.PTE_V)
    t.mem[l0] = sv39.make_pte(page, sv39.PTE_V | sv39.PTE_R | sv39.PTE_A)
    view = WalkView(t.read64, sv39.make_satp(t.root), va + 8)
    assert view.walk["ok"] and view.scene["steps"] == 4
    assert "physical 0x80200008" in view.text()
    view.show(va + 0x1000, "store")                        # the next page: not mapped
    assert not view.walk["ok"] and view.walk["fault"] == sv39.STORE_PAGE_FAULT
    assert view.scene["steps"] == 3 and "✗ fault 15" in view.text()
    assert "(Store/AMO page fault)" in next(s for s in view.scene["shapes"] if s["id"] == "fault")["label"]
    updates = view.updates
    view.refresh()                                         # nothing changed: nothing sent
    assert view.updates == updates
    t.mem[l0 + 8] = sv39.make_pte(page + 0x1000, sv39.PTE_V | sv39.PTE_R | sv39.PTE_W)
    view.refresh()                                         # the tables changed: walk again
    assert view.walk["ok"] and view.updates == updates + 1
    assert COL_X == (col_x(2), col_x(1), col_x(0))


FAULTING = """
        .equ CODE_VA, 0x40000000
_start: li t0, 3 << 11
        csrc mstatus, t0
        li t0, 1 << 11
        csrs mstatus, t0
        la t0, handler
        csrw mtvec, t0
        li t0, CODE_VA
        csrw mepc, t0
        csrw satp, a0
        sfence.vma
        mret
        .balign 4
handler: csrr t1, mepc                  # M-mode: skip the faulting instruction
        addi t1, t1, 4
        csrw mepc, t1
        mret
        .balign 4096
s_code: li t0, 0x40400000
        li t2, 0x1000
1:      ld a1, 0(t0)                    # a load page fault at a new page each time
        add t0, t0, t2
        sd a1, 0(t0)                    # and a store page fault
        j 1b
"""


def test_walk_view_follows_the_guests_page_faults():
    from vmlab.asm import assemble
    from vmlab.notebook.session import Session
    s = Session()
    p = assemble(FAULTING)
    s.load(p)
    m = s.machine
    root, l1, l0 = 0x8010_0000, 0x8010_1000, 0x8010_2000
    put = lambda pa, v: m.write_mem(pa, v.to_bytes(8, "little"))   # noqa: E731
    put(root + 8, sv39.make_pte(l1, sv39.PTE_V))
    put(l1, sv39.make_pte(l0, sv39.PTE_V))
    put(l0, sv39.make_pte(p.symbols["s_code"], sv39.PTE_V | sv39.PTE_R | sv39.PTE_X | sv39.PTE_A))
    satp = sv39.make_satp(root)
    m.pc, m.priv = p.entry, 3
    m.set_reg("a0", satp)
    view = WalkView(m, satp, 0x4000_0000, "fetch", follow="fault")
    assert view.walk["ok"]
    seen = []
    for _ in range(6):
        m.run(instructions=25)
        view.refresh()
        seen.append((view.walk["va"], view.walk["access"], view.walk["fault"]))
    faults = {(va, access) for va, access, _ in seen}
    assert len(faults) >= 3 and all(f in (13, 15) for _, _, f in seen)
    mtval = m.csr("mtval")
    assert view.walk["va"] == f"{mtval:#x}"                  # the newest fault is the one shown
    assert {a for _, a, _ in seen} == {"load", "store"}
    with pytest.raises(ValueError):
        WalkView(m, satp, follow="everything")
