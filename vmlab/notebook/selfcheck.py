"""Self-check exercises for the labs: a student runs the check, reads the feedback, tries again.

Each check returns a :class:`Feedback` (shown as a short list of passed/failed points) and
never raises on a wrong answer, so a notebook with the exercise still unanswered runs from
top to bottom.  The checks run the student's program on a *fresh* machine, so nothing left
over from earlier cells can make a wrong answer pass.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Feedback:
    title: str
    points: list = field(default_factory=list)     # (ok, text)

    def add(self, ok: bool, text: str) -> bool:
        self.points.append((bool(ok), text))
        return bool(ok)

    @property
    def passed(self) -> bool:
        return bool(self.points) and all(ok for ok, _ in self.points)

    @property
    def score(self) -> tuple[int, int]:
        return sum(ok for ok, _ in self.points), len(self.points)

    def __repr__(self) -> str:
        got, total = self.score
        head = f"{self.title}: {'all correct' if self.passed else 'not yet'} ({got}/{total})"
        return "\n".join([head] + [f"  {'ok ' if ok else 'no '} {t}" for ok, t in self.points])

    def _repr_html_(self) -> str:
        got, total = self.score
        color = "#2a7" if self.passed else "#d80"
        # ✓/✗ rather than emoji: every common font has them, colour-emoji fonts are optional
        mark = {True: "<span style='color:#2a7'>✓</span>", False: "<span style='color:#c33'>✗</span>"}
        items = "".join(f"<li>{mark[bool(ok)]} {html.escape(t)}</li>" for ok, t in self.points)
        return (f"<div class='vmlab-feedback' data-passed='{str(self.passed).lower()}'>"
                f"<b style='color:{color}'>{html.escape(self.title)}: "
                f"{'all correct' if self.passed else 'not yet'} ({got}/{total})</b><ul>{items}</ul></div>")


# ---- lab 00 --------------------------------------------------------------------------------------
_TYPES = {"VMware ESXi": 1, "Oracle VirtualBox": 2, "Xen": 1, "Parallels Desktop": 2,
          "Microsoft Hyper-V": 1, "VMware Workstation": 2}


def check_hypervisor_types(answers: dict) -> Feedback:
    """``answers``: hypervisor name -> 1 or 2 (its type)."""
    fb = Feedback("Type 1 or type 2?")
    for name, want in _TYPES.items():
        got = answers.get(name)
        if got is None:
            fb.add(False, f"{name}: not answered yet")
        elif got == want:
            fb.add(True, f"{name}: type {want}")
        else:
            hint = ("it runs directly on the hardware and hosts even its management OS as a guest"
                    if want == 1 else "it is an application on an ordinary operating system")
            fb.add(False, f"{name}: not type {got} -- {hint}")
    return fb


def check_trap_and_emulate(answer: str | None) -> Feedback:
    """Which instructions must trap when run deprivileged, for trap-and-emulate to work?"""
    fb = Feedback("Popek and Goldberg")
    text = (answer or "").strip().lower()
    fb.add("sensitive" in text,
           "the *sensitive* instructions (those that read or change privileged state) must all "
           "be privileged, i.e. trap in user mode" if "sensitive" in text else
           "not yet: which class of instructions must be a subset of the privileged ones?")
    return fb


# ---- lab 01 --------------------------------------------------------------------------------------
def check_factorial(program, n: int = 5) -> Feedback:
    """The program computes n! (a0 = n at the start) into a0, then executes ``ecall``."""
    fb = Feedback(f"factorial")
    if program is None:
        fb.add(False, "assemble your program with %%asm answer first")
        return fb
    import math
    for k in (n, 1, 10):
        s, _ = _run_with_a0(program, k)
        result = s.last_result
        if not fb.add(result.reason == "trap" and result.trap.cause == 11,
                      f"with a0 = {k}: the program ends with ecall" if result.reason == "trap"
                      and result.trap.cause == 11 else f"with a0 = {k}: the program did not end "
                      f"with ecall ({result.summary()})"):
            continue
        got = s.machine.reg("a0")
        fb.add(got == math.factorial(k), f"with a0 = {k}: a0 = {got}, expected {math.factorial(k)}")
    return fb


def _run_with_a0(program, a0: int):
    from vmlab.notebook.session import Session
    s = Session()
    s.load(program)
    s.machine.pc = program.entry
    s.machine.set_reg("a0", a0)
    s.last = s.registers()
    s.last_result = s.run(1_000_000)
    return s, s.last_result


# ---- lab 02 --------------------------------------------------------------------------------------
def check_secret_mapping(read64, satp: int, va: int, secret_pa: int) -> Feedback:
    """``va`` must translate to ``secret_pa`` for an S-mode load, and must not be writable."""
    from vmlab import sv39
    fb = Feedback("map the secret page")
    w = sv39.walk(read64, satp, va, "load", priv="S")
    if not fb.add(w.ok, f"an S-mode load from {va:#x} translates" if w.ok else
                  f"a load from {va:#x} faults: {w.reason}"):
        return fb
    fb.add(w.pa == secret_pa, f"{va:#x} -> {w.pa:#x}" + ("" if w.pa == secret_pa else
                                                          f" (expected {secret_pa:#x})"))
    ws = sv39.walk(read64, satp, va, "store", priv="S")
    fb.add(not ws.ok, "a store to it faults (the secret is read-only)" if not ws.ok else
           "a store to it would succeed: leave W clear")
    fb.add(w.leaf is not None and w.leaf.level == 0, "it is a 4 KiB page (a level-0 leaf)")
    return fb


# ---- lab 03 --------------------------------------------------------------------------------------
def check_exit_counts(vm, answers: dict) -> Feedback:
    """``answers``: exit cause name -> how many such exits the run had (read off the trace)."""
    from vmlab.isa.causes import CAUSE_BY_NAME
    fb = Feedback("read the trace")
    counts = vm.trace.by_cause()
    for name, got in answers.items():
        cause = CAUSE_BY_NAME.get(name)
        if cause is None:
            fb.add(False, f"{name}: not a cause name")
            continue
        want = counts.get(cause.code if not cause.interrupt else cause.code | 0x8000_0000, 0)
        if got is None:
            fb.add(False, f"{name}: not answered yet")
        else:
            fb.add(got == want, f"{name}: {got}" + ("" if got == want else " is not what the trace says"))
    return fb
