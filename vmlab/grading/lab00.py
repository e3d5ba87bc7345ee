"""The graded exercises of lab 00 (virtual machines, emulators and hypervisors).

1. ``classify``: scenarios drawn from a pool (each student gets their own six, in their own
   order): say what each one is -- type 1, type 2, emulator, container, or a VMM on a
   hypervisor -- and pick the reason that decides it from a list that also holds true but
   beside-the-point statements.
2. ``toy_isa``: a random toy instruction set, each instruction described by what it does in
   user and in supervisor mode: mark each one sensitive or innocuous, and privileged or not;
   then decide whether the ISA is classically virtualizable (Popek and Goldberg's theorem 1:
   every sensitive instruction is privileged).

Answers are plain Python values in the notebook; formats the lab itself shows are accepted
("1", 1, "type 1"), and words are compared as whole words ("insensitive" is not "sensitive").
"""
from __future__ import annotations

import re

from vmlab.grading.checkers import problem, unusable
from vmlab.grading.exercise import Assignment, Case, Line

lab00 = Assignment("lab00", title="Lab 00 -- VMs, emulators and hypervisors")

# ---- 1. classify scenarios -------------------------------------------------------------------
#: what a scenario can be, with every spelling a student may reasonably use
KINDS = {"type 1": ("1", "type 1", "type1", "type-1", "type i", "bare metal", "bare-metal"),
         "type 2": ("2", "type 2", "type2", "type-2", "type ii", "hosted"),
         "emulator": ("emulator", "emulation", "emulated"),
         "container": ("container", "containers", "os-level virtualization"),
         "vmm": ("vmm", "vmm on a hypervisor", "vmm on hypervisor", "vmm on kvm")}

#: the reasons a student picks from: the deciding ones and beside-the-point true statements
REASONS = {
    "a": "guest instructions are interpreted or translated, never run directly on the CPU",
    "b": "it runs directly on the hardware and owns the CPU's most privileged mode",
    "c": "it is a program of a host operating system that owns the hardware and the drivers",
    "d": "there is one kernel; isolation comes from that kernel's namespaces and limits",
    "e": "it is a user-space program that gives guests memory and devices, while a hypervisor "
         "in the kernel runs their vCPUs",
    "f": "it uses the CPU's hardware virtualization extensions",
    "g": "it is free software",
    "h": "its guests can run a different operating system from the host's",
}

#: (kind, deciding reason, text); the pool a student's scenarios are drawn from
SCENARIOS = (
    ("emulator", "a", "A laptop with an x86 CPU boots a RISC-V Linux image: each guest basic "
     "block is translated into x86 code the first time it runs, then cached."),
    ("emulator", "a", "A web page runs an old DOS game: a JavaScript program decodes every "
     "8086 instruction of the game and updates an array that stands for its registers."),
    ("emulator", "a", "A phone app runs Game Boy cartridges by interpreting the cartridge's "
     "instructions one at a time."),
    ("type 1", "b", "A server boots a small hypervisor from its firmware; the hypervisor "
     "schedules guests itself, and one privileged guest it starts holds the device drivers."),
    ("type 1", "b", "An embedded board in a car boots a partitioning hypervisor first, which "
     "then starts a real-time OS and a Linux guest side by side, each on its own cores."),
    ("type 1", "b", "A cloud host boots a hypervisor that runs every tenant's VM; its "
     "management tools run in a service VM, not under a host OS."),
    ("type 2", "c", "A developer installs an application on Windows that creates VMs; it uses "
     "VT-x, and the guests' disks are files that Windows' own drivers read and write."),
    ("type 2", "c", "On macOS, an app starts a Linux VM; the app asks macOS for memory, "
     "and the VM's network goes through macOS's network stack."),
    ("type 2", "c", "A Linux desktop runs a VM manager application that loads its own driver "
     "into Linux for VT-x, but leaves disks, USB and the screen to Linux's drivers."),
    ("container", "d", "A Linux server runs forty web services, each in its own filesystem "
     "tree with its own process ids and network interfaces; `uname -r` prints the same kernel "
     "version in each."),
    ("container", "d", "A CI system starts each build in a fresh root filesystem with cgroup "
     "limits on memory and CPU; all builds share the host's kernel."),
    ("vmm", "e", "A process opens /dev/kvm, maps guest memory into its own address space, "
     "emulates a virtio disk, and calls KVM_RUN in a loop for each vCPU."),
    ("vmm", "e", "A minimal user-space program starts microVMs through Linux's KVM in under "
     "a second, with only a few virtio devices and no BIOS."),
)
PER_STUDENT = 6


def kind_of(answer) -> str | None:
    """The kind a student's answer names, or None: exact spellings only (after trimming
    case, spaces and punctuation around it), so "insensitive"-style traps cannot happen."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        answer = str(answer)
    if not isinstance(answer, str):
        return None
    text = " ".join(answer.lower().replace("_", " ").split()).strip(" .!")
    return next((k for k, spellings in KINDS.items() if text in spellings), None)


def reason_of(answer) -> str | None:
    text = answer.strip().lower().strip("().") if isinstance(answer, str) else None
    return text if text in REASONS else None


def _classify_cases(params, rng):
    return [Case({"index": i}, label=f"scenario {i + 1}") for i in range(len(params["scenarios"]))]


class Answers:
    """The student's answers (a value in their notebook), one Case per item; ``judge(params,
    index, answer) -> [Line]`` grades one item and must not print the right answer."""

    def __init__(self, name: str, cases, judge):
        self.name, self._cases, self.judge = name, cases, judge

    def cases(self, params, hidden_rng):
        return self._cases(params, hidden_rng)

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers")
        failed = unusable(art, f"`{self.name}`", cases)
        if failed:
            return failed
        value = art["value"]
        lines = []
        for c in cases:
            lines += self.judge(params, c, value)
        return lines


def _answer_for(value, index: int, keys):
    """A dict keyed by the item's number (int or str) or a list in order; None if absent."""
    if isinstance(value, dict):
        for k in keys:
            if k in value:
                return value[k]
        return None
    if isinstance(value, (list, tuple)) and index < len(value):
        return value[index]
    return None


def scenario(params, i: int) -> tuple[str, str, str]:
    """The student's i-th scenario: (kind, deciding reason, text)."""
    return SCENARIOS[params["scenarios"][i]]


def _judge_scenario(params, case, value) -> list[Line]:
    i = case.inputs["index"]
    kind, reason, _ = scenario(params, i)
    where = case.label
    got = _answer_for(value, i, (i + 1, str(i + 1)))
    if got is None or isinstance(got, (list, tuple)) and all(g is None for g in got):
        return [Line(False, f"{where}: not answered yet"), Line(False, f"{where}: no reason yet")]
    if not (isinstance(got, (list, tuple)) and len(got) == 2):
        return [Line(False, f"{where}: give a pair (kind, reason letter), not {got!r}"),
                Line(False, f"{where}: no reason yet")]
    k, r = kind_of(got[0]), reason_of(got[1])
    kind_line = (Line(False, f"{where}: {got[0]!r} is not one of the kinds "
                      "(1, 2, emulator, container, vmm)") if k is None
                 else Line(k == kind, f"{where}: kind {k}" + ("" if k == kind else " -- not what it is")))
    reason_line = (Line(False, f"{where}: {got[1]!r} is not one of the reason letters") if r is None
                   else Line(r == reason, f"{where}: reason ({r})" + (
                       "" if r == reason else " -- true perhaps, but not what decides it")))
    return [kind_line, reason_line]


def classify_prompt(p) -> str:
    rows = "\n".join(f"{i + 1}. {scenario(p, i)[2]}" for i in range(len(p["scenarios"])))
    reasons = "\n".join(f"- **{k}**: {v}" for k, v in REASONS.items())
    return ("For each scenario, fill in `classify[n] = (kind, reason)`: the **kind** is "
            "`1` (type 1 hypervisor), `2` (type 2), `\"emulator\"`, `\"container\"` or "
            "`\"vmm\"` (a VMM on a hypervisor), and the **reason** is the letter of the "
            "statement that *decides* it (several are true of some scenarios; one decides).\n\n"
            f"{rows}\n\nReasons:\n\n{reasons}")


@lab00.exercise(points=6, checker=Answers("classify", _classify_cases, _judge_scenario),
                prompt=classify_prompt, title="what is it, and why")
def classify(rng):
    picks = rng.sample(range(len(SCENARIOS)), PER_STUDENT)
    while len({SCENARIOS[i][0] for i in picks}) < 4:      # at least four kinds each
        picks = rng.sample(range(len(SCENARIOS)), PER_STUDENT)
    return {"scenarios": picks}


# ---- 2. and 3. a toy ISA ---------------------------------------------------------------------------
#: (sensitive, privileged, what it does in S-mode, what it does in U-mode); {name} is filled in
BEHAVIOURS = {
    "innocuous": [
        (False, False, "`{name} r1, r2`: r1 = r1 + r2", "the same"),
        (False, False, "`{name} r1, [r2]`: loads r1 from the memory r2 points at (translated by "
         "the page tables)", "the same"),
        (False, False, "`{name} r1`: r1 = r1 rotated left by one bit", "the same"),
        (False, False, "`{name} label`: jumps to label if r1 is zero", "the same"),
    ],
    "privileged": [
        (True, True, "`{name} r1`: sets the page-table base register to r1", "traps"),
        (True, True, "`{name} r1`: r1 = the cause register of the last trap", "traps"),
        (True, True, "`{name}`: disables interrupts", "traps"),
        (True, True, "`{name} r1`: writes r1 to the timer's compare register", "traps"),
        (True, True, "`{name}`: returns from a trap to the mode saved at the trap", "traps"),
    ],
    "sensitive": [
        (True, False, "`{name} r1`: r1 = the current privilege mode (1 = supervisor)",
         "r1 = 0: it does not trap, it answers the real mode"),
        (True, False, "`{name} r1`: sets the interrupt-enable flag to r1's lowest bit",
         "does nothing: the flag is left as it is, without a trap"),
        (True, False, "`{name} r1`: r1 = the page-table base register", "the same: no trap"),
    ],
    "privileged-only": [
        (False, True, "`{name}`: does nothing (a hint to the hardware)", "traps"),
    ],
}
#: names that mean nothing, so the name cannot give the behaviour away
MNEMONICS = ("ZAP", "KEX", "QUIB", "VOR", "JAX", "NIB", "PLO", "RUX", "WEN", "FOB", "TAZ",
             "MIRL", "DOX", "GUP", "SNEV", "YAT")
WORDS = {"sensitive", "innocuous", "privileged"}


def marks_of(answer) -> set[str] | None:
    """The words of an answer ("sensitive, privileged"; "innocuous"; a list of words), or
    None when a word is not one of ours."""
    if isinstance(answer, (list, tuple, set)):
        answer = " ".join(str(a) for a in answer)
    if not isinstance(answer, str):
        return None
    words = set(re.split(r"[^a-z]+", answer.lower())) - {"", "and"}
    return words if words and words <= WORDS and not {"sensitive", "innocuous"} <= words else None


def instruction(ins: dict) -> dict:
    """One instruction of a student's ISA, spelled out: name, sensitive, privileged, s_mode,
    u_mode (params keep only the name and where its behaviour is in BEHAVIOURS)."""
    sens, priv, s_mode, u_mode = BEHAVIOURS[ins["kind"]][ins["variant"]]
    return {"name": ins["name"], "sensitive": sens, "privileged": priv,
            "s_mode": s_mode.format(name=ins["name"]), "u_mode": u_mode}


def toy_isa_of(params) -> list[dict]:
    return [instruction(ins) for ins in params["isa"]]


def _isa_cases(params, rng):
    return [Case({"name": ins["name"]}, label=ins["name"]) for ins in params["isa"]]


def _judge_marks(params, case, value) -> list[Line]:
    name = case.inputs["name"]
    ins = next(i for i in toy_isa_of(params) if i["name"] == name)
    got = _answer_for(value, -1, (name, name.lower()))
    if got is None:
        return [Line(False, f"{name}: not marked yet")]
    words = marks_of(got)
    if words is None:
        return [Line(False, f"{name}: {got!r} -- use the words sensitive or innocuous, and "
                     "privileged if it is")]
    want = {"sensitive" if ins["sensitive"] else "innocuous"} | ({"privileged"} if ins["privileged"] else set())
    have = words | ({"innocuous"} if "sensitive" not in words else set())
    return [Line(have == want, f"{name}: {' and '.join(sorted(words))}" + ("" if have == want else " -- not quite"))]


def isa_prompt(p) -> str:
    rows = "\n".join(f"| `{i['name']}` | {i['s_mode']} | {i['u_mode']} |" for i in toy_isa_of(p))
    return ("Your toy ISA has two modes, user and supervisor. The guest OS runs in user mode "
            "under a trap-and-emulate hypervisor.\n\n| instruction | in supervisor mode | "
            f"in user mode |\n|---|---|---|\n{rows}\n\nFill in `marks[name]` with "
            "`\"sensitive\"` or `\"innocuous\"`, adding `\"privileged\"` when it is "
            "(e.g. `\"sensitive, privileged\"`). Then decide: by Popek and Goldberg's theorem 1, "
            "is this ISA classically virtualizable? Set `virtualizable = True` or `False`.")


def yes_no(answer) -> bool | None:
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str):
        return {"yes": True, "true": True, "no": False, "false": False}.get(answer.strip().lower().strip(".!"))
    return None


def _judge_virtualizable(params, value) -> Line:
    want = all(i["privileged"] for i in toy_isa_of(params) if i["sensitive"])
    got = yes_no(value)
    if got is None:
        return Line(False, f"virtualizable: {value!r} -- answer True or False", weight=2)
    return Line(got == want, f"virtualizable: {got}" + (
        "" if got == want else " -- look again at what each instruction does in user mode"), weight=2)


class ToyIsa(Answers):
    """``marks`` (one line per instruction) and ``virtualizable`` (one line, worth two)."""

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": "marks"},
                "virtualizable": {"kind": "value", "name": "virtualizable"}}

    def check(self, artifacts, params, cases):
        lines = super().check(artifacts, params, cases)
        art = artifacts.get("virtualizable")
        why = problem(art, "`virtualizable`")
        return lines + [Line(False, why, weight=2) if why else _judge_virtualizable(params, art["value"])]


@lab00.exercise(points=8, checker=ToyIsa("marks", _isa_cases, _judge_marks), prompt=isa_prompt,
                title="a toy ISA")
def toy_isa(rng):
    kinds = ["innocuous"] * 2 + ["privileged"] * 2 + [rng.choice(("innocuous", "privileged-only"))]
    if rng.random() < 0.5:                     # half of the ISAs hide a sensitive, unprivileged one
        kinds.append("sensitive")
    else:
        kinds.append(rng.choice(("privileged", "innocuous")))
    names = rng.sample(MNEMONICS, len(kinds))
    variants = {k: rng.sample(range(len(v)), len(v)) for k, v in BEHAVIOURS.items()}
    isa = [{"name": name, "kind": kind, "variant": variants[kind].pop()}   # no behaviour twice
           for kind, name in zip(kinds, names)]
    rng.shuffle(isa)
    return {"isa": isa}
