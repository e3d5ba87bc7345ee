"""Guest tables and shadow tables side by side: what a widget draws to explain shadow paging.

For one cached shadow tree, each row pairs a guest leaf (gva -> gpa, read from guest RAM) with
the shadow leaves built from it so far (gva -> hpa, read back from host memory exactly as the
real MMU would see them).  A guest leaf with no shadow leaves has not been touched yet (fills
are lazy); a shadow leaf whose guest leaf is gone or changed is *stale* -- what the guest's
next sfence.vma (or, with write-protect, the trapped PTE write) removes.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from vmlab import sv39


@dataclass
class Row:
    """One guest leaf and its shadow leaves (or, with ``guest`` None, a stale shadow leaf)."""

    guest: sv39.Mapping | None
    shadow: list[sv39.Mapping] = field(default_factory=list)
    stale: bool = False      #: a shadow leaf that no longer agrees with the guest's tables

    @property
    def gva(self) -> int:
        return self.guest.va if self.guest is not None else self.shadow[0].va


def side_by_side(sp, root_or_key, limit: int = 4096) -> list[Row]:
    """Rows for one tree of ``sp`` (a ShadowPaging), in gva order.

    ``limit`` bounds how many guest leaves are listed: a hostile guest can build a tree with
    millions of them, and a view must stay quick.  The direct tree has no guest tables: every
    row is a shadow leaf alone.
    """
    root = sp.roots[root_or_key] if isinstance(root_or_key, tuple) else root_or_key
    shadow = sorted(root.tree.mappings(), key=lambda s: s.va)
    vas = [s.va for s in shadow]
    used: set[int] = set()
    rows = []
    if not root.direct:
        guest_root = sv39.satp_fields(root.guest_satp)[2] << 12
        for n, g in enumerate(sv39.mappings(sp.guest_read64, guest_root)):
            if n >= limit:
                break
            lo, hi = bisect.bisect_left(vas, g.va), bisect.bisect_left(vas, g.va + g.size)
            mine = [s for s in shadow[lo:hi] if _agrees(sp, g, s)]
            used.update(s.va for s in mine)
            rows.append(Row(g, mine))
    for s in shadow:
        if s.va not in used:
            rows.append(Row(None, [s], stale=not root.direct))
    return sorted(rows, key=lambda r: r.gva)


def _agrees(sp, g: sv39.Mapping, s: sv39.Mapping) -> bool:
    """Does shadow leaf ``s`` still point where guest leaf ``g`` says (via the gpa map)?"""
    gpa = g.pa + (s.va - g.va)
    hpa = sp.vm.mem.hpa(gpa, allocate=False)
    return hpa is not None and hpa == s.pa


def describe(sp, root_or_key, limit: int = 64) -> str:
    """A plain-text table of :func:`side_by_side`, for a notebook cell or a test failure."""
    lines = [f"{'gva':>18}  {'gpa':>12} {'guest':8}  {'hpa':>12} {'shadow':8}"]
    for row in side_by_side(sp, root_or_key)[:limit]:
        g = row.guest
        left = f"{g.va:#18x}  {g.pa:#12x} {g.flags:8}" if g else f"{row.gva:#18x}  {'-':>12} {'':8}"
        if not row.shadow:
            lines.append(left + "  (not filled yet)")
        for i, s in enumerate(row.shadow):
            note = "  STALE" if row.stale else ""
            lines.append((left if i == 0 else " " * len(left)) + f"  {s.pa:#12x} {s.flags:8}{note}")
    return "\n".join(lines)
