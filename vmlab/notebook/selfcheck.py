"""Self-check feedback for the labs: a student runs the check, reads the feedback, tries again.

:class:`Feedback` is how every check shows its result in a notebook.  The graded exercises
of labs 01-03 live in :mod:`vmlab.grading.labs` (per-student parameters, hidden tests) and use
this class to show the visible tests at once; lab 00's quick checks are still here.

Each check returns a :class:`Feedback` (shown as a short list of passed/failed points) and
never raises on a wrong answer, so a notebook with the exercise still unanswered runs from
top to bottom.  The checks run the student's program on a *fresh* machine, so nothing left
over from earlier cells can make a wrong answer pass.
"""
from __future__ import annotations

import html
import re
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
        got = _as_type(answers.get(name))
        if got is None:
            fb.add(False, f"{name}: not answered yet")
        elif got == want:
            fb.add(True, f"{name}: type {want}")
        else:
            hint = ("it runs directly on the hardware and hosts even its management OS as a guest"
                    if want == 1 else "it is an application on an ordinary operating system")
            fb.add(False, f"{name}: not type {got} -- {hint}")
    return fb


def _as_type(answer):
    """1, "1", "type 1", " Type 2 " -> 1 or 2; anything else as it was (and so wrong)."""
    text = str(answer).strip().lower().removeprefix("type").strip() if answer is not None else None
    return int(text) if text in ("1", "2") else answer


def check_trap_and_emulate(answer: str | None) -> Feedback:
    """Which instructions must trap when run deprivileged, for trap-and-emulate to work?"""
    fb = Feedback("Popek and Goldberg")
    words = re.findall(r"[a-z]+(?:-[a-z]+)?", (answer or "").lower())
    ok = "sensitive" in words and not {"insensitive", "non-sensitive", "not"} & set(words)
    fb.add(ok,
           "the *sensitive* instructions (those that read or change privileged state) must all "
           "be privileged, i.e. trap in user mode" if ok else
           "not yet: which class of instructions must be a subset of the privileged ones?")
    return fb
