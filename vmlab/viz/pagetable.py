"""Sv39 page tables seen two ways: the whole tree under a root, and one address's walk.

Both views call :mod:`vmlab.sv39` -- the same walker the hypervisor and the exercises use --
with a ``read64`` function, so they can show a guest's tables in a machine's RAM, a
hypervisor's shadow tables, or tables a student builds in a Python ``dict``.
"""
from __future__ import annotations

import shutil
import subprocess

import traitlets

from vmlab import sv39
from vmlab.viz._base import Widget, esm, machine_read64

MAX_NODES = 600     # a drawing past this many entries helps nobody; the rest is counted


def _size(level: int) -> str:
    return {0: "4 KiB", 1: "2 MiB", 2: "1 GiB"}[level]


def tree(read64, root_pa: int, max_nodes: int = MAX_NODES) -> tuple[list[dict], int]:
    """The valid entries under ``root_pa`` as nested dicts, and the number of leaves.

    Walks the same three levels as :func:`vmlab.sv39.mappings` but keeps the inner tables
    (a student needs to see *where* each level lives, not only the final mapping).
    """
    budget = [max_nodes]
    leaves = [0]

    def table(pa: int, level: int, va_base: int) -> list[dict]:
        out = []
        for index in range(512):
            pte = read64(pa + 8 * index)
            if pte is None or not pte & sv39.PTE_V:
                continue
            va = va_base | index << (12 + 9 * level)
            target = sv39.pte_ppn(pte) << 12
            node = {"level": level, "index": index, "pte": f"{pte:#018x}",
                    "flags": sv39.flag_string(pte), "target": f"{target:#x}",
                    "va": f"{sv39.canonical_va(va):#x}"}
            budget[0] -= 1
            if budget[0] < 0:
                break
            if pte & (sv39.PTE_R | sv39.PTE_W | sv39.PTE_X):
                node["size"] = _size(level)
                leaves[0] += 1
            elif level > 0:
                node["children"] = table(target, level - 1, va)
            out.append(node)
        return out

    return table(root_pa, 2, 0), leaves[0]


def dot_source(nodes: list[dict], root_pa: int, title: str = "") -> str:
    """Graphviz source: one box per table, an edge per pointer, leaves as labelled boxes."""
    lines = ["digraph sv39 {", "rankdir=LR; node [shape=box, fontname=monospace, fontsize=9];",
             f'root [label="{title or "root"}\\n{root_pa:#x}", style=bold];']
    counter = [0]

    def walk(parent: str, items: list[dict]) -> None:
        for n in items:
            counter[0] += 1
            name = f"n{counter[0]}"
            if "children" in n:
                lines.append(f'{name} [label="L{n["level"] - 1} table\\n{n["target"]}"];')
            else:
                lines.append(f'{name} [label="{n["va"]}\\n-> {n["target"]} ({n["size"]})\\n{n["flags"]}", '
                             'style=filled, fillcolor="#e8f4ff"];')
            lines.append(f'{parent} -> {name} [label="[{n["index"]}]", fontsize=8];')
            if "children" in n:
                walk(name, n["children"])

    walk("root", nodes)
    lines.append("}")
    return "\n".join(lines)


def render_svg(dot: str) -> str:
    """SVG from graphviz's ``dot`` program, or "" when it is not installed."""
    exe = shutil.which("dot")
    if not exe:
        return ""
    try:
        svg = subprocess.run([exe, "-Tsvg"], input=dot.encode(), capture_output=True,
                             timeout=20, check=True).stdout.decode()
    except (subprocess.SubprocessError, OSError):
        return ""
    return svg[svg.find("<svg"):]


class PageTableTree(Widget):
    """The tree of valid Sv39 entries under a root table: collapsible, leaves with flags.

    ``source`` is a Machine (its RAM is read) or a ``read64(pa)`` function; ``root`` is the
    root table's physical address, or pass ``satp=`` to take it from a satp value.
    ``refresh()`` re-reads the tables -- after a run, the A and D bits the hardware set show.
    """

    _esm = esm("pagetable")
    tree = traitlets.List([]).tag(sync=True)
    leaves = traitlets.Int(0).tag(sync=True)
    root = traitlets.Unicode("").tag(sync=True)
    svg = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source, root: int | None = None, *, satp: int | None = None,
                 graph: bool = True, title: str = "", **kwargs):
        super().__init__(**kwargs)
        self.read64 = source if callable(source) and not hasattr(source, "read_mem") else machine_read64(source)
        if root is None:
            if satp is None:
                raise ValueError("give the root table's address or a satp value")
            root = sv39.satp_fields(satp)[2] << 12
        self.root_pa, self.graph, self.title = root, graph, title
        self.refresh()

    def refresh(self) -> None:
        nodes, leaves = tree(self.read64, self.root_pa)
        with self.hold_sync():
            self.tree, self.leaves, self.root = nodes, leaves, f"{self.root_pa:#x}"
            self.svg = render_svg(self.dot()) if self.graph else ""
            self.updates += 1

    def dot(self) -> str:
        return dot_source(self.tree, self.root_pa, self.title)

    def mappings(self) -> list[sv39.Mapping]:
        return list(sv39.mappings(self.read64, self.root_pa))
