"""The graded exercises of lab 09 (shadow paging).

1. ``shadow_perms``: the student writes the rule that turns one guest leaf into the R/W/X
   of its shadow leaf, graded on every combination against the hypervisor's own rule
   (:func:`vmlab.hv.shadow_build.shadow_perms`).
2. ``fill_handler``: the student writes the fill (walk the guest's tables, set A/D, compose
   with gpa -> hpa, write the shadow PTE), installed with ``vm.shadow.set_fill``; graded by
   booting guests on it -- teachos, and seeded guests with clean pages -- against the
   reference's console and every fill's answer.
3. ``coherence``: two seeded workloads; the student runs each under both coherence
   strategies, quotes the exit counts and chooses the cheaper strategy for each.
"""
from __future__ import annotations

from vmlab import sv39
from vmlab.grading.checkers import PythonCalls
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.sv39 import PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

lab09 = Assignment("lab09", title="Lab 09 -- shadow paging")

CONTEXTS = [(vpriv, s, m) for vpriv in ("S", "U") for s in (False, True) for m in (False, True)]
_FREE_BITS = (PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A)


def guest_ptes(dirty: bool, ppn: int = 0x80123) -> list[int]:
    """Every valid guest leaf (and pointer) flag combination, D = ``dirty``: 64 words."""
    out = []
    for combo in range(1 << len(_FREE_BITS)):
        flags = PTE_V | (PTE_D if dirty else 0)
        flags |= sum(bit for i, bit in enumerate(_FREE_BITS) if combo >> i & 1)
        out.append(ppn << 10 | flags)
    return out


def reference_perms(guest_pte: int, vpriv: str, sum: bool, mxr: bool, dirty: bool) -> int:
    """The hypervisor's rule, in the student's signature (``dirty`` is the PTE's D bit)."""
    from vmlab.hv.shadow_build import shadow_perms
    pte = (guest_pte & ~PTE_D) | (PTE_D if dirty else 0)
    return shadow_perms(pte, vpriv, sum, mxr)


def perms_table(fn, vpriv: str, sum: bool, mxr: bool) -> list:
    """Driver: ``fn`` on every guest leaf of one context (128 calls), the answers in order
    (R/W/X bits only: anything else the function returns is a wrong answer as it is)."""
    return [_int_or_text(fn(pte, vpriv, sum, mxr, dirty))
            for dirty in (False, True) for pte in guest_ptes(dirty)]


def _int_or_text(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def _perm_cases(params, rng):
    return [Case({"args": [v, s, m]}, label=f"v{v}, SUM={int(s)}, MXR={int(m)}")
            for v, s, m in CONTEXTS]


def _perm_reference(params, vpriv, sum, mxr):
    return [reference_perms(pte, vpriv, sum, mxr, d) for d in (False, True) for pte in guest_ptes(d)]


class Judged(PythonCalls):
    """PythonCalls whose lines say how a result is wrong (``judge(got, want, case)``) without
    printing the expected value."""

    def __init__(self, *args, judge, **kwargs):
        super().__init__(*args, **kwargs)
        self.judge = judge

    def _line(self, case, result, params) -> Line:
        where = case.label
        if not result.get("ok"):
            return Line(False, f"{where}: raised {result.get('error')}", hidden=case.hidden)
        ok, text = self.judge(result.get("value"), self.expected(params, case.inputs["args"]), case)
        return Line(ok, f"{where}: {text}", hidden=case.hidden)


def _judge_perms(got, want, case) -> tuple[bool, str]:
    if not isinstance(got, list) or len(got) != len(want):
        return False, "the driver got no list of answers back"
    wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    if not wrong:
        return True, f"all {len(want)} guest PTEs right"
    i = wrong[0]
    dirty, pte = i >= 64, guest_ptes(i >= 64)[i % 64]
    return False, (f"{len(wrong)} of {len(want)} wrong, e.g. guest flags {sv39.flag_string(pte)}"
                   f" (dirty={dirty}) got {got[i]!r}")


@lab09.exercise(points=6, checker=Judged("shadow_perms", _perm_cases, _perm_reference,
                                         driver="vmlab.grading.lab09:perms_table",
                                         judge=_judge_perms),
                prompt="Write **`shadow_perms(guest_pte, vpriv, sum, mxr, dirty)`**: the R/W/X "
                       "bits (`sv39.PTE_R | PTE_W | PTE_X`, nothing else) of the shadow leaf "
                       "the hypervisor builds from guest leaf `guest_pte` for a vCPU in virtual "
                       "privilege `vpriv` (`\"S\"` or `\"U\"`) with sstatus.SUM = `sum` and "
                       "MXR = `mxr`; `dirty` is the guest PTE's D bit after the fill's walk. "
                       "Try it first by hand on **`{example:#x}`** in v{vpriv}, SUM={sum}, "
                       "MXR={mxr}. It is graded on every flag combination in all 8 contexts.")
def shadow_perms(rng):
    flags = PTE_V | PTE_A | rng.choice((PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X, PTE_R | PTE_W | PTE_X))
    flags |= rng.choice((0, PTE_U)) | rng.choice((0, PTE_D))
    return {"example": rng.randrange(0x80000, 0x88000) << 10 | flags,
            "vpriv": rng.choice("SU"), "sum": rng.randrange(2), "mxr": rng.randrange(2)}


# ---- guests: teachos, and seeded small kernels (vmlab.guests.nano's, with a loop of ours) -------
def nano_program(body: str, n: int, data_flags: int = 0xC7):
    """The nanobenchmark kernel (vmlab.guests.nano) running ``body`` ``n`` times, its 511
    data pages mapped with ``data_flags`` (0xC7 = V R W A D; 0x07 = V R W, clean)."""
    from vmlab.asm import assemble
    from vmlab.guests import nano
    old = (nano.DATA_GPA >> 12 << 10) | 0xC7
    kernel = nano.KERNEL.replace(str(old), str((nano.DATA_GPA >> 12 << 10) | data_flags), 1)
    loop = "\n7:  beqz    s0, 8f\n    {body}\n    addi    s0, s0, -1\n    j       7b\n8:  j       finish"
    src = nano.FIRMWARE + kernel.format(n=int(n), setup="", loop=loop.format(body=body),
                                        user_loop="9:  j 9b")
    return assemble(src, filename="lab09-guest.s")


def touch_body(pages: int, stores: int, flush: bool) -> str:
    """Load ``pages`` data pages (storing into the first ``stores``), load from the hole
    (the guest's own fault), print one '.', and maybe flush everything."""
    return f"""
    li      a4, {pages}
    li      a3, {stores}
    mv      a5, s7
4:  ld      t2, 0(a5)
    blez    a3, 5f
    sd      t2, 8(a5)
    addi    a3, a3, -1
5:  add     a5, a5, s2
    addi    a4, a4, -1
    bnez    a4, 4b
    ld      t2, 0(s4)
    sb      s9, 0(s3)
    {"sfence.vma zero, zero" if flush else "nop"}"""


def workload_body(writes: int, touches: int) -> str:
    """One round of a coherence workload: rewrite ``writes`` data-page PTEs (flipping their
    frame), one full ``sfence.vma``, then touch ``touches`` data pages."""
    return f"""
    li      a4, {writes}
    mv      a2, s6
    beqz    a4, 5f
3:  ld      t3, 0(a2)
    xor     t3, t3, s8
    sd      t3, 0(a2)
    addi    a2, a2, 8
    addi    a4, a4, -1
    bnez    a4, 3b
5:  sfence.vma zero, zero
    li      a4, {touches}
    mv      a5, s7
4:  ld      t2, 0(a5)
    add     a5, a5, s2
    addi    a4, a4, -1
    bnez    a4, 4b"""


def make_vm(shadow: str = "sfence", fast_exits: bool = True):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    return Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, shadow=shadow,
                                                            fast_exits=fast_exits)


def boot(vm, guest: dict):
    """Boot ``guest`` (a dict: kind teachos, touch or workload) in ``vm``; run it to the end."""
    if guest["kind"] == "teachos":
        from vmlab.guests import teachos
        prog = teachos.build()
        vm.boot(kernel=prog.elf)
    else:
        body = (touch_body(guest["pages"], guest["stores"], guest["flush"])
                if guest["kind"] == "touch" else workload_body(guest["writes"], guest["touches"]))
        prog = nano_program(body, guest["rounds"], guest.get("data_flags", 0xC7))
        vm.boot(kernel=prog.elf)
        vm.vcpus[0].set_pc(prog.symbols["s_start"])
    return run_bounded(vm)


#: a guest's budget: teachos halts after ~24 M instructions and ~4,600 trace records; a
#: wrong fill handler may leave its guest faulting in a loop, each exit a trip through Python
MAX_INSTRUCTIONS, MAX_RECORDS, CHUNK = 40_000_000, 12_000, 20_000


def run_bounded(vm):
    """Run to the end, or until the budget or the record cap says the guest is stuck."""
    done = 0
    while True:
        r = vm.run(instructions=CHUNK)
        done += r.instructions
        stuck = r.instructions == 0 and r.reason == "idle"     # waiting for nothing
        if vm.stopped or stuck or done >= MAX_INSTRUCTIONS or len(vm.trace) >= MAX_RECORDS:
            return r


def run_workload(workload: dict, shadow: str):
    """A coherence workload under one strategy, run to the end; the VM (its trace, its
    shadow counters) for the student to read."""
    vm = make_vm(shadow)
    boot(vm, dict(workload, kind="workload"))
    return vm


# ---- the fill handler, checked fill by fill ------------------------------------------------------
class FillLog:
    """Every fill the student's handler made, against what the reference would have done."""

    def __init__(self):
        self.fills, self.wrong, self.first = 0, 0, ""

    def note(self, req, want, got, ad_ok: bool) -> None:
        self.fills += 1
        if got == want and ad_ok:
            return
        self.wrong += 1
        if not self.first:
            what = ("the guest PTE's A/D bits are not what the hardware would leave" if got == want
                    else _difference(want, got))
            self.first = f"{req.access} at gva {req.gva:#x} (v{req.priv}): {what}"


def _difference(want, got) -> str:
    if want[0] != got[0]:
        said = {"fault": "a guest fault", "map": "a shadow leaf", "outside": "a gpa outside RAM"}
        return f"you gave {said[got[0]]}, which is not the right kind of answer here"
    if want[0] == "fault":
        return f"cause {got[1]} is not the fault the hardware would take"
    if want[1] != got[1]:
        return f"your leaf maps gpa page {got[1]:#x}, not the page the guest's tables name"
    return f"your leaf's permissions {sv39.flag_string(got[2])[1:4]} are not the hypervisor's"


def _expected(req):
    """What the reference fill would do, computed before the student's fill runs."""
    from vmlab.hv.shadow_build import shadow_perms as rule
    shadow = req._shadow
    w = sv39.walk(shadow.guest_read64, req.satp, req.gva, req.access, priv=req.priv,
                  sum=req.sum, mxr=req.mxr)
    if not w.ok:
        return ("fault", w.fault), None
    if not shadow.vm.mem.contains(w.pa):
        return ("outside", w.pa >> 12), None
    new = w.leaf.pte | PTE_A | (PTE_D if req.access == "store" else 0)
    return ("map", w.pa >> 12, rule(new, req.priv, req.sum, req.mxr)), (w.leaf.pte_pa, new)


def checked(fn, log: FillLog):
    """``fn`` as a fill hook that also notes, for every fill, whether it matched."""
    from vmlab.hv.shadow_fill import NotGuestRam, fill_name

    def fill(req):
        want, leaf = _expected(req)
        try:
            fn(req)
        except NotGuestRam as out:
            log.note(req, want, ("outside", out.gpa >> 12), True)
            raise
        if req.fault is not None or req.shadow_pte is None:
            got = ("fault", req.fault)
        else:
            gpa, perms, _, _ = req.leaf()
            got = ("map", gpa >> 12, perms)
        ad_ok = leaf is None or req._shadow.guest_read64(leaf[0]) == leaf[1]
        log.note(req, want, got, ad_ok)
    fill.__name__ = fill_name(fn)
    return fill


def boot_with_fill(fn, guest: dict) -> dict:
    """Driver: boot ``guest`` with ``fn`` as the VM's shadow fill; what it printed, how it
    ended, and how many fills differed from the reference's."""
    vm, log = make_vm(guest.get("shadow", "sfence"), fast_exits=False), FillLog()
    vm.shadow.set_fill(checked(fn, log))
    try:
        r = boot(vm, guest)
    except Exception as exc:
        return {"error": fill_error(exc), "fills": log.fills}
    return {"console": vm.console_output, "reason": r.reason, "fills": log.fills,
            "wrong": log.wrong, "first": log.first}


def fill_error(exc: Exception) -> str:
    """The one line a student reads: the FillError a handler caused (the hypervisor's
    exit loop wraps it, with where the guest was), or anything else as it is."""
    from vmlab.hv.shadow_fill import FillError
    cause = exc
    while cause is not None and not isinstance(cause, FillError):
        cause = cause.__cause__
    if cause is None:
        raise exc
    return str(cause)


def reference_boot(params, guest: dict) -> dict:
    vm = make_vm(guest.get("shadow", "sfence"), fast_exits=False)
    r = boot(vm, guest)
    return {"console": vm.console_output, "reason": r.reason}


def _judge_fill(got, want, case) -> tuple[bool, str]:
    if not isinstance(got, dict):
        return False, "the driver got nothing back"
    if "error" in got:
        return False, got["error"]
    if got["wrong"]:
        return False, f"{got['wrong']} of {got['fills']} faults answered wrong; the first: {got['first']}"
    if (got["reason"], got["console"]) != (want["reason"], want["console"]):
        same = next((i for i, (a, b) in enumerate(zip(got["console"], want["console"])) if a != b),
                    min(len(got["console"]), len(want["console"])))
        return False, f"the guest ended with {got['reason']!r}; its console differs from character {same}"
    return True, f"{got['fills']} faults through your handler, all right; the same console as the reference"


def touch_guest(rng, shadow: str = "sfence") -> dict:
    return {"kind": "touch", "pages": rng.randrange(3, 12), "stores": rng.randrange(1, 4),
            "flush": bool(rng.randrange(2)), "rounds": rng.randrange(2, 5), "data_flags": 0x07,
            "shadow": shadow}


def _fill_cases(params, rng):
    return [Case({"args": [{"kind": "teachos"}]}, label="teachos boots on your fill"),
            Case({"args": [params["guest"]]}, label="your guest: clean pages, a hole, the UART"),
            Case({"args": [touch_guest(rng, "write-protect")]}, True, "hidden guest 1"),
            Case({"args": [touch_guest(rng)]}, True, "hidden guest 2")]


@lab09.exercise(points=10, checker=Judged("fill", _fill_cases, reference_boot,
                                          driver="vmlab.grading.lab09:boot_with_fill",
                                          judge=_judge_fill),
                prompt=lambda p: (
                    "Write the fill handler **`fill(req)`** and install it with "
                    "`vm.shadow.set_fill(fill)`: walk the guest's tables from `req.satp` with "
                    "`req.read_guest64`, decide from the leaf whether the guest may make this "
                    "`req.access` (else `req.guest_fault(cause)`), set A (and D for a store) "
                    "with `req.write_guest64`, find the 4 KiB guest-physical page inside the "
                    "leaf's page, compose it with `req.hpa_of`, and `req.write_shadow(pte)` "
                    "with your `shadow_perms`. It is graded by booting teachos and your own "
                    f"guest (`lab09.boot(vm, {p['guest']!r})`: {p['guest']['pages']} data "
                    "pages mapped *clean*, a load from a hole, a byte to the UART) on it, and "
                    "hidden guests (one under write-protect), every fill compared with the "
                    "hypervisor's."))
def fill_handler(rng):
    return {"guest": touch_guest(rng)}


# ---- coherence: sfence or write-protect? ---------------------------------------------------------
STRATEGY_KEYS = {"sfence": "exits_sfence", "write-protect": "exits_write_protect"}


def workload_exits(workload: dict) -> dict:
    """The truth for one workload: total exits under each strategy."""
    from vmlab.hv.trace import EXIT
    return {key: run_workload(workload, s).trace.count(EXIT) for s, key in STRATEGY_KEYS.items()}


class CoherenceChoice:
    """The student's dict ``coherence``: per workload, the two exit counts they measured and
    the strategy they chose.  The grader runs both here: the numbers must match, and the
    choice must be the strategy with fewer exits."""

    name = "coherence"

    def cases(self, params, hidden_rng):
        return [Case({"workload": label}, label=f"workload {label}") for label in sorted(params["workloads"])]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers") or {}
        if "value" not in art or not isinstance(art["value"], dict):
            return [Line(False, f"`{self.name}`: no dict to grade (did the notebook run to the end?)",
                         weight=2 * len(cases))]
        lines = []
        for case in cases:
            label = case.inputs["workload"]
            mine = art["value"].get(label)
            lines += self._workload(case.label, mine if isinstance(mine, dict) else {},
                                    workload_exits(params["workloads"][label]))
        return lines

    @staticmethod
    def _workload(where: str, mine: dict, truth: dict) -> list[Line]:
        numbers = all(mine.get(k) == v and type(mine.get(k)) is int for k, v in truth.items())
        said = ", ".join(f"{k} = {mine.get(k)!r}" for k in truth)
        best = min(STRATEGY_KEYS, key=lambda s: truth[STRATEGY_KEYS[s]])
        choice = mine.get("choice")
        if choice not in STRATEGY_KEYS:
            chose = Line(False, f"{where}: choice {choice!r} is not 'sfence' or 'write-protect'")
        else:
            chose = Line(choice == best, f"{where}: you chose {choice}" +
                         ("" if choice == best else ", which takes more exits on this workload"))
        return [Line(numbers, f"{where}: {said}" + ("" if numbers else " -- not what the run gives")),
                chose]


def _workload(rng, heavy_writes: bool) -> dict:
    if heavy_writes:
        writes = rng.randrange(6, 13)
        return {"writes": writes, "touches": writes, "rounds": rng.randrange(8, 16)}
    return {"writes": rng.randrange(0, 2), "touches": rng.randrange(6, 15),
            "rounds": rng.randrange(8, 16)}


@lab09.exercise(points=6, checker=CoherenceChoice(),
                prompt=lambda p: (
                    "Two workloads: " + "; ".join(
                        f"**{k}** rewrites {w['writes']} PTEs, runs one `sfence.vma` and "
                        f"touches {w['touches']} pages, {w['rounds']} times"
                        for k, w in sorted(p["workloads"].items())) +
                    ". Run each under both strategies (`lab09.run_workload(P['workloads']"
                    "['A'], 'sfence')`, then `'write-protect'`), count the exits in each "
                    "trace, and choose for each the strategy with fewer. Fill in "
                    "`coherence` with the counts you measured and your choices."))
def coherence(rng):
    heavy = rng.randrange(2)
    return {"workloads": {"A": _workload(rng, heavy == 0), "B": _workload(rng, heavy == 1)}}
