"""Lab 05's graded exercise: a memory coordinator of the student's own.

The student writes ``targets(vms, host) -> {vm id: balloon target in pages}``, the function
a :class:`vmlab.hv.reclaim.MemoryCoordinator` calls every period (it gets the same numbers,
as plain dicts).  There is no single right answer, so the checker judges rules instead of
comparing with one: give memory back when the host runs low, never starve a guest, never
keep a balloon inflated when the host has plenty.  Every student gets their own water marks.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls
from vmlab.grading.exercise import Assignment, Case

lab05 = Assignment("lab05", title="Lab 05 -- memory")


def _vm(rng, i: int) -> dict:
    pages = rng.choice((4096, 8192, 16384))
    resident = rng.randrange(pages // 4, pages)
    actual = rng.randrange(0, pages - resident + 1) // 2
    return {"vm_id": i, "pages": pages, "resident": resident, "balloon_actual": actual,
            "balloon_target": actual, "active": round(rng.random(), 2),
            "min_pages": rng.randrange(0, resident // 2)}


def scenario(rng, params, free_fraction: float) -> list:
    """One call's arguments: [vms, host]."""
    vms = [_vm(rng, i) for i in range(rng.randrange(2, 5))]
    pool = sum(v["resident"] for v in vms) + 4096
    host = {"pool": pool, "free": int(pool * free_fraction)}
    return [vms, host]


def _scenarios(params, rng):
    low, high = params["low"] / 100, params["high"] / 100
    visible = [scenario(rng, params, low / 2), scenario(rng, params, high + 0.05),
               scenario(rng, params, (low + high) / 2)]
    hidden = [scenario(rng, params, f) for f in (low / 3, low * 0.9, high * 1.5, (low + high) / 2)]
    return ([Case({"args": a}, label=f"free {a[1]['free'] / a[1]['pool']:.1%}") for a in visible]
            + [Case({"args": a}, True, f"hidden case {i + 1}") for i, a in enumerate(hidden)])


def _rules(params, vms, host) -> dict:
    """What a good answer must satisfy in this scenario (the checker's "expected")."""
    free = host["free"] / host["pool"]
    need = int(params["high"] / 100 * host["pool"]) - host["free"]
    mode = "reclaim" if free < params["low"] / 100 else "release" if free >= params["high"] / 100 else "hold"
    return {"mode": mode, "need": max(need, 0),
            "vms": {v["vm_id"]: (v["balloon_actual"], v["resident"] - v["min_pages"]) for v in vms}}


def judge(got, want) -> bool:
    """Targets for every VM; reclaim: at least ``need`` more pages, none past its min;
    release: every balloon empty; hold: no balloon grows."""
    if not isinstance(got, dict):
        return False
    try:
        targets = {int(k): int(v) for k, v in got.items()}
    except (TypeError, ValueError):
        return False
    vms = {int(k): v for k, v in want["vms"].items()}
    if set(targets) != set(vms) or any(t < 0 for t in targets.values()):
        return False
    if want["mode"] == "release":
        return all(t == 0 for t in targets.values())
    if want["mode"] == "hold":
        return all(targets[i] <= actual for i, (actual, _) in vms.items())
    taken = sum(targets[i] - actual for i, (actual, _) in vms.items())
    return taken >= want["need"] and all(targets[i] - actual <= room for i, (actual, room) in vms.items())


@lab05.exercise(points=10, checker=PythonCalls("targets", _scenarios, _rules, same=judge),
                prompt="Write **`targets(vms, host)`** returning `{{vm_id: balloon target}}` for "
                       "**every** VM. Your host keeps at least **{high}%** of its pool free: when "
                       "free memory is below **{low}%**, ask for at least the pages that bring it "
                       "back to {high}% in total (more from idle VMs, by `active`), never taking a "
                       "VM below its `min_pages` (a target may exceed `balloon_actual` by at most "
                       "`resident - min_pages`); at {high}% or more, deflate every balloon "
                       "(target 0); in between, never grow a balloon. Tested on hidden hosts too.")
def coordinator(rng):
    low = rng.randrange(20, 50) / 10                     # percent, one decimal
    return {"low": low, "high": round(low + rng.randrange(30, 61) / 10, 1)}


def reference_targets(params, vms, host) -> dict:
    """One answer that satisfies the rules (for the tests and the instructor)."""
    rules = _rules(params, vms, host)
    if rules["mode"] == "release":
        return {v["vm_id"]: 0 for v in vms}
    out = {v["vm_id"]: v["balloon_actual"] for v in vms}
    need = rules["need"] if rules["mode"] == "reclaim" else 0
    for v in sorted(vms, key=lambda v: (v["active"], v["vm_id"])):
        take = min(need, v["resident"] - v["min_pages"])
        out[v["vm_id"]] += take
        need -= take
    return out
