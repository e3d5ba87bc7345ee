"""Artifacts: what a submission's own process hands back to the grader -- data, never scores.

This module runs *inside the student's process* (the notebook's kernel), after the student's
cells, to turn what they built into plain JSON: a variable's value, an assembled program, the
page tables reachable from a root, the results of calling their function on inputs the
grader sent.  Everything here is untrusted by the grader: a student who patches it can only
hand back different artifacts, which the checkers then grade like any other answer.
"""
from __future__ import annotations

import base64
import json

from vmlab.isa.paging import PPN_MASK

#: at most this many page-table pages are dumped (a tree needs 3 for one mapping)
MAX_TABLES = 256
#: artifacts larger than this are refused (a submission may not flood the grader)
MAX_BYTES = 8 << 20


def jsonable(value, depth: int = 0):
    """Plain JSON data from a Python value; anything else becomes ``{"repr": ...}``."""
    if depth > 20:
        return {"repr": "<too deeply nested>"}
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int) or hasattr(value, "__index__") and not hasattr(value, "__len__"):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    return {"repr": repr(value)[:200]}


def program(value) -> dict:
    """An assembled program (a ``Program``, or assembly source to assemble here)."""
    if isinstance(value, str):
        from vmlab.asm import assemble
        value = assemble(value, 0x8000_0000, filename="answer.s")
    size = sum(s.size for s in value.sections.values())
    return {"elf": base64.b64encode(value.elf).decode("ascii"), "entry": int(value.entry),
            "size": int(size)}


def pages(machine, satp: int) -> dict:
    """Every page-table page reachable from satp's root: ``{pa: {index: pte}}`` (non-zero only)."""
    from vmlab import sv39
    root = (int(satp) & PPN_MASK) << 12
    tables, todo = {}, [(root, 2)]
    while todo and len(tables) < MAX_TABLES:
        pa, level = todo.pop()
        if pa in tables:
            continue
        words = memoryview(bytes(machine.read_mem(pa, 4096))).cast("Q")
        tables[pa] = {i: int(w) for i, w in enumerate(words) if w}
        for pte in tables[pa].values():
            if level and pte & sv39.PTE_V and not pte & (sv39.PTE_R | sv39.PTE_W | sv39.PTE_X):
                todo.append((sv39.pte_ppn(pte) << 12, level - 1))
    return {"satp": int(satp), "tables": {str(pa): t for pa, t in tables.items()}}


def calls(fn, args_list: list, driver: str = "vmlab.grading.drivers:call") -> list:
    """The result of driving ``fn`` (a function or class) on each scenario, or the exception."""
    from vmlab.grading.drivers import resolve
    drive = resolve(driver)
    out = []
    for args in args_list:
        try:
            out.append({"ok": True, "value": jsonable(drive(fn, *args))})
        except Exception as exc:  # a student's bug is an answer, not a crash of the grading
            out.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def collect_one(spec: dict, namespace: dict):
    """One artifact from the namespace, per its spec (see :mod:`vmlab.grading.checkers`)."""
    kind = spec["kind"]
    names = [spec[k] for k in ("name", "machine", "satp") if k in spec]
    missing = [n for n in names if n not in namespace]
    if missing:
        return {"missing": missing[0]}
    try:
        if kind == "value":
            return {"value": jsonable(namespace[spec["name"]])}
        if kind == "program":
            return program(namespace[spec["name"]])
        if kind == "pages":
            return pages(namespace[spec["machine"]], namespace[spec["satp"]])
        if kind == "calls":
            return {"results": calls(namespace[spec["name"]], spec["args"],
                                     spec.get("driver", "vmlab.grading.drivers:call"))}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    raise ValueError(f"unknown artifact kind {kind!r}")


def collect(requests: dict, namespace: dict) -> str:
    """All requested artifacts as one JSON text (what the extraction cell prints)."""
    text = json.dumps({key: collect_one(spec, namespace) for key, spec in requests.items()})
    return text if len(text) <= MAX_BYTES else json.dumps({"__error__": "artifacts too large"})
