"""Lab 08's graded exercises: trap-and-emulate end to end.

1. ``reflection``: the student writes ``reflect(hart, cause, tval)``, delivering a trap into
   the guest as the hardware would.  Graded by booting teachos with it (the console must be
   the reference's) and by the lab 03 random programs with their traps, in lockstep with
   bare metal.
2. ``sbi_firmware``: the student writes ``sbi_call(hart, eid, fid, args)`` for BASE, TIME,
   the console (DBCN and legacy putchar) and SRST, announcing their own implementation id
   and version.  Graded by booting teachos (the paravirtual-console build: every byte is an
   SBI call) and by a seeded probe guest whose every answer is compared with the reference.
3. ``red_pill``: the student writes a guest program that tells whether it runs under the
   hypervisor.  Graded by running it bare and as a guest, several times each, under seeded
   conditions (start time, registers, the hypervisor's paths).
"""
from __future__ import annotations

import base64
import random

from vmlab.grading.checkers import problem, unusable
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.grading import lab03 as l3

lab08 = Assignment("lab08", title="Lab 08 -- trap and emulate end to end")
MASK64 = (1 << 64) - 1
SIE, SPIE, SPP, MIE, MPIE, MPP_SHIFT = 1 << 1, 1 << 5, 1 << 8, 1 << 3, 1 << 7, 11


# ---- the reference answers (what the grader compares with) ---------------------------------------
def reference_reflect(hart, cause: int, tval: int) -> None:
    """The trap goes to virtual S-mode when it came from vU/vS and medeleg delegates it,
    else to virtual M-mode; x-epc/cause/tval, the status stack, then the handler's pc."""
    st, priv = hart["mstatus"], hart.priv
    if priv <= 1 and hart["medeleg"] >> cause & 1:
        hart["sepc"], hart["scause"], hart["stval"] = hart.pc, cause, tval
        st = (st & ~(SIE | SPIE | SPP)) | (SPIE if st & SIE else 0) | (SPP if priv == 1 else 0)
        hart["mstatus"], hart.priv, hart.pc = st, 1, hart["stvec"] & ~3
    else:
        hart["mepc"], hart["mcause"], hart["mtval"] = hart.pc, cause, tval
        st = (st & ~(MIE | MPIE | 3 << MPP_SHIFT)) | (MPIE if st & MIE else 0) | priv << MPP_SHIFT
        hart["mstatus"], hart.priv, hart.pc = st, 3, hart["mtvec"] & ~3


EXT_BASE, EXT_TIME, EXT_SRST, EXT_DBCN = 0x10, 0x54494D45, 0x53525354, 0x4442434E
LEGACY_PUTCHAR = 0x01
IMPLEMENTED = (EXT_BASE, EXT_TIME, EXT_SRST, EXT_DBCN, LEGACY_PUTCHAR)
NOT_SUPPORTED, INVALID_PARAM = -2, -3
SPEC_V2 = 2 << 24


def reference_sbi(params: dict):
    """The firmware the exercise asks for, announcing ``params``' ids."""
    def base(hart, fid, a):
        answers = {0: SPEC_V2, 1: params["impl_id"], 2: params["impl_version"],
                   3: int(a[0] in IMPLEMENTED), 4: 0, 5: 0, 6: 0}
        return (0, answers[fid]) if fid in answers else (NOT_SUPPORTED, 0)

    def sbi_call(hart, eid, fid, a):
        if eid == LEGACY_PUTCHAR:
            hart.console_write(bytes([a[0] & 0xFF]))
            return 0, 0
        if eid == EXT_BASE:
            return base(hart, fid, a)
        if eid == EXT_TIME and fid == 0:
            hart.set_timer(a[0])
            return 0, 0
        if eid == EXT_DBCN and fid in (0, 2):
            data = hart.read_physical(a[1], a[0]) if fid == 0 else bytes([a[0] & 0xFF])
            hart.console_write(data)
            return 0, len(data) if fid == 0 else 0
        if eid == EXT_SRST and fid == 0 and a[0] == 0:
            hart.shutdown(failure=a[1] != 0)
            return 0, 0
        if eid == EXT_SRST and fid == 0:
            return INVALID_PARAM, 0
        return NOT_SUPPORTED, 0
    return sbi_call


# ---- booting teachos with the student's code ------------------------------------------------------
def boot_teachos(reflect=None, sbi_call=None, pv_console: bool = False) -> dict:
    """teachos as a guest with the given hooks: its console and how the run ended."""
    from vmlab.guests import teachos
    from vmlab.hv import Hypervisor, hooks
    from vmlab.machine import Machine
    vm = Hypervisor(Machine(ram_size=96 << 20)).create_vm(ram_size=64 << 20)
    kernel = teachos.build(pv_console=pv_console)
    vm.boot(kernel=kernel.elf)
    if reflect is not None:
        hooks.reflect(vm, reflect)
    if sbi_call is not None:
        hooks.sbi(vm, sbi_call)
    r = l3.run_bounded(vm, 60_000_000, max_exits=10_000)   # (it makes ~3,400)
    ticks = int.from_bytes(vm.mem.read(kernel.symbols["ticks"], 8), "little")
    return {"console": vm.console_output, "end": f"{r.reason} {r.exit_code}", "ticks": ticks}


def drive_teachos(fn, kind: str) -> dict:
    """Driver (student's process): teachos with the student's ``reflect`` or ``sbi_call``."""
    from vmlab.hv.hooks import HookError
    try:
        if kind == "reflect":
            return boot_teachos(reflect=fn)
        return boot_teachos(sbi_call=fn, pv_console=True)
    except HookError as exc:
        return {"error": str(exc)}


def drive_reflect_lockstep(fn, seed: int, steps: int) -> dict:
    """Driver: a lab 03 random program as a guest, its traps delivered by ``fn``."""
    from vmlab.hv import Hypervisor, hooks
    from vmlab.hv.hooks import HookError
    from vmlab.machine import Machine
    prog = l3.build(l3.program_source(seed, steps, True))
    vm = Hypervisor(Machine(ram_size=32 << 20)).create_vm(ram_size=16 << 20)
    vm.boot(kernel=prog.elf)
    hooks.reflect(vm, fn)
    try:
        r = l3.run_bounded(vm, l3.BUDGET)
    except HookError as exc:
        return {"error": str(exc)}
    v = vm.vcpus[0]
    return dict(l3.final_state(v.reg, v.csr), end="done" if r.reason == "halt" else r.reason)


def _console_line(label, got: dict, want: dict, hidden=False) -> Line:
    if "error" in got:
        return Line(False, f"{label}: {got['error']}", hidden=hidden)
    same = got.get("console") == want["console"] and got.get("end") == want["end"]
    if same and got.get("ticks", want.get("ticks")) != want.get("ticks"):
        return Line(False, f"{label}: the console is right, but the kernel took {got.get('ticks')} "
                    "timer interrupts where the reference's took more or fewer", hidden=hidden)
    if same:
        return Line(True, f"{label}: the same console as the reference, to `{want['end']}`",
                    hidden=hidden)
    out, ref = got.get("console", ""), want["console"]
    at = next((i for i, (a, b) in enumerate(zip(out, ref)) if a != b), min(len(out), len(ref)))
    line = out[:at].count("\n") + 1
    return Line(False, f"{label}: the console differs from the reference at line {line} "
                f"(the run ended with `{got.get('end')}`)", hidden=hidden)


class TeachosAndLockstep:
    """Boot teachos with the student's reflection, then lockstep programs (lab 03's)."""

    def __init__(self, name: str):
        self.name = name

    def cases(self, params, rng):
        return ([Case({"args": ["reflect"]}, label="teachos")]
                + [Case({"args": [params["seed"], 30]}, label="random program")]
                + [Case({"args": [rng.getrandbits(32), 40]}, True, f"hidden program {i + 1}")
                   for i in range(3)])

    def requests(self, params, cases):
        return {"boot": {"kind": "calls", "name": self.name, "driver": "vmlab.grading.lab08:drive_teachos",
                         "args": [cases[0].inputs["args"]]},
                "programs": {"kind": "calls", "name": self.name,
                             "driver": "vmlab.grading.lab08:drive_reflect_lockstep",
                             "args": [c.inputs["args"] for c in cases[1:]]}}

    def check(self, artifacts, params, cases):
        results = _all_results(artifacts, ("boot", "programs"), self.name, len(cases))
        if isinstance(results, Line):
            return [results]
        lines = [_console_line("teachos", _value(results[0]), boot_teachos())]
        for case, result in zip(cases[1:], results[1:]):
            want = l3.run_bare(l3.program_source(*case.inputs["args"], True))
            diff = l3.differences(_value(result), want)
            lines.append(Line(not diff, f"{case.label}: " + (
                "as on bare metal" if not diff else "differs: " + "; ".join(diff[:3])), hidden=case.hidden))
        return lines


def _all_results(artifacts, keys, name: str, n: int):
    """The driver results of every artifact in ``keys``, in order -- or one Line saying why
    there are none (nothing collected, the name not defined, ...)."""
    results = []
    for key in keys:
        art = artifacts.get(key)
        why = problem(art, f"`{name}`")
        if why:
            return Line(False, why, weight=n)
        results += list(art.get("results") or [])
    return results if len(results) == n else Line(False, f"`{name}`: wrong number of results", weight=n)


def _value(result: dict) -> dict:
    if not result.get("ok"):
        return {"error": f"raised {result.get('error')}"}
    return result.get("value") if isinstance(result.get("value"), dict) else {"error": "no result"}


@lab08.exercise(points=8, checker=TeachosAndLockstep("reflect"),
                prompt="Write **`reflect(hart, cause, tval)`**: deliver the trap at `hart.pc` "
                       "into the guest as the hardware would -- to virtual S-mode when the "
                       "guest was in U or S and `medeleg` delegates the cause, else to virtual "
                       "M-mode. It is graded by booting teachos with it, and on random "
                       "programs in lockstep with bare metal (yours: seed **{seed}**).")
def reflection(rng):
    return {"seed": rng.getrandbits(32)}


# ---- SBI: teachos and a probe guest ------------------------------------------------------------
PROBE_EIDS = (EXT_BASE, EXT_TIME, EXT_SRST, EXT_DBCN, 0x735049, 0x52464E43, 0x48534D, 0x535441,
              0x0A000001)


def probe_calls(seed: int) -> list[tuple[int, int, list[int]]]:
    """A seeded list of SBI calls (eid, fid, args): the probe guest makes them in turn."""
    rng = random.Random(seed)
    calls = [(EXT_BASE, f, [0]) for f in (0, 1, 2)]
    calls += [(EXT_BASE, 3, [eid]) for eid in rng.sample(PROBE_EIDS, 5)]
    calls += [(EXT_BASE, rng.choice((4, 5, 6, 7, 9)), [0]), (0x4000_0000 | rng.getrandbits(29), 0, [0]),
              (EXT_TIME, rng.choice((1, 2)), [0]), (EXT_DBCN, 1, [0, 0, 0])]
    rng.shuffle(calls)
    return calls + [(EXT_DBCN, 2, [ord("!")]), (EXT_DBCN, 0, [0, 0, 0]), (EXT_SRST, 0, [0, 0])]


def probe_source(seed: int) -> str:
    """The probe guest: each call, its (a0, a1) stored in ``answers``; DBCN write prints
    ``msg`` (its gpa filled in at run time), then a shutdown."""
    text = f"probe {seed:08x}\\n"
    lines = []
    for i, (eid, fid, args) in enumerate(probe_calls(seed)):
        lines += [f"li a7, {eid:#x}", f"li a6, {fid}"]
        lines += [f"li a{j}, {v:#x}" for j, v in enumerate(args)]
        if (eid, fid) == (EXT_DBCN, 0):
            lines += [f"li a0, {len(text) - 1}", "la a1, msg", "li a2, 0"]
        lines += ["ecall", "la t0, answers", f"sd a0, {16 * i}(t0)", f"sd a1, {16 * i + 8}(t0)"]
    body = "\n".join("        " + s for s in lines)
    return f"""
        .globl _start
_start:
{body}
1:      j 1b
        .data
msg:    .ascii "{text}"
        .balign 8
answers: .space {16 * len(probe_calls(seed))}
"""


def run_probe(seed: int, sbi_call) -> dict:
    from vmlab.asm import assemble
    from vmlab.hv import Hypervisor, hooks
    from vmlab.machine import Machine
    prog = assemble(probe_source(seed), 0x8000_0000, filename="probe.s")
    vm = Hypervisor(Machine(ram_size=32 << 20)).create_vm(ram_size=16 << 20)
    vm.boot(kernel=prog.elf)
    hooks.sbi(vm, sbi_call)
    r = l3.run_bounded(vm, 1_000_000)
    n = len(probe_calls(seed))
    raw = vm.mem.read(prog.symbols["answers"], 16 * n)
    words = [int.from_bytes(raw[8 * k:8 * k + 8], "little") for k in range(2 * n)]
    return {"console": vm.console_output, "end": f"{r.reason} {r.exit_code}",
            "answers": [f"{w:#x}" for w in words]}


def drive_probe(fn, seed: int) -> dict:
    from vmlab.hv.hooks import HookError
    try:
        return run_probe(seed, fn)
    except HookError as exc:
        return {"error": str(exc)}


def probe_differences(seed: int, got: dict, want: dict) -> list[str]:
    """Which calls were answered wrongly: named by extension and function, never the value."""
    if "error" in got:
        return [got["error"]]
    out = []
    for i, (eid, fid, args) in enumerate(probe_calls(seed)):
        if got.get("answers", [])[2 * i:2 * i + 2] != want["answers"][2 * i:2 * i + 2]:
            out.append(f"call {i + 1} (eid {eid:#x}, fid {fid}" + (f", a0 {args[0]:#x})" if args[0] else ")"))
    if got.get("console") != want["console"]:
        out.append("the console output")
    return out


class SbiChecker:
    def __init__(self, name: str):
        self.name = name

    def cases(self, params, rng):
        return ([Case({"args": ["sbi"]}, label="teachos (SBI console)"),
                 Case({"args": [params["seed"]]}, label=f"probe {params['seed']:#x}")]
                + [Case({"args": [rng.getrandbits(32)]}, True, f"hidden probe {i + 1}") for i in range(2)])

    def requests(self, params, cases):
        return {"boot": {"kind": "calls", "name": self.name, "driver": "vmlab.grading.lab08:drive_teachos",
                         "args": [cases[0].inputs["args"]]},
                "probes": {"kind": "calls", "name": self.name, "driver": "vmlab.grading.lab08:drive_probe",
                           "args": [c.inputs["args"] for c in cases[1:]]}}

    def check(self, artifacts, params, cases):
        results = _all_results(artifacts, ("boot", "probes"), self.name, len(cases))
        if isinstance(results, Line):
            return [results]
        ref = reference_sbi(params)
        lines = [_console_line(cases[0].label, _value(results[0]), boot_teachos(sbi_call=ref, pv_console=True))]
        for case, result in zip(cases[1:], results[1:]):
            seed = case.inputs["args"][0]
            diff = probe_differences(seed, _value(result), run_probe(seed, ref))
            lines.append(Line(not diff, f"{case.label}: " + ("every answer right" if not diff else
                              "wrong: " + "; ".join(diff[:4])), hidden=case.hidden))
        return lines


@lab08.exercise(points=8, checker=SbiChecker("sbi_call"),
                prompt="Write **`sbi_call(hart, eid, fid, args) -> (error, value)`**, the firmware "
                       "of a kernel in virtual S-mode: BASE (spec version 2.0, implementation id "
                       "**{impl_id:#x}**, implementation version **{impl_version}**, "
                       "probe_extension, the machine ids as 0), TIME set_timer, the console "
                       "(DBCN write and write_byte, legacy putchar) and SRST shutdown; anything "
                       "else is not supported. Graded by booting teachos's SBI-console build "
                       "and by probe guests (yours: seed **{seed:#x}**).")
def sbi_firmware(rng):
    return {"impl_id": rng.randrange(0x100, 0x10000), "impl_version": rng.randrange(1, 1000),
            "seed": rng.getrandbits(32)}


# ---- the red pill -----------------------------------------------------------------------------
PILL_BUDGET = 2_000_000
PARK = 0x80F0_0000          # bare metal: where M-mode "firmware" parks after the final ecall


def run_pill_bare(elf: bytes, entry: int, rng) -> int | None:
    """The program in S-mode on the bare machine; its a0 at the final ecall (None: no end)."""
    from vmlab.machine import Machine
    from vmlab.machine import layout as L
    from vmlab.machine.csr import STCE
    m = Machine(ram_size=16 << 20)
    m.load_elf(elf)
    m.write_mem(PARK, (0x6F).to_bytes(4, "little"))              # j .
    for name, value in (("medeleg", 0xB1FF), ("mideleg", 0x222), ("mcounteren", 7),
                        ("menvcfg", int(STCE) & MASK64), ("mtvec", PARK)):
        m.set_csr(name, value)
    m.dev[L.D_TICKS] = rng.randrange(1 << 40)                   # any time of day
    _scramble(m.set_reg, rng)
    m.priv, m.pc = 1, entry
    m.add_breakpoint(PARK)
    r = m.run(PILL_BUDGET)
    return m.reg(10) if r.reason == "breakpoint" else None


def run_pill_guest(elf: bytes, entry: int, rng) -> int | None:
    """The program as a guest (fast path on or off, either shadow strategy, any start time)."""
    from vmlab.hv import Hypervisor, hooks
    from vmlab.machine import Machine
    from vmlab.machine import layout as L
    m = Machine(ram_size=32 << 20)
    m.dev[L.D_TICKS] = rng.randrange(1 << 40)
    vm = Hypervisor(m).create_vm(ram_size=16 << 20, fast_exits=rng.random() < 0.5,
                                 shadow=rng.choice(("sfence", "write-protect")))
    vm.boot(kernel=elf)
    vm.vcpus[0].set_pc(entry)
    _scramble(vm.vcpus[0].set_reg, rng)
    answer = []

    def firmware(hart, eid, fid, args):            # any SBI call ends the run
        answer.append(args[0])
        hart.shutdown()
        return 0, 0
    hooks.sbi(vm, firmware)
    l3.run_bounded(vm, PILL_BUDGET)
    return answer[0] if answer else None


def _scramble(set_reg, rng) -> None:
    """Registers hold whatever the firmware left: the program may not count on zeros."""
    for i in range(1, 32):
        set_reg(i, rng.getrandbits(64))


class RedPill:
    """Run the student's program bare and as a guest, ``runs`` times each, seeded."""

    def __init__(self, name: str, runs: int = 3):
        self.name, self.runs = name, runs

    def cases(self, params, rng):
        return [Case({"where": where, "seed": rng.getrandbits(32)}, i >= 1,
                     f"{where} run {i + 1}") for where in ("bare", "guest") for i in range(self.runs)]

    def requests(self, params, cases):
        return {"program": {"kind": "program", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("program")
        failed = unusable(art, f"program `{self.name}`", cases)
        if failed:
            return failed
        elf, entry = base64.b64decode(art["elf"]), int(art["entry"])
        return [self._line(elf, entry, params, c) for c in cases]

    def _line(self, elf, entry, params, case) -> Line:
        rng = random.Random(case.inputs["seed"])
        guest = case.inputs["where"] == "guest"
        try:
            got = (run_pill_guest if guest else run_pill_bare)(elf, entry, rng)
        except Exception as exc:  # a program that does not load is a wrong answer
            return Line(False, f"{case.label}: could not run ({type(exc).__name__})", hidden=case.hidden)
        want = params["virtual"] if guest else params["bare"]
        if got is None:
            return Line(False, f"{case.label}: never reached its final ecall", hidden=case.hidden)
        return Line(got == want, f"{case.label}: a0 = {got}" + ("" if got == want else
                    f" -- the program thinks it runs {'bare' if got == params['bare'] else 'virtualized' if got == params['virtual'] else 'somewhere else'}"),
                    hidden=case.hidden)


@lab08.exercise(points=6, checker=RedPill("red_pill"),
                prompt="Write the program **`red_pill`** (assembly, `_start` in S-mode): it ends "
                       "with `ecall` and **`a0 = {virtual}`** when it runs under the hypervisor, "
                       "**`a0 = {bare}`** on bare metal. It runs three times each way, from any "
                       "time of day, with any values in the registers, under either of the "
                       "hypervisor's paths.")
def red_pill(rng):
    bare = rng.randrange(1, 100)
    return {"bare": bare, "virtual": bare + rng.randrange(1, 100)}
