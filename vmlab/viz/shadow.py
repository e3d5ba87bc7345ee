"""Guest tables beside the hypervisor's shadow tables, drawn as three columns of ranges.

Under trap-and-emulate the guest writes page tables that map guest-virtual to
guest-*physical* addresses, but the real MMU needs host-physical ones.  The hypervisor
(:mod:`vmlab.hv.shadow`) composes the two maps into *shadow* tables, lazily::

      gva ──(the guest's tables)──▶ gpa ──(the hypervisor's map)──▶ hpa
       └────────────(the shadow tables, what the MMU walks)─────────▶┘

One row per guest mapping: its gva range, the gpa it names, the hpa backing that gpa, and
the shadow arrow -- solid when the hypervisor has filled the shadow entry, dashed while
the guest has not touched the page yet.  Where the shadow allows *less* than the guest
(a clean page mapped read-only until its first store, so that D can be set; a guest page
table write-protected), the hpa box is amber and says why.  Rows come from
:func:`vmlab.hv.shadow_view.side_by_side`, so the widget reads exactly what the
hypervisor keeps, and what changed since the last refresh flashes.
"""
from __future__ import annotations

import traitlets

from vmlab import sv39
from vmlab.hv.shadow_view import describe, side_by_side
from vmlab.viz._base import Widget, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import legend, vm_colour

ROWS = 150                     #: rows drawn (the rest are counted)
GVA_X, GPA_X, HPA_X, WHY_X = 0, 330, 600, 860
BOX_W, ROW_H, TOP = 230, 28, 44
PERMS = (("load", sv39.PTE_R, "R"), ("store", sv39.PTE_W, "W"), ("fetch", sv39.PTE_X, "X"))


def tree_text(root) -> str:
    """A shadow tree named by what it was built for (the hypervisor's Root fields)."""
    if root.direct:
        return "direct (guest paging off: gva = gpa)"
    kind = "MPRV " if root.mprv else ""
    return (f"{kind}guest satp {root.guest_satp & (2**64 - 1):#x}, {root.priv}-mode"
            + (" +SUM" if root.sum else "") + (" +MXR" if root.mxr else "")
            + f" · ASID tag {root.tag}")


def narrowed(root, guest_pte: int, shadow_pte: int, write_protect: bool) -> tuple[str, str]:
    """(bits the shadow withholds, why) for one filled row; ("", "") when none are."""
    lost = ""
    for access, bit, letter in PERMS:
        if sv39.permits(guest_pte, access, priv=root.priv, sum=root.sum, mxr=root.mxr) \
                and not shadow_pte & bit:
            lost += letter
    if not lost:
        return "", ""
    if lost == "W" and not guest_pte & sv39.PTE_D:
        return lost, "W held back: clean page (D=0);\nthe first store traps, D is set"
    if write_protect and "W" in lost:
        return lost, "W held back: a guest page table,\nwrite-protected to see its updates"
    return lost, f"{lost} held back by the hypervisor"


def _size(level: int) -> str:
    return {0: "4K", 1: "2M", 2: "1G"}[level]


PIECES = 6                     #: 4 KiB pieces drawn under a guest superpage


def shadow_scene(sp, root, rows) -> tuple[Scene, dict]:
    """Draw ``rows`` (from side_by_side) of shadow tree ``root``; returns the scene and counts."""
    s = Scene(legend=legend("filled", "unfilled", "narrowed", "flash"))
    for x, words in ((GVA_X, "guest virtual (gva)"), (GPA_X, "guest physical (gpa)"),
                     (HPA_X, "host physical (hpa)")):
        s.box(f"head-{x}", x, 0, BOX_W, 22, "colhead", words)
    s.text("head-guest", GVA_X + BOX_W + 4, 36, "guest's tables", "vpn2")
    s.text("head-host", GPA_X + BOX_W - 36, 36, "hypervisor's map", "vpn1")
    s.text("head-shadow", HPA_X - 250, 36, "shadow tables ─▶", "vpn0")
    counts = {"filled": 0, "unfilled": 0, "narrowed": 0, "stale": 0}
    y, drawn = TOP, 0
    for row in rows:
        if drawn >= ROWS:
            s.text("more", 0, y + 14, f"… {len(rows) - drawn} more guest mappings", "muted")
            break
        y = _row(s, sp, root, row, y, counts)
        drawn += 1
    return s, counts


def _row(s: Scene, sp, root, row, y: int, counts: dict) -> int:
    """One guest mapping (and, under a superpage, its filled 4 KiB pieces); returns the next y."""
    g, key, h = row.guest, f"{row.gva:x}", ROW_H - 6
    if g is None:                       # a shadow leaf the guest's tables no longer back
        s.box(f"gva-{key}", GVA_X, y, BOX_W, h, "stale", f"{row.gva:#x} (guest PTE changed)", align="start")
        s.box(f"hpa-{key}", HPA_X, y, BOX_W, h, "stale", f"stale → {row.shadow[0].pa:#x}", align="start",
              title="dropped at the guest's next sfence.vma")
        s.arrow(f"shadow-{key}", GVA_X + BOX_W, y + h // 2, HPA_X, y + h // 2, "fault", bend=0.08)
        counts["stale"] += 1
        return y + ROW_H
    s.box(f"gva-{key}", GVA_X, y, BOX_W, h, "guest", f"{g.va:#x} {_size(g.level)} {g.flags}",
          align="start", title=f"guest PTE {g.pte:#018x} at gpa {g.pte_pa:#x}")
    s.box(f"gpa-{key}", GPA_X, y, BOX_W - 40, h, "guest", f"{g.pa:#x}" + (f" ({_size(g.level)})" if g.level else ""),
          align="start")
    s.arrow(f"guest-{key}", GVA_X + BOX_W, y + h // 2, GPA_X, y + h // 2, "guest")
    if g.level == 0:
        _target(s, sp, root, g, row.shadow[0] if row.shadow else None, key, y, counts)
        return y + ROW_H
    total = sv39.page_size(g.level) // 4096
    cls = "filled" if row.shadow else "unfilled"
    s.box(f"hpa-{key}", HPA_X, y, BOX_W, h, cls, f"{len(row.shadow)} of {total:,} 4K pieces filled",
          align="start", dash=not row.shadow, title="the shadow maps a guest superpage page by page")
    counts["filled" if row.shadow else "unfilled"] += 1
    for piece in row.shadow[:PIECES]:
        y += ROW_H
        pk = f"{piece.va:x}"
        s.box(f"gva-{pk}", GVA_X + 24, y, BOX_W - 24, h, "guest", f"{piece.va:#x} 4K piece", align="start")
        gpa = g.pa + (piece.va - g.va)
        s.box(f"gpa-{pk}", GPA_X + 24, y, BOX_W - 64, h, "guest", f"{gpa:#x}", align="start")
        s.arrow(f"guest-{pk}", GVA_X + BOX_W, y + h // 2, GPA_X + 24, y + h // 2, "guest")
        _target(s, sp, root, g, piece, pk, y, counts, gpa=gpa, count=False)
    if len(row.shadow) > PIECES:
        y += ROW_H
        s.text(f"pieces-{key}", GVA_X + 24, y + 12, f"… {len(row.shadow) - PIECES} more pieces filled", "muted")
    return y + ROW_H


def _target(s: Scene, sp, root, g, piece, key: str, y: int, counts: dict, *, gpa: int | None = None,
            count: bool = True) -> None:
    """The hpa box of one 4 KiB page: filled (maybe narrowed) or not yet; the two arrows to it."""
    h = ROW_H - 6
    gpa = g.pa if gpa is None else gpa
    hpa = sp.vm.mem.hpa(gpa, allocate=False)
    if hpa is not None:
        s.arrow(f"host-{key}", GPA_X + BOX_W - 40, y + h // 2, HPA_X, y + h // 2, "host")
    if piece is None:
        words = f"{hpa:#x} (not filled yet)" if hpa is not None else "(not backed, not filled)"
        s.box(f"hpa-{key}", HPA_X, y, BOX_W, h, "unfilled", words, dash=True, align="start",
              title="the guest has not touched this page since the tree was built")
        s.arrow(f"shadow-{key}", GVA_X + BOX_W - 30, y + h + 3, HPA_X + 12, y + h + 3, "muted", bend=0.01, under=True)
        counts["unfilled"] += count
        return
    lost, why = narrowed(root, g.pte, piece.pte, sp.write_protect)
    s.box(f"hpa-{key}", HPA_X, y, BOX_W, h, "filled" + (" narrowed" if lost else ""),
          f"{piece.pa:#x} {piece.flags}", align="start", title=f"shadow PTE {piece.pte:#018x}")
    # the composed map runs under the row, from the gva box straight to the hpa box
    s.arrow(f"shadow-{key}", GVA_X + BOX_W - 30, y + h + 3, HPA_X + 12, y + h + 3, "shadow", bend=0.01, under=True)
    counts["filled"] += count
    if lost:
        counts["narrowed"] += 1
        s.text(f"why-{key}", WHY_X, y + 8, why.replace("\n", " "), "narrowed")


class GuestVsShadow(Widget):
    """``GuestVsShadow(vm)``: pick a shadow tree; see gva → gpa → hpa and the shadow's gva → hpa."""

    _esm = scene_esm("shadow")
    trees = traitlets.List([]).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)
    scene = traitlets.Dict({}).tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    counts = traitlets.Dict({}).tag(sync=True)
    colour = traitlets.Unicode("").tag(sync=True)

    def __init__(self, vm, **kwargs):
        super().__init__(**kwargs)
        self.vm = vm
        self._roots: list = []
        self.on_msg(self._on_msg)
        self.refresh()

    def current(self):
        """The tree shown: the one picked, or else the busiest guest tree."""
        roots = list(self.vm.shadow.roots.values())
        if self._roots and self.selected < len(self._roots):
            picked = self._roots[self.selected]
            if any(r is picked for r in roots):
                return picked, roots
        paged = [r for r in roots if not r.direct]
        return (max(paged, key=lambda r: len(r.tree.leaves)) if paged else
                (roots[0] if roots else None)), roots

    def refresh(self) -> None:
        sp = self.vm.shadow
        root, roots = self.current()
        self._roots = roots
        rows = side_by_side(sp, root) if root is not None else []
        scene, counts = shadow_scene(sp, root, rows)
        with self.hold_sync():
            self.trees = [tree_text(r) for r in roots]
            self.selected = next((i for i, r in enumerate(roots) if r is root), 0)
            self.scene, self.counts = scene.to_json(), counts
            self.colour = vm_colour(getattr(self.vm, "id", 0))
            self.summary = (f"VM {getattr(self.vm, 'id', 0)} · {len(roots)} shadow trees "
                            f"({sp.strategy}) · this tree: {counts['filled']} filled, "
                            f"{counts['unfilled']} not yet, {counts['narrowed']} narrowed")
            self.updates += 1

    def text(self) -> str:
        root, _ = self.current()
        body = describe(self.vm.shadow, root, limit=30) if root is not None else "(no shadow trees yet)"
        return f"{self.summary}\n{body}"

    def show_tree(self, index: int) -> None:
        """Show the ``index``-th tree of :attr:`trees` (the drop-down does this); it stays
        shown while the guest runs, as long as the hypervisor keeps it."""
        if 0 <= index < len(self._roots):
            self.selected = index
            self.refresh()

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") == "tree":
            self.show_tree(int(content.get("index", 0)))
