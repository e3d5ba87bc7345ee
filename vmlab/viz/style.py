"""The visual language of every vmlab widget, in one place.

A colour means the same thing in every picture, so a student who has learnt the walk
reads the shadow view and the TLB view without a new key.  Python names the *role* of a
shape (``"vpn2"``, ``"fault"``, ``"narrowed"``); :data:`CSS_VARS` turns this table into
CSS custom properties (``--vmlab-vpn2``) that ``js/vmlab.css`` uses.  Change a colour
here and every widget follows.

The colours were chosen to stay distinguishable for the common colour-vision deficiencies
(blue/orange/purple carry the meaning, green and red never stand alone: a fault is also
drawn with a cross and the word "fault").
"""
from __future__ import annotations

#: the fields of a virtual address, and the page offset (the walk, the tree, the TLB tag)
FIELDS = {"vpn2": "#d9822b", "vpn1": "#2e9e6b", "vpn0": "#3b73c4", "offset": "#8a8a8a"}

#: privilege levels (U, S, M), used for pages a mode may touch and for trap handlers
PRIV = {"U": "#2e9e6b", "S": "#3b73c4", "M": "#8e44ad"}

#: kinds of exit/trap: what made the guest leave (the trace's handler families)
EXIT = {"ecall": "#3b73c4", "csr": "#8e44ad", "page": "#d9822b", "mmio": "#16a2b8",
        "interrupt": "#7f8c8d", "other": "#555555"}

#: one colour per VM (vm.id modulo the length); VM 0 takes the first
VM = ["#3b73c4", "#d9822b", "#2e9e6b", "#8e44ad", "#c0392b", "#16a2b8", "#b7950b", "#7f8c8d"]

#: states of an entry, shared by page tables, shadow tables and the TLB
STATE = {
    "valid": "#e8f1fb",        # a valid entry / a filled shadow leaf / a TLB entry in use
    "invalid": "#f4f4f4",      # V = 0, an empty set
    "unfilled": "#ffffff",     # a guest mapping the shadow has not copied yet (drawn dashed)
    "leaf": "#e9f7ef",         # a leaf: the entry that names the frame
    "table": "#fdf3e7",        # a pointer to the next level's table
    "narrowed": "#f5b041",     # a shadow permission narrower than the guest's (with why)
    "fault": "#c0392b",        # where a translation failed
    "flash": "#ffe066",        # what changed since the last refresh
    "ink": "#222222", "muted": "#777777", "edge": "#555555",
}

#: the PTE flag bits, V..D, as the letters every picture prints
FLAG_LETTERS = "VRWXUGAD"

FONT = "var(--jp-code-font-family, 'DejaVu Sans Mono', monospace)"


def vm_colour(vm_id: int) -> str:
    return VM[vm_id % len(VM)]


def _vars() -> str:
    pairs = {**FIELDS, **{f"priv-{k}": v for k, v in PRIV.items()},
             **{f"exit-{k}": v for k, v in EXIT.items()},
             **{f"vm{i}": v for i, v in enumerate(VM)}, **STATE}
    body = "".join(f"  --vmlab-{k}: {v};\n" for k, v in pairs.items())
    return f":root {{\n{body}  --vmlab-font: {FONT};\n}}\n"


#: the palette as CSS custom properties, prepended to every widget's stylesheet
CSS_VARS = _vars()


def legend(*roles: str) -> list[list[str]]:
    """``[[css class, words], ...]`` for the legend drawn under a picture."""
    words = {"vpn2": "VPN[2]: index into the root table", "vpn1": "VPN[1]: level-1 index",
             "vpn0": "VPN[0]: level-0 index", "offset": "offset in the page",
             "table": "pointer to a table", "leaf": "leaf: maps a page",
             "invalid": "invalid (V=0)", "fault": "fault", "unfilled": "not filled yet (dashed)",
             "valid": "in use", "filled": "shadow entry filled", "narrowed": "narrowed by the hypervisor",
             "flash": "changed just now"}
    return [[r, words[r]] for r in roles]
