"""The Sv39 page-table tree under one root, drawn as boxes and arrows.

Each table is a box listing its *valid* entries only (a table is 512 slots, usually almost
all empty); an entry that points to a next-level table has an arrow to that table's box,
a leaf shows the virtual range it maps, the frame and its flags, and superpages (2 MiB at
level 1, 1 GiB at level 2) are marked.  A real kernel's tree has thousands of entries, so
the picture stays small on purpose:

- a table box lists at most :data:`ROWS` entries, then one summary row ("… 497 more,
  0x4000_0000 – 0x7fff_ffff"); clicking it shows more;
- a table is expanded (its children drawn) only while the picture has room
  (:data:`BUDGET` rows in all); the others show "▸ table (N valid)" and expand on a click;
- :meth:`PageTableTree.find` (or the search box) expands the path to one address and
  marks it.

Reading goes through a ``read64(pa)`` function (or a Machine's RAM, a whole table at a
time), so the same view shows a guest's tables, a hypervisor's shadow tables, or tables a
student builds in a ``dict``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import traitlets

from vmlab import sv39
from vmlab.viz._base import Widget, reader, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import legend

ROWS = 12            #: entries listed per table box before the summary row
BUDGET = 240         #: rows drawn in all before further tables stay collapsed
MAX_TABLES = 4096    #: tables read to count leaves (a hostile tree could have 262,657)
BOX_W, ROW_H, COL_GAP = 330, 18, 36
SIZE = {0: "4K", 1: "2M", 2: "1G"}


def size_text(level: int) -> str:
    return {0: "4 KiB", 1: "2 MiB", 2: "1 GiB"}[level]


def table_reader(source):
    """``read_table(pa) -> list of 512 PTEs`` (None: not in memory), a Machine's RAM read
    4 KiB at a time -- 512 separate reads would make a big tree slow to open."""
    read64 = reader(source)
    if hasattr(source, "read_mem"):
        def read_table(pa: int):
            try:
                return np.frombuffer(source.read_mem(pa, 4096), dtype="<u8").tolist()
            except Exception:
                return None
        return read_table

    def read_table(pa: int):
        words = [read64(pa + 8 * i) for i in range(512)]
        return None if words[0] is None else [w or 0 for w in words]
    return read_table


@dataclass
class Entry:
    """One valid PTE, where it is and what it maps."""

    index: int
    pte: int
    level: int
    va: int                       #: the first virtual address it covers (canonical)

    @property
    def leaf(self) -> bool:
        return bool(self.pte & (sv39.PTE_R | sv39.PTE_W | sv39.PTE_X))

    @property
    def target(self) -> int:
        return sv39.pte_ppn(self.pte) << 12


@dataclass
class Table:
    pa: int
    level: int
    va: int
    entries: list[Entry] = field(default_factory=list)
    missing: bool = False         #: not in memory


def read_tree_table(read_table, pa: int, level: int, va_base: int) -> Table:
    words = read_table(pa)
    t = Table(pa, level, sv39.canonical_va(va_base), missing=words is None)
    for i, pte in enumerate(words or ()):
        if pte & sv39.PTE_V:
            t.entries.append(Entry(i, pte, level, sv39.canonical_va(va_base | i << (12 + 9 * level))))
    return t


def count(read_table, root_pa: int) -> tuple[int, int, bool]:
    """(valid entries, leaves, complete?) under ``root_pa``, reading at most MAX_TABLES tables."""
    todo, valid, leaves, tables = [(root_pa, 2)], 0, 0, 0
    while todo and tables < MAX_TABLES:
        pa, level = todo.pop()
        tables += 1
        t = read_tree_table(read_table, pa, level, 0)
        valid += len(t.entries)
        for e in t.entries:
            if e.leaf:
                leaves += 1
            elif level:
                todo.append((e.target, level - 1))
    return valid, leaves, not todo


class TreeLayout:
    """Places the table boxes: one column per level, children below their parent row."""

    def __init__(self, read_table, expanded: set, shown: dict, found: dict):
        self.read_table, self.expanded, self.shown, self.found = read_table, expanded, shown, found
        self.scene = Scene(legend=legend("table", "leaf", "flash"))
        self.cursor = [0, 0, 0, 0]          # next free y in each column
        self.rows = 0

    def draw(self, pa: int, level: int, va: int, y: int) -> int:
        """Draw the table at ``pa`` at y (or lower); returns the y of its header."""
        depth = 2 - level
        x, y = depth * (BOX_W + COL_GAP), max(y, self.cursor[depth])
        t = read_tree_table(self.read_table, pa, level, va)
        s = self.scene
        head = f"L{level} table @ {pa:#x} · {len(t.entries)} valid"
        s.box(f"table-{pa:x}", x, y, BOX_W, ROW_H + 2, "tablehead", head + (" (not in memory)" if t.missing else ""),
              click={"type": "toggle", "table": pa}, title="click: collapse", align="start")
        rows = self._rows(t)
        ry = y + ROW_H + 2
        for e in rows:
            self._row(t, e, x, ry)
            ry += ROW_H
        hidden = len(t.entries) - len(rows)
        if hidden > 0:
            last = t.entries[-1]
            s.box(f"more-{pa:x}", x, ry, BOX_W, ROW_H, "invalid",
                  f"… {hidden} more, up to {last.va:#x} (click)",
                  click={"type": "more", "table": pa}, align="start")
            ry += ROW_H
        self.cursor[depth] = ry + 12
        self.rows += len(rows)
        for e, row_y in zip(rows, range(y + ROW_H + 2, ry, ROW_H)):
            if not e.leaf and level and e.target in self.expanded:
                child_y = self.draw(e.target, level - 1, e.va & ((1 << 39) - 1), row_y)
                s.arrow(f"edge-{pa:x}-{e.index}", x + BOX_W, row_y + ROW_H // 2,
                        x + BOX_W + COL_GAP, child_y + ROW_H // 2, "pointer", bend=0.1)
        return y

    def _rows(self, t: Table) -> list[Entry]:
        """The entries listed: the first ``shown`` ones, plus the one a search found."""
        n = self.shown.get(t.pa, ROWS)
        rows = t.entries[:n]
        want = self.found.get(t.pa)
        if want is not None and all(e.index != want for e in rows):
            rows = rows[:-1] + [e for e in t.entries if e.index == want]
        return rows

    def _row(self, t: Table, e: Entry, x: int, y: int) -> None:
        found = " found" if self.found.get(t.pa) == e.index else ""
        flags = sv39.flag_string(e.pte)
        if e.leaf:
            text = f"[{e.index:3}] {e.va:#x} → {e.target:#x} {SIZE[e.level]} {flags}"
            cls = "leaf" + (" super" if e.level else "")
            title = f"{size_text(e.level)} page{' (superpage)' if e.level else ''}: PTE {e.pte:#018x}"
        elif t.level == 0:
            text, cls, title = f"[{e.index:3}] {e.pte:#018x}: no R/W/X at level 0", "fault", "a walk faults here"
        else:
            mark = "▾" if e.target in self.expanded else "▸"
            text = f"[{e.index:3}] {mark} {e.va:#x}… → L{t.level - 1} @ {e.target:#x}"
            cls, title = "table", f"PTE {e.pte:#018x}: click to expand or collapse"
        click = None if e.leaf else {"type": "toggle", "table": e.target}
        self.scene.box(f"row-{t.pa:x}-{e.index}", x, y, BOX_W, ROW_H, cls + found, text,
                       title=title, click=click, align="start")


def auto_expand(read_table, root_pa: int, budget: int = BUDGET) -> set:
    """Tables to open at first: breadth first from the root while the rows fit the budget."""
    expanded, queue, rows = {root_pa}, [(root_pa, 2)], 0
    while queue:
        pa, level = queue.pop(0)
        t = read_tree_table(read_table, pa, level, 0)
        rows += min(len(t.entries), ROWS) + 1
        if rows > budget:
            break
        expanded.add(pa)
        queue += [(e.target, level - 1) for e in t.entries[:ROWS] if not e.leaf and level]
    return expanded


class PageTableTree(Widget):
    """The tree of valid Sv39 entries under a root table, drawn; collapsible, searchable.

    ``source`` is a Machine (its RAM is read) or a ``read64(pa)`` function; ``root`` is the
    root table's physical address, or pass ``satp=`` to take it from a satp value.
    ``refresh()`` re-reads the tables -- after a run, the A and D bits the hardware set
    show, and what changed flashes.
    """

    _esm = scene_esm("pagetable")
    scene = traitlets.Dict({}).tag(sync=True)
    leaves = traitlets.Int(0).tag(sync=True)
    valid = traitlets.Int(0).tag(sync=True)
    root = traitlets.Unicode("").tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source, root: int | None = None, *, satp: int | None = None,
                 title: str = "", **kwargs):
        super().__init__(**kwargs)
        self.read64, self.read_table = reader(source), table_reader(source)
        if root is None:
            if satp is None:
                raise ValueError("give the root table's address or a satp value")
            root = sv39.satp_fields(satp)[2] << 12
        self.root_pa, self.title = root, title
        self.expanded = auto_expand(self.read_table, root)
        self.shown: dict[int, int] = {}
        self.found: dict[int, int] = {}
        self.on_msg(self._on_msg)
        self.refresh()

    def refresh(self) -> None:
        layout = TreeLayout(self.read_table, self.expanded, self.shown, self.found)
        layout.draw(self.root_pa, 2, 0, 0)
        valid, leaves, complete = count(self.read_table, self.root_pa)
        more = "" if complete else "+"
        with self.hold_sync():
            self.scene = layout.scene.to_json()
            self.leaves, self.valid, self.root = leaves, valid, f"{self.root_pa:#x}"
            self.summary = (f"{self.title + ': ' if self.title else ''}root {self.root_pa:#x} · "
                            f"{valid:,}{more} valid entries · {leaves:,}{more} mappings")
            self.updates += 1

    def find(self, va: int) -> sv39.Walk:
        """Open the path to ``va`` (only that path, so it fits on the screen) and mark each
        entry on it (the search box does this)."""
        w = sv39.walk(self.read64, sv39.make_satp(self.root_pa), va, "load")
        self.found = {s.table_pa: s.index for s in w.steps}
        self.expanded = {self.root_pa} | {sv39.pte_ppn(s.pte) << 12 for s in w.steps if not s.is_leaf}
        self.refresh()
        return w

    def toggle(self, table_pa: int) -> None:
        if table_pa in self.expanded and table_pa != self.root_pa:
            self.expanded.discard(table_pa)
        else:
            self.expanded.add(table_pa)
        self.refresh()

    def mappings(self) -> list[sv39.Mapping]:
        return list(sv39.mappings(self.read64, self.root_pa))

    def text(self, limit: int = 40) -> str:
        """The mappings as lines of text (terminals, nbconvert to text)."""
        lines = [self.summary]
        for n, m in enumerate(sv39.mappings(self.read64, self.root_pa)):
            if n == limit:
                lines.append(f"  … ({self.leaves - limit:,} more)")
                break
            lines.append(f"  {m.va:#018x} → {m.pa:#x} {size_text(m.level):>5} {m.flags}")
        return "\n".join(lines)

    def _on_msg(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind == "toggle":
            self.toggle(int(content.get("table", 0)))
        elif kind == "more":
            pa = int(content.get("table", 0))
            self.shown[pa] = self.shown.get(pa, ROWS) + 64
            self.refresh()
        elif kind == "find":
            try:
                self.find(int(str(content.get("va", "0")).replace("_", ""), 0))
            except ValueError:
                pass
