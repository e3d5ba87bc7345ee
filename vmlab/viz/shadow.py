"""Guest page tables beside the hypervisor's shadow tables.

Under trap-and-emulate the guest writes page tables that map guest-virtual to
guest-*physical* addresses, but the real MMU needs host-physical ones.  The hypervisor
(:mod:`vmlab.hv.shadow`) therefore builds *shadow* tables, gva -> hpa, lazily, one tree per
guest address space.  This view pairs every guest mapping with the shadow entries built
from it, using :func:`vmlab.hv.shadow_view.side_by_side` -- so the widget reads exactly what
the hypervisor keeps, and nothing more.
"""
from __future__ import annotations

import traitlets

from vmlab.viz._base import Widget, esm

ROWS = 300


def _key_text(key) -> str:
    if key == ("direct",):
        return "direct (guest paging off)"
    kind, satp, priv, *flags = key
    return f"satp {satp & (2**64 - 1):#x}, {priv}-mode" + (" +SUM" if flags and flags[0] else "")


class GuestVsShadow(Widget):
    """``GuestVsShadow(vm)``: pick a shadow tree; see guest leaves and their shadow leaves."""

    _esm = esm("shadow")
    trees = traitlets.List([]).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)
    rows = traitlets.List([]).tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)

    def __init__(self, vm, **kwargs):
        super().__init__(**kwargs)
        self.vm = vm
        self._keys: list = []
        self.on_msg(self._on_msg)
        self.refresh()

    def refresh(self) -> None:
        from vmlab.hv.shadow_view import side_by_side
        sp = self.vm.shadow
        keys = list(sp.roots)
        if self._keys and self.selected < len(self._keys) and self._keys[self.selected] in keys:
            current = self._keys[self.selected]
        else:   # default: the busiest guest tree (the one with the most shadow leaves)
            current = next((k for k in reversed(keys) if k != ("direct",)), keys[0] if keys else None)
        self._keys = keys
        rows = []
        if current is not None:
            for r in side_by_side(sp, current)[:ROWS]:
                g = r.guest
                base = {"gva": f"{r.gva:#x}", "gpa": f"{g.pa:#x}" if g else "-",
                        "gflags": g.flags if g else "", "stale": r.stale}
                if not r.shadow:
                    rows.append({**base, "hpa": "", "sflags": ""})
                for i, s in enumerate(r.shadow[:8]):
                    row = base if i == 0 else {"gva": f"{s.va:#x}", "gpa": "", "gflags": "", "stale": r.stale}
                    rows.append({**row, "hpa": f"{s.pa:#x}", "sflags": s.flags})
        with self.hold_sync():
            self.trees = [_key_text(k) for k in keys]
            self.selected = keys.index(current) if current is not None else 0
            self.rows = rows
            filled = sum(1 for r in rows if r["hpa"])
            self.summary = (f"{len(keys)} shadow trees ({repr(sp).strip('<>')}) · "
                            f"this tree: {filled} shadow leaves")
            self.updates += 1

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") == "tree":
            i = int(content.get("index", 0))
            if 0 <= i < len(self._keys):
                self.selected = i
                self.refresh()
