"""The graded exercises of lab 06 (hardware assist: two-stage translation).

1. ``two_stage_refs``: the student writes the count of memory references a run of guest
   loads costs the MMU under two-stage translation (VS-stage Sv39 over G-stage Sv39x4) for
   a configuration of leaf levels and a list of loads (the TLB decides which loads walk);
   graded against the machine's own count (``C_WALK_REFS``) for their configuration and
   hidden ones.
2. ``gstage_fill``: the student writes the hypervisor's handler for a guest-page fault --
   the GPA from htval, a walk of the G-stage (16 KiB root, 11-bit root index), a leaf the
   hardware accepts -- graded by running a guest in VS-mode on their fill
   (:mod:`vmlab.grading.lab06_run`) for their own seeded memory layout and hidden ones, and
   by booting teachos under the hw backend with it as the VM's G-stage fill.
3. ``which_wins``: three seeded workloads (system calls, PTE updates, TLB misses); the
   student measures the per-operation costs of each technique, prices each workload, and
   chooses the cheaper technique for each.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.grading.lab06_run import (DATA_GVA, DATA_SPAN, TECHNIQUES, TLB_SETS,
                                     count_walk_refs, fill_run, gstage_layout)

lab06 = Assignment("lab06", title="Lab 06 -- hardware assist")
LEVEL_NAMES = {0: "4 KiB", 1: "2 MiB", 2: "1 GiB"}


# ---- 1. memory references of two-stage walks ---------------------------------------------------
def walk_scenario(rng, loads: int | None = None) -> dict:
    """Leaf levels of the three mappings, and a list of loads with repeats and one TLB clash."""
    pages = [rng.randrange(DATA_SPAN >> 12) for _ in range(rng.randrange(2, 5))]
    clash = (pages[0] + TLB_SETS * rng.randrange(1, 4)) % (DATA_SPAN >> 12)
    order = pages + [rng.choice(pages) for _ in range(rng.randrange(2, 4))] + [clash, pages[0]]
    gvas = [DATA_GVA + (p << 12) + 8 * rng.randrange(512) for p in order[:loads]]
    return {"vs_leaf_level": rng.randrange(3), "g_leaf_tables": rng.randrange(3),
            "g_leaf_data": rng.randrange(3), "loads": gvas}


def _args(s: dict) -> list:
    return [s["vs_leaf_level"], s["g_leaf_tables"], s["g_leaf_data"], s["loads"]]


def _describe(s: dict) -> str:
    return (f"VS leaves {LEVEL_NAMES[s['vs_leaf_level']]}, G-stage leaves "
            f"{LEVEL_NAMES[s['g_leaf_tables']]} over the guest's tables and "
            f"{LEVEL_NAMES[s['g_leaf_data']]} over its data, {len(s['loads'])} loads")


def _refs_cases(params, rng):
    mine = Case({"args": _args(params["scenario"])}, label="your configuration")
    return [mine] + [Case({"args": _args(walk_scenario(rng))}, True, f"hidden configuration {i + 1}")
                     for i in range(5)]


def _refs_reference(params, vs_leaf, g_tables, g_data, loads):
    return count_walk_refs(vs_leaf, g_tables, g_data, loads)["refs"]


class Counted(PythonCalls):
    """PythonCalls whose wrong lines do not print the machine's count."""

    def _line(self, case, result, params) -> Line:
        where = case.label
        if not result.get("ok"):
            return Line(False, f"{where}: raised {result.get('error')}", hidden=case.hidden)
        got, want = result.get("value"), self.expected(params, case.inputs["args"])
        if got == want and type(got) is int:
            return Line(True, f"{where}: {got} references, as the MMU counted", hidden=case.hidden)
        side = "fewer" if isinstance(got, int) and got > want else "more"
        what = f"{got!r} is not a whole number" if type(got) is not int else \
            f"{got} -- the MMU made {side} memory references"
        return Line(False, f"{where}: {what}", hidden=case.hidden)


@lab06.exercise(points=6, checker=Counted("two_stage_refs", _refs_cases, _refs_reference),
                prompt=lambda p: (
                    "Write **`two_stage_refs(vs_leaf_level, g_leaf_tables, g_leaf_data, loads)`**: "
                    "how many memory references the MMU makes for the guest loads `loads` (guest "
                    "virtual addresses, in order, the TLB empty at the start), when the guest "
                    "maps its data with VS-stage leaves at `vs_leaf_level` (0 = 4 KiB, 1 = 2 MiB, "
                    "2 = 1 GiB) and the hypervisor's G-stage maps the guest's page tables with "
                    "leaves at `g_leaf_tables` and its data at `g_leaf_data`. This machine's "
                    "data TLB is direct-mapped: 64 entries, one per 4 KiB page, chosen by "
                    "`(gva >> 12) % 64`. Your configuration: " + _describe(p["scenario"]) +
                    f" -- `loads = {[hex(a) for a in p['scenario']['loads']]}`. Predict it "
                    "first, then check with `lab06_run.count_walk_refs(...)`; hidden "
                    "configurations are graded too."))
def two_stage_refs(rng):
    return {"scenario": walk_scenario(rng)}


# ---- 2. the G-stage fill -----------------------------------------------------------------------
def _fill_cases(params, rng):
    return ([Case({"args": ["teachos"]}, label="teachos under the hw backend"),
             Case({"args": [params["layout"]]}, label="your guest")]
            + [Case({"args": [gstage_layout(rng)]}, True, f"hidden guest {i + 1}") for i in range(2)])


def _fill_reference(params, layout):
    from vmlab.grading.lab06_run import reference_fill
    return fill_run(reference_fill, layout)


def _judge_fill(got, want, case) -> tuple[bool, str]:
    if not isinstance(got, dict):
        return False, "the driver got nothing back"
    if got.get("error"):
        return False, got["error"]
    for key, what in (("mmio", "the device saw other stores"), ("answer", "the guest computed "
                      "a different checksum: some page reads another page's frame"),
                      ("reason", "the guest ended otherwise than on the reference fill"),
                      ("console", "the guest's console differs from the reference run's")):
        if got.get(key) != want.get(key):
            return False, what
    return True, f"{got['fills']} guest-page faults filled; the guest ran as on the reference fill"


class FillJudged(PythonCalls):
    def _line(self, case, result, params) -> Line:
        if not result.get("ok"):
            return Line(False, f"{case.label}: raised {result.get('error')}", hidden=case.hidden)
        ok, text = _judge_fill(result.get("value"), self.expected(params, case.inputs["args"]), case)
        return Line(ok, f"{case.label}: {text}", hidden=case.hidden)


def _layout_text(layout: dict) -> str:
    ram = ", ".join(f"{r['pages']} pages at GPA {r['gpa']:#x}" for r in layout["ram"])
    return f"guest RAM: {ram}; a device at GPA {layout['device']:#x}"


@lab06.exercise(points=8, checker=FillJudged("gfill", _fill_cases, _fill_reference,
                                             driver="vmlab.grading.lab06_run:fill_run"),
                prompt=lambda p: (
                    "Write the G-stage fill **`gfill(req)`**, the hypervisor's handler for a "
                    "guest-page fault: find the faulting GPA from `req.htval`, ask "
                    "`req.hpa_of(gpa)` for the host frame backing that guest page (None: it is "
                    "no RAM -- return False and the hypervisor emulates the device), walk the "
                    "G-stage from `req.root` with `req.read_pte(table, index)`, making tables "
                    "with `req.new_table()` and `req.write_pte(table, index, pte)`, write a 4 KiB "
                    "leaf the hardware accepts, and return True. Your guest (`lab06_run."
                    "fill_run(gfill, P2['layout'])`): " + _layout_text(p["layout"]) +
                    ". It is graded by booting teachos under the hw backend with your fill as "
                    "its G-stage fill, and by running your guest and hidden ones in VS-mode on it."))
def gstage_fill(rng):
    return {"layout": gstage_layout(rng)}


# ---- 3. which technique wins? --------------------------------------------------------------------
WORKLOAD_KINDS = {"A": "system-call-heavy", "B": "page-table-update-heavy", "C": "TLB-miss-heavy"}


def _workloads(rng) -> dict:
    return {"A": {"syscall": rng.randrange(500, 3000), "ptemod": rng.randrange(0, 50),
                  "tlb": rng.randrange(0, 2)},
            "B": {"syscall": rng.randrange(0, 100), "ptemod": rng.randrange(500, 3000),
                  "tlb": rng.randrange(0, 2)},
            "C": {"syscall": rng.randrange(0, 100), "ptemod": rng.randrange(5, 50),
                  "tlb": rng.randrange(20, 80)}}


def _price(workload: dict, ops: dict, ref_cycles: int) -> float:
    return sum(count * (ops[op]["cycles"] + ref_cycles * ops[op]["refs"])
               for op, count in workload.items())


def prices(params) -> dict:
    """The truth: every workload priced under every technique from the measured costs."""
    from vmlab.grading.lab06_run import per_op_costs
    table = per_op_costs()
    return {label: {t: _price(w, table[t], params["ref_cycles"]) for t in TECHNIQUES}
            for label, w in params["workloads"].items()}


class WhichWins:
    """The student's dict ``which_wins``: per workload, a price under each technique and the
    technique chosen.  Prices must be within 2% of the grader's; the choice the cheapest."""

    name, TOLERANCE = "which_wins", 0.02

    def cases(self, params, hidden_rng):
        return [Case({"workload": k}, label=f"workload {k}") for k in sorted(params["workloads"])]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers") or {}
        if not isinstance(art.get("value"), dict):
            return [Line(False, f"`{self.name}`: no dict to grade (did the notebook run to the end?)",
                         weight=2 * len(cases))]
        truth, lines = prices(params), []
        for case in cases:
            mine = art["value"].get(case.inputs["workload"])
            lines += self._workload(case.label, mine if isinstance(mine, dict) else {},
                                    truth[case.inputs["workload"]])
        return lines

    def _workload(self, where: str, mine: dict, truth: dict) -> list[Line]:
        off = [t for t in TECHNIQUES if not _close(mine.get(t), truth[t], self.TOLERANCE)]
        priced = Line(not off, f"{where}: prices " + ("all within 2%" if not off else
                      f"for {', '.join(off)} not what the measured costs give"))
        best, choice = min(truth, key=truth.get), mine.get("choice")
        if choice not in TECHNIQUES:
            return [priced, Line(False, f"{where}: choice {choice!r} is not one of {TECHNIQUES}")]
        return [priced, Line(choice == best, f"{where}: you chose {choice}" +
                             ("" if choice == best else ", which costs more on this workload"))]


def _close(got, want: float, tolerance: float) -> bool:
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return False
    return abs(got - want) <= tolerance * max(abs(want), 1.0)


def _workloads_text(p) -> str:
    return "; ".join(f"**{k}** ({WORKLOAD_KINDS[k]}): {w['syscall']} system calls, {w['ptemod']} "
                     f"PTE updates, {w['tlb']} pass{'' if w['tlb'] == 1 else 'es'} over the 511 pages"
                     for k, w in sorted(p["workloads"].items()))


@lab06.exercise(points=6, checker=WhichWins(),
                prompt=lambda p: (
                    "Three workloads, made of the nanobenchmarks' operations: " + _workloads_text(p)
                    + f". Suppose each memory reference of a page walk costs **{p['ref_cycles']} "
                    "cycles** (the cost model charges nothing for it; a real walk that misses the "
                    "caches does). From the per-operation costs you measured (`lab06_run."
                    "per_op_costs()`: simulated cycles and walk references per operation), price "
                    "each workload under `sfence`, `write-protect` and `hw`, and choose the cheapest. "
                    "Fill in `which_wins` with your prices and choices."))
def which_wins(rng):
    return {"workloads": _workloads(rng), "ref_cycles": rng.randrange(10, 31)}
