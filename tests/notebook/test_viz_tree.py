"""The page-table tree picture against the reference enumerator (sv39.mappings) and walker."""
from __future__ import annotations

import random

from nb_kernels import require

require("anywidget")

from vmlab import sv39                                        # noqa: E402
from vmlab.viz.pagetable import ROWS, PageTableTree, count, table_reader  # noqa: E402

V, R, W, X, A, D = sv39.PTE_V, sv39.PTE_R, sv39.PTE_W, sv39.PTE_X, sv39.PTE_A, sv39.PTE_D


class Tables:
    """Page tables in a dict, built with a map_page like the one lab 02 has students write."""

    def __init__(self):
        self.mem, self.next = {}, 0x8100_0000
        self.root = self.alloc()

    def alloc(self) -> int:
        self.next += 4096
        return self.next

    def read64(self, pa):
        return self.mem.get(pa, 0) if 0x8000_0000 <= pa < 0x9000_0000 else None

    def map(self, va: int, pa: int, flags: int, level: int = 0) -> None:
        table = self.root
        for lv in range(2, level, -1):
            slot = table + 8 * sv39.vpn(va, lv)
            if not self.mem.get(slot, 0) & V:
                self.mem[slot] = sv39.make_pte(self.alloc(), V)
            table = sv39.pte_ppn(self.mem[slot]) << 12
        self.mem[table + 8 * sv39.vpn(va, level)] = sv39.make_pte(pa, flags | V)


def random_tables(rng: random.Random, n: int) -> Tables:
    t = Tables()
    for _ in range(n):
        level = rng.choice([0, 0, 0, 0, 1, 2])
        va = rng.getrandbits(39) & ~((1 << (12 + 9 * level)) - 1)
        pa = 0x8000_0000 + (rng.getrandbits(28) & ~((1 << (12 + 9 * level)) - 1))
        t.map(va, pa, rng.choice([R, R | W, R | X, X, R | W | X]) | rng.choice([0, A, A | D]), level)
    return t


def leaf_rows(scene: dict) -> dict:
    return {s["id"]: s for s in scene["shapes"] if s["id"].startswith("row-") and "leaf" in s["cls"]}


def test_every_drawn_leaf_is_a_mapping_and_all_of_them_when_opened():
    for seed in range(6):
        t = random_tables(random.Random(seed), 60)
        view = PageTableTree(t.read64, t.root)
        maps = list(sv39.mappings(t.read64, t.root))
        assert view.leaves == len(maps)
        by_slot = {m.pte_pa: m for m in maps}
        for sid, s in leaf_rows(view.scene).items():
            _, table, index = sid.split("-")
            m = by_slot[int(table, 16) + 8 * int(index)]
            assert f"{m.va:#x} → {m.pa:#x}" in s["label"] and m.flags in s["label"]
            assert ("super" in s["cls"]) == (m.level > 0)
            assert {0: " 4K ", 1: " 2M ", 2: " 1G "}[m.level] in s["label"]
        # open everything: the picture then lists exactly the reference's mappings
        for _ in range(3):
            for sh in view.scene["shapes"]:
                if sh.get("click", {}).get("type") == "more":
                    view.shown[sh["click"]["table"]] = 512
                elif sh["id"].startswith("row-") and "table" in sh["cls"].split():
                    view.expanded.add(sh["click"]["table"])
            view.refresh()
        assert len(leaf_rows(view.scene)) == len(maps)


def test_find_marks_the_path_of_the_reference_walk():
    t = random_tables(random.Random(7), 80)
    view = PageTableTree(t.read64, t.root)
    target = list(sv39.mappings(t.read64, t.root))[-1]
    w = view.find(target.va + 0x10)
    assert w.ok and w.pa == target.pa + 0x10
    found = sorted(s["id"] for s in view.scene["shapes"] if "found" in s["cls"].split())
    assert found == sorted(f"row-{st.table_pa:x}-{st.index}" for st in w.steps)


def test_ten_thousand_entries_open_as_a_small_picture():
    t = Tables()
    for i in range(10_000):
        t.map(0x4000_0000 + 4096 * i, 0x8800_0000 + 4096 * i, R | W | A)
    t.map(0xC000_0000, 0x8000_0000, R | X, level=2)
    view = PageTableTree(t.read64, t.root)
    assert (view.leaves, view.valid) == (10_001, 10_001 + 1 + 20)   # + L2 -> L1, L1 -> 20 L0
    assert "10,022 valid entries" in view.summary
    assert len(view.scene["shapes"]) < 400                       # summarised, not listed
    more = [s for s in view.scene["shapes"] if s["id"].startswith("more-")]
    labels = {s["label"].split(",")[0] for s in more}
    assert f"… {20 - ROWS} more" in labels and f"… {512 - ROWS} more" in labels
    # redrawn live (by a RunControl), a tree this big skips turns rather than slow the guest
    before = view.updates
    view.live_refresh()
    view.live_refresh()
    assert view.updates == before + 1
    collapsed = next(s["click"]["table"] for s in view.scene["shapes"]
                     if s["id"].startswith("row-") and "▾" in s["label"])
    view.toggle(collapsed)
    assert f"table-{collapsed:x}" not in {s["id"] for s in view.scene["shapes"]}


def test_counting_stops_on_a_hostile_tree():
    """Every root slot points at the root itself: the count is bounded, and says so."""
    mem = {0x8000_0000 + 8 * i: sv39.make_pte(0x8000_0000, V) for i in range(512)}
    valid, leaves, complete = count(table_reader(lambda pa: mem.get(pa, 0)), 0x8000_0000)
    assert not complete and leaves == 0 and valid > 0
