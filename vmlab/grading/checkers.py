"""Ready-made checkers for what vmlab teaches.

A checker has three methods, all run in the grading process:

- ``cases(params, hidden_rng) -> [Case]``: the test inputs (hidden ones from the secret seed);
- ``requests(params, cases) -> {key: spec}``: what to collect from the submission
  (:mod:`vmlab.grading.artifacts` does the collecting, in the student's process);
- ``check(artifacts, params, cases) -> [Line]``: one verdict per case, saying what was
  expected, what was found and where -- the grader recomputes every expected value here.
"""
from __future__ import annotations

import base64
from typing import Callable

from vmlab import sv39
from vmlab.grading.exercise import Case, Line

MASK64 = (1 << 64) - 1


def problem(artifact, what: str) -> str | None:
    """Why an artifact can't be graded (missing, broke while collecting), or None."""
    if artifact is None:
        return f"{what}: nothing was collected (did the notebook run to the end?)"
    if "missing" in artifact:
        return f"{what}: `{artifact['missing']}` is not defined in the submission"
    if "error" in artifact:
        return f"{what}: collecting it failed ({artifact['error']})"
    return None


def unusable(artifact, what: str, cases) -> list[Line] | None:
    """The exercise's one failing line -- weighing every case -- when the artifact can't be
    graded (see :func:`problem`), else None: what a checker answers before grading anything."""
    why = problem(artifact, what)
    return [Line(False, why, weight=len(cases) or 1)] if why else None


# ---- an assembly program on a fresh machine ------------------------------------------------
class AsmProgram:
    """Run the student's program on a fresh machine once per case.

    ``cases(params, rng)`` gives Cases whose inputs are ``{"regs": {name: value}, ...}``;
    ``expect(params, inputs)`` gives ``{register: value}`` (and optionally ``"console"``).
    The program must end with ``ecall`` within ``budget`` instructions and fit in
    ``max_size`` bytes (so a table of answers cannot stand in for the computation).
    """

    def __init__(self, name: str, cases: Callable, expect: Callable, budget: int = 200_000,
                 max_size: int | None = None):
        self.name, self._cases, self.expect = name, cases, expect
        self.budget, self.max_size = budget, max_size

    def cases(self, params, hidden_rng):
        return self._cases(params, hidden_rng)

    def requests(self, params, cases):
        return {"program": {"kind": "program", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("program")
        failed = unusable(art, f"program `{self.name}`", cases)
        if failed:
            return failed
        lines = []
        if self.max_size is not None:
            fits = art["size"] <= self.max_size
            size = Line(fits, f"size: {art['size']} bytes (the limit is {self.max_size})", weight=0)
            if not fits:  # a table of answers is not a program: nothing else counts
                return [Line(False, size.text + " -- compute the answer, don't store it",
                             weight=len(cases) or 1)]
            lines.append(size)
        session = _fresh_session()
        for case in cases:
            lines.append(self._run_case(session, art, params, case))
        return lines

    def _run_case(self, session, art, params, case) -> Line:
        where = case.label or ", ".join(f"{k} = {v}" for k, v in case.inputs["regs"].items())
        try:
            result = _run_program(session, art, case.inputs["regs"], self.budget)
        except Exception as exc:  # an ELF that doesn't load is the student's answer, wrong
            return Line(False, f"{where}: the program could not be loaded ({exc})", hidden=case.hidden)
        if not (result.reason == "trap" and result.trap.cause == 11):
            return Line(False, f"{where}: did not end with ecall ({result.summary()})", hidden=case.hidden)
        for reg, want in self.expect(params, case.inputs).items():
            got = session.machine.reg(reg) & MASK64
            if got != want & MASK64:
                return Line(False, f"{where}: {reg} = {got}, expected {want & MASK64}", hidden=case.hidden)
        return Line(True, f"{where}: correct in {result.instructions} instructions", hidden=case.hidden)


def _fresh_session():
    from vmlab.notebook.session import Session
    return Session()


def _run_program(session, art, regs: dict, budget: int):
    """Reset the machine (RAM cleared, monitor installed), load the ELF, set regs, run."""
    session.reset()
    m = session.machine
    m.load_elf(base64.b64decode(art["elf"]))
    m.pc = int(art["entry"]) & MASK64
    for name, value in regs.items():
        m.set_reg(name, value & MASK64)
    session.last = session.registers()
    return session.run(budget)


# ---- page tables the student built ----------------------------------------------------------
class PageTables:
    """Walk the student's tables (dumped from their machine) with :func:`vmlab.sv39.walk`.

    ``probes(params)`` gives ``[(label, va, access, priv, expect_pa_or_None)]``: None means the
    access must fault.  ``only_maps(params)`` optionally gives ``(pa, va)``: the page at
    ``pa`` must be reachable from ``va`` and from no other address (least privilege).
    """

    def __init__(self, machine: str, satp: str, probes: Callable, only_maps: Callable | None = None):
        self.machine, self.satp, self.probes, self.only_maps = machine, satp, probes, only_maps

    def cases(self, params, hidden_rng):
        return [Case({"probe": p}, label=p[0]) for p in self.probes(params)]

    def requests(self, params, cases):
        return {"pages": {"kind": "pages", "machine": self.machine, "satp": self.satp}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("pages")
        failed = unusable(art, "page tables", cases)
        if failed:
            return failed
        read64 = table_reader(art)
        satp = int(art["satp"]) & MASK64
        lines = _gate_faults([_probe_line(read64, satp, *c.inputs["probe"]) for c in cases],
                             [c.inputs["probe"][4] is not None for c in cases])
        if self.only_maps:
            lines.append(_only_mapping(read64, satp, *self.only_maps(params)))
        return lines


def _gate_faults(lines: list[Line], positive: list[bool]) -> list[Line]:
    """"Must fault" earns nothing until some access that must work works: otherwise an
    empty table (the untouched notebook) would pass every least-privilege probe."""
    if not any(positive) or any(line.ok for line, pos in zip(lines, positive) if pos):
        return lines
    return [line if pos else Line(False, line.text + " (counts once the page can be reached)")
            for line, pos in zip(lines, positive)]


def table_reader(art: dict) -> Callable[[int], int | None]:
    """read64 over the dumped tables: zero for an empty slot, None outside any dumped page."""
    tables = {int(pa): {int(i): int(v) for i, v in t.items()} for pa, t in art["tables"].items()}

    def read64(pa: int):
        page = tables.get(pa & ~0xFFF)
        return None if page is None else page.get((pa & 0xFFF) // 8, 0)
    return read64


def describe_walk(w: sv39.Walk) -> str:
    """``L2[1] -> L1[2] -> L0[0] flags`` : the walk as a student draws it."""
    steps = " -> ".join(f"L{s.level}[{s.index}] {s.flags}" for s in w.steps)
    return steps or "no table read"


def _probe_line(read64, satp, label, va, access, priv, want_pa) -> Line:
    w = sv39.walk(read64, satp, va, access, priv=priv)
    did = f"{priv}-mode {access} at {va:#x}"
    if want_pa is None:
        return Line(not w.ok, f"{label}: {did} must fault" + (
            "" if not w.ok else f", but translates to {w.pa:#x} via {describe_walk(w)}"))
    if not w.ok:
        return Line(False, f"{label}: {did} faults -- {w.reason} (walk: {describe_walk(w)})")
    if w.pa != want_pa:
        return Line(False, f"{label}: {did} reaches {w.pa:#x}, expected {want_pa:#x} (walk: {describe_walk(w)})")
    return Line(True, f"{label}: {did} -> {w.pa:#x} via {describe_walk(w)}")


def _only_mapping(read64, satp, pa: int, va: int) -> Line:
    """Least privilege: one 4 KiB leaf, at ``va``, maps the page at ``pa``; nothing else does."""
    root = sv39.satp_fields(satp)[2] << 12
    hits = [m for m in sv39.mappings(read64, root) if m.pa <= pa < m.pa + m.size]
    bad = [m for m in hits if m.size != sv39.PAGE_SIZE or m.va != va]
    if not hits:
        return Line(False, f"mapping: no address maps the page at {pa:#x}")
    if bad:
        m = bad[0]
        return Line(False, f"mapping: {m.va:#x} ({m.size // 1024} KiB) also reaches the page at "
                    f"{pa:#x} -- map exactly one 4 KiB page")
    return Line(True, f"mapping: only {va:#x} reaches the page at {pa:#x}, as one 4 KiB page")


# ---- numbers read off a trace ------------------------------------------------------------------
class TraceNumbers:
    """The student's answers (a dict in their notebook) against the trace of a guest run here.

    ``run(params) -> {key: number}`` runs the generated guest in the grading process and
    returns the true numbers; the student's dict ``name`` must match them key by key.
    """

    def __init__(self, name: str, run: Callable, keys: Callable):
        self.name, self.run, self.keys = name, run, keys

    def cases(self, params, hidden_rng):
        return [Case({"key": k}, label=k) for k in self.keys(params)]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers")
        failed = unusable(art, f"`{self.name}`", cases)
        if failed:
            return failed
        answers = art["value"] if isinstance(art["value"], dict) else {}
        truth = self.run(params)
        return [_number_line(c.label, answers.get(c.label), truth.get(c.label, 0)) for c in cases]


def _number_line(key, got, want) -> Line:
    if got is None:
        return Line(False, f"{key}: not answered yet")
    if not isinstance(got, int) or isinstance(got, bool):
        return Line(False, f"{key}: {got!r} is not a whole number")
    return Line(got == want, f"{key}: {got}" + ("" if got == want else " is not what the trace says"))


# ---- a Python function or class, against scenarios -------------------------------------------
class PythonCalls:
    """Drive the student's function or class on scenario inputs (sent to their process) and
    compare with the expected result computed here.

    ``scenarios(params, rng) -> [Case(inputs={"args": [...]})]``.  The expected value is
    ``reference(params, *args)``, or -- with ``solution`` -- the same ``driver`` run here on
    the instructor's own function or class.  ``driver`` names one of
    :mod:`vmlab.grading.drivers` (``call`` for a function, ``methods`` for a class).
    """

    def __init__(self, name: str, scenarios: Callable, reference: Callable | None = None,
                 same: Callable = lambda got, want: got == want, *, solution=None,
                 driver: str = "vmlab.grading.drivers:call"):
        if (reference is None) == (solution is None):
            raise ValueError("give either reference or solution")
        self.name, self.scenarios, self.reference, self.same = name, scenarios, reference, same
        self.solution, self.driver = solution, driver

    def cases(self, params, hidden_rng):
        return self.scenarios(params, hidden_rng)

    def requests(self, params, cases):
        return {"calls": {"kind": "calls", "name": self.name, "driver": self.driver,
                          "args": [c.inputs["args"] for c in cases]}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("calls")
        why = problem(art, f"`{self.name}`")
        results = (art or {}).get("results") or []
        if why or len(results) != len(cases):
            return [Line(False, why or f"`{self.name}`: wrong number of results", weight=len(cases) or 1)]
        return [self._line(c, r, params) for c, r in zip(cases, results)]

    def expected(self, params, args):
        if self.solution is not None:
            from vmlab.grading.drivers import resolve
            return resolve(self.driver)(self.solution, *args)
        return self.reference(params, *args)

    def _line(self, case, result, params) -> Line:
        where = case.label or f"{self.name}{tuple(case.inputs['args'])}"
        if not result.get("ok"):
            return Line(False, f"{where}: raised {result.get('error')}", hidden=case.hidden)
        want = self.expected(params, case.inputs["args"])
        got = result.get("value")
        if self.same(got, want):
            return Line(True, f"{where}: {got!r}", hidden=case.hidden)
        return Line(False, f"{where}: returned {got!r}, expected {want!r}", hidden=case.hidden)
