"""Run one random guest on a target and check the robustness promises.

Targets: ``bare`` (the guest owns a :class:`~vmlab.machine.Machine`; it starts in its mode
with its CSRs written as M-mode firmware would) and ``hv`` (the guest is a VM of a
:class:`~vmlab.hv.Hypervisor`, in virtual M, S or U mode, beside a victim VM whose frames
it must never change).  What must hold, whatever the guest does:

* the host raises nothing (every exception is a finding, with its traceback);
* the run ends within its budget: at most ``budget`` instructions over at most
  ``MAX_CALLS`` run calls, and before a generous watchdog fires (a hang detector, not a
  speed check: the watchdog interrupts the run as Ctrl-C would);
* the state stays well formed: pc, registers and CSRs are 64-bit values, x0 is zero, the
  privilege is U, S or M, and the machine still answers a step;
* (hv) isolation: no host frame outside the guest's own and its shadow tables changed, and
  the victim still owns all of its frames.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vmlab.fuzz.guest import MODES, Guest, make_guest
from vmlab.hv.memory import FrameAllocator
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64, i64
from vmlab.machine.csr import csr_write
from vmlab.machine.names import CAUSE_NAMES, INTERRUPT_NAMES

GUEST_RAM = 4 << 20
HOST_RAM = 12 << 20              # the hypervisor's machine: guest, victim, shadow tables
VICTIM_RAM = 1 << 20
BASE = L.RAM_BASE                # where both targets load the image (a raw kernel goes here)
DRIVE_BYTES = 64 << 10
MAX_CALLS = 64
WATCHDOG_S = 120.0               # far above any run's real time: a hang detector
TARGETS = ("bare", "hv", "paths")
#: reasons after which running on cannot do anything new
FINAL = {"halt", "idle", "interrupted", "reset"}


@dataclass
class Outcome:
    target: str
    seed: int
    mode: str
    paging: bool
    budget: int
    reason: str = ""
    instructions: int = 0
    calls: int = 0
    causes: Counter = field(default_factory=Counter)
    finding: str | None = None

    def describe(self) -> str:
        return (f"{self.target} seed={self.seed} mode={self.mode} paging={self.paging} "
                f"budget={self.budget}")


class Watchdog:
    """Interrupt a run that takes longer than ``seconds`` of wall time, exactly as Ctrl-C
    would (the run loops return "interrupted").  Only in the main thread, where Python
    delivers signals; elsewhere it does nothing."""

    def __init__(self, seconds: float):
        self.seconds, self.fired = seconds, False
        self.armed = seconds > 0 and threading.current_thread() is threading.main_thread() \
            and hasattr(signal, "setitimer")

    def _fire(self, signum, frame) -> None:
        self.fired = True
        signal.raise_signal(signal.SIGINT)

    def __enter__(self) -> "Watchdog":
        if self.armed:
            self._old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


# ------------------------------------------------------------------------ the bare machine
def start_bare(m: Machine, g: Guest) -> None:
    m.write_mem(g.base, g.image)
    for num, value in g.csrs.items():
        csr_write(m.cpu[0], num, i64(value))      # WARL: as M-mode firmware writes them
    m.set_csr("pmpaddr0", (1 << 54) - 1)           # one NAPOT region: S and U may touch all
    m.set_csr("pmpcfg0", 0x1F)
    for i, v in g.regs.items():
        m.set_reg(i, v)
    m.priv, m.pc = MODES[g.mode], g.entry


def run_bare(g: Guest, budget: int, drive: str, out: Outcome) -> None:
    m = Machine(ram_size=GUEST_RAM, drive=drive)
    try:
        start_bare(m, g)
        _run_loop(lambda n: m.run(instructions=n), budget, out)
        out.causes.update(m.counters["traps"])
        check_state(m.pc, [m.reg(i) for i in range(32)], m.priv)
        if out.reason not in ("halt",):
            m.step()                                # the machine still answers
    finally:
        m.close()


def check_state(pc: int, regs: list[int], priv: int) -> None:
    """pc and registers are unsigned 64-bit values, x0 is zero, the privilege exists."""
    for name, v in [("pc", pc)] + [(f"x{i}", r) for i, r in enumerate(regs)]:
        if not (isinstance(v, int) and 0 <= v <= MASK64):
            raise AssertionError(f"{name} = {v!r} is not a 64-bit value")
    if regs[0] != 0:
        raise AssertionError(f"x0 = {regs[0]:#x}")
    if priv not in (L.PRIV_U, L.PRIV_S, L.PRIV_M):
        raise AssertionError(f"privilege {priv}")


def _run_loop(run, budget: int, out: Outcome) -> None:
    """Call ``run(n)`` until the budget is spent or the guest stops; check each call."""
    while out.instructions < budget and out.calls < MAX_CALLS:
        want = budget - out.instructions
        r = run(want)
        out.calls += 1
        if not 0 <= r.instructions <= want:
            raise AssertionError(f"a run of {want} instructions reported {r.instructions}")
        out.instructions += r.instructions
        out.reason = r.reason
        if r.reason in FINAL:
            return


# ------------------------------------------------------------------------ the hypervisor
def start_hv(vm, g: Guest) -> None:
    """Boot the image as a kernel (vS, SBI from the hypervisor), then put the vCPU in the
    guest's mode: vM means the guest is its own firmware (no SBI from the hypervisor)."""
    vm.boot(kernel=g.image)
    v = vm.vcpus[0]
    for num, value in g.csrs.items():
        csr_write(v.row, num, i64(value))
    for i, value in g.regs.items():
        v.set_reg(i, value)
    v.row[L.PRIV], v.row[L.PC] = MODES[g.mode], i64(g.entry)
    if g.mode == "M":
        vm.sbi_from_hv = False
    if g.mode != "S" and 0x302 not in g.csrs:
        # the image's one gigapage is a U page in U mode, where the vS handler could not
        # run: traps go to the vM handler, as on the bare machine after reset
        v.row[L.MEDELEG] = v.row[L.MIDELEG] = 0


def host_frames(frames: FrameAllocator) -> tuple[np.ndarray, np.ndarray]:
    return frames.owner.copy(), frames.ram.reshape(-1, 4096).copy()


def isolation_holds(frames: FrameAllocator, vm_id: int, before) -> str | None:
    """None, or which frame outside the guest's own (and its shadow tables) changed."""
    owners, pages = before
    mine = (frames.owner == vm_id) | (frames.owner == FrameAllocator.SHADOW)
    now = frames.ram.reshape(-1, 4096)
    changed = np.flatnonzero((now != pages).any(axis=1) & ~mine)
    if changed.size:
        return f"host frame {int(changed[0])} (owner {int(owners[changed[0]])}) changed"
    held = (owners >= 0) & (owners != vm_id)
    if not np.array_equal(frames.owner[held], owners[held]):
        return "another VM lost a frame"
    return None


def run_hv(g: Guest, budget: int, drive: str, out: Outcome) -> None:
    hv = Hypervisor(Machine(ram_size=HOST_RAM))
    victim = hv.create_vm(ram_size=VICTIM_RAM)
    for k in range(0, VICTIM_RAM, 64 << 10):       # back some victim frames with a pattern
        victim.mem.write(L.RAM_BASE + k, bytes([k >> 16 | 0xA0]) * 4096)
    vm = hv.create_vm(ram_size=GUEST_RAM, drive=drive)
    try:
        start_hv(vm, g)
        before = host_frames(hv.frames)
        _run_loop(lambda n: vm.run(instructions=n), budget, out)
        out.causes.update(_exit_names(vm.trace.by_cause()))
        v = vm.vcpus[0]
        check_state(v.pc, [v.reg(i) for i in range(32)], v.priv)
        broken = isolation_holds(hv.frames, vm.id, before)
        if broken:
            raise AssertionError(f"isolation: {broken}")
    finally:
        vm.close_devices()


def _exit_names(by_cause: dict[int, int]) -> Counter:
    names = Counter()
    for cause, n in by_cause.items():
        code = cause & ~(1 << 63) & MASK64
        table = INTERRUPT_NAMES if cause >> 63 & 1 or cause < 0 else CAUSE_NAMES
        names[table.get(code & 0xFFFF, str(code))] += n
    return names


# ------------------------------------------------------------------- the two exit paths
def run_paths(g: Guest, budget: int, drive: str, out: Outcome) -> None:
    """The guest as a VM twice, its exits handled in Python (the reference) and then by the
    compiled fast path: the promise of one trace either way (vmlab.hv.fastpath) holds for
    anything a guest does, not only for the guests we wrote -- the same trace record for
    record, registers, clock, console, memory and pager counters."""
    seen = []
    for fast in (False, True):
        with open(drive, "r+b") as f:           # the same blank drive for both runs
            f.write(bytes(DRIVE_BYTES))
        vm = Hypervisor(Machine(ram_size=HOST_RAM)).create_vm(
            ram_size=GUEST_RAM, drive=drive, fast_exits=fast)
        try:
            start_hv(vm, g)
            run = out if not fast else Outcome(out.target, g.seed, g.mode, g.paging, budget)
            _run_loop(lambda n: vm.run(instructions=n), budget, run)
            seen.append((run.instructions, run.reason) + path_summary(vm))
        finally:
            vm.close_devices()
    if seen[0] != seen[1]:
        raise AssertionError(f"the fast path differs from the Python path: "
                             f"{first_difference(*seen)}")
    out.causes.update(_exit_names(vm.trace.by_cause()))


#: what path_summary returns, in order (for first_difference's message)
SUMMARY = ("instructions", "stop reason", "trace", "vCPU row", "clock", "console",
           "guest RAM", "shadow counters", "SBI calls")


def path_summary(vm) -> tuple:
    """What must not depend on the exit path.  (root_cache_hits counts entries into the
    guest, which the fast path makes fewer of: it is left out.)"""
    rec = vm.trace.records()
    fields = [f for f in rec.dtype.names if f != "seq"]
    ram = []
    for gpa in range(vm.mem.gpa_base, vm.mem.gpa_base + GUEST_RAM, 4096):
        hpa = vm.mem.hpa(gpa, allocate=False)  # (a page without a frame reads as zeros)
        data = None if hpa is None else vm.machine.read_mem(hpa, 4096)
        ram.append(None if data is None or not any(data) else hash(data))
    shadow = {k: v for k, v in vm.shadow.counters.items() if k != "root_cache_hits"}
    return (rec[fields].tolist(), vm.vcpus[0].row.tolist(), vm.time(), vm.console_bytes,
            ram, shadow, dict(vm.sbi_calls))


def first_difference(a: tuple, b: tuple) -> str:
    """Where two path summaries first differ, in one line."""
    for name, x, y in zip(SUMMARY, a, b):
        if x == y:
            continue
        if isinstance(x, list) and isinstance(y, list):
            i = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            return (f"{name}, entry {i} of {len(x)} / {len(y)}: "
                    f"{x[i] if i < len(x) else '-'} / {y[i] if i < len(y) else '-'}")
        return f"{name}: {x!r:.80} / {y!r:.80}"
    return "nothing"


# -------------------------------------------------------------------------------- one run
RUNNERS = {"bare": run_bare, "hv": run_hv, "paths": run_paths}


def run_guest(target: str, g: Guest, budget: int, watchdog: float = WATCHDOG_S) -> Outcome:
    """Run ``g`` on ``target``; a broken promise is ``Outcome.finding`` (never raised)."""
    out = Outcome(target, g.seed, g.mode, g.paging, budget)
    fd, drive = tempfile.mkstemp(prefix="vmlab-fuzz-", suffix=".img")
    os.write(fd, bytes(DRIVE_BYTES))
    os.close(fd)
    dog = Watchdog(watchdog)
    try:
        with dog:
            RUNNERS[target](g, budget, drive, out)
        if dog.fired or out.reason == "interrupted":
            out.finding = f"overrun: still running after {watchdog:g} s"
    except KeyboardInterrupt:
        if not dog.fired:
            raise                                   # the user's own Ctrl-C
        out.finding = f"overrun: still running after {watchdog:g} s"
    except (AssertionError, Exception) as exc:     # noqa: BLE001 -- that is the point
        out.finding = _short_traceback(exc)
    finally:
        os.unlink(drive)
    return out


def _short_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/vmlab/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(exc).__name__}: {exc} [{where}]"


def fuzz_one(target: str, seed: int, mode: str, paging: bool, words: int, budget: int,
             watchdog: float = WATCHDOG_S, mix: tuple[str, ...] | None = None) -> Outcome:
    """Generate the guest for ``seed`` and run it: what a reproducer replays."""
    g = make_guest(seed, mode, paging, words, BASE, GUEST_RAM, mix)
    return run_guest(target, g, budget, watchdog)
