"""The host: P physical CPUs, any number of VMs x vCPUs, and a policy deciding who runs.

Time is simulated only.  Each pCPU has its own clock; the host advances all of them in
lock-step *windows* (``window_ns``): in a window, pCPU 0 runs to the window's end, then
pCPU 1, ... -- so a decision on one pCPU sees the others at most one window apart, and the
same VMs, inputs and policy always give the same schedule and the same trace.

The vCPUs really run (``VCpu.run(budget)``, the hypervisor's KVM_RUN, on the machine's hart);
before a vCPU runs on pCPU p the machine's clock is set to p's clock, so the guest reads the
time of the pCPU it is on.  A stretch ends at the slice's end, the pCPU's next tick, the
window's end or the policy's next event, whichever comes first -- or at the guest's exit.

A vCPU waiting in ``wfi`` with nothing pending is *blocked*: it leaves its pCPU, and wakes
when an interrupt becomes pending (its timer, an IPI, a device).  A vCPU that calls the
paravirtual yield gives its pCPU away at once.  Every decision is a SCHED trace record.
"""
from __future__ import annotations

import hashlib

from vmlab.hv.sched import events as E
from vmlab.hv.sched.policy import BLOCKED, MS, OFFLINE, READY, RUNNING, VCpuView
from vmlab.hv.sched.rr import RoundRobin
from vmlab.hv.trace import SCHED, Trace
from vmlab.machine import layout as L
from vmlab.machine.loop import wants_wake
from vmlab.machine.sigint import CtrlCFlag

MAX_PCPUS = 8
FAR = 1 << 62


class SchedError(Exception):
    """A request the host cannot follow (bad pCPU count, unknown vCPU, ...)."""


def report_steal(v, preempted: bool) -> None:
    """SBI STA: write the vCPU's steal time (ns it was runnable but not running) and
    whether it is preempted into the record its guest registered, as the spec lays it
    out: sequence (u32, odd while being written), flags, steal (u64), preempted (u8)."""
    vcpu = v._vcpu
    gpa = getattr(vcpu, "sta_gpa", None)
    if gpa is None:
        return
    mem = vcpu.vm.mem
    seq = int.from_bytes(mem.read(gpa, 4), "little")
    record = ((seq + 2) & 0xFFFF_FFFF).to_bytes(4, "little") + bytes(4)
    record += (v._ready_ns & (1 << 64) - 1).to_bytes(8, "little") + bytes([int(preempted)])
    mem.write(gpa, record)


class PCpu:
    """One physical CPU: its clock, who runs on it, and what it did."""

    def __init__(self, pid: int):
        self.id, self.clock, self.current = pid, 0, None
        self.slice_end = self.next_tick = 0
        self.busy_ns = self.idle_ns = self.switches = 0
        self.last = None                 # the vCPU that ran last (a switch is a change)

    def __repr__(self) -> str:
        cur = self.current.name if self.current else "idle"
        return f"<pCPU {self.id} at {self.clock / MS:.3f} ms: {cur}>"


class Host:
    """Runs the VMs of a Hypervisor on ``pcpus`` simulated physical CPUs under ``policy``."""

    def __init__(self, hv, pcpus: int = 1, policy=None, window_ns: int = MS):
        if not 1 <= pcpus <= MAX_PCPUS:
            raise SchedError(f"pcpus must be 1..{MAX_PCPUS}, not {pcpus}")
        if window_ns <= 0:
            raise SchedError("window_ns must be positive")
        self.hv, self.window_ns = hv, window_ns
        self.pcpus = [PCpu(p) for p in range(pcpus)]
        self.vcpus: list[VCpuView] = []
        self.trace = Trace()
        self.now = 0                                 # the start of the next window
        self.max_skew: dict[int, int] = {}           # vm id -> largest runtime skew seen
        self.policy = None
        self.pin_changes = 0
        #: callables ``hook(now)`` run between windows, after the host's own chores: other
        #: host services on the same clock (vmlab.hv.hostmem's reclaim, sharing, coordinator)
        self.window_hooks: list = []
        self.add_new_vcpus()
        self.set_policy(policy or RoundRobin())      # the default policy

    # --- set-up -------------------------------------------------------------------------------
    def add_new_vcpus(self) -> None:
        """Take on the vCPUs of VMs created since (in creation order: deterministic)."""
        known = {id(v._vcpu) for v in self.vcpus}
        for vm in self.hv.vms:
            for vcpu in vm.vcpus:
                # Scheduling decisions (a BOOSTed wake preempting, a co-stop, Credit's
                # accounting) are taken between vCPU runs, and were measured with runs that
                # end at every exit: the compiled path handles each exit and returns, so the
                # schedule is the one the Python handlers give, exit for exit.
                vcpu.each_exit = True
                if id(vcpu) not in known:
                    view = VCpuView(vcpu, len(self.vcpus))
                    view._since = view._woke_at = self.now
                    self.vcpus.append(view)
                    if self.policy is not None:
                        self._check_wake(view, self.now)

    def set_policy(self, policy) -> None:
        """Switch policy (at run time too): running vCPUs go back to ready, and the new
        policy hears of every ready vCPU through wake()."""
        for p in self.pcpus:
            if p.current is not None:
                self._deschedule(p, p.clock, E.SW_OUT, "policy switch")
        for v in self.vcpus:
            if "costop_since" in v.data:
                self.costop(v, self.now, False)
            v.data = {}                      # the old policy's bookkeeping means nothing now
        self.policy = policy
        policy.attach(self)
        for p in self.pcpus:
            p.next_tick = p.clock + policy.tick_ns
        for v in self.vcpus:
            if v._state == READY:
                policy.wake(v, self.now)
            else:
                self._check_wake(v, self.now)

    def pin(self, v, pcpus) -> None:
        """Allow ``v`` only on ``pcpus`` (None: anywhere); it moves at its next decision."""
        allowed = None if pcpus is None else frozenset(pcpus)
        if allowed is not None and not allowed <= set(range(len(self.pcpus))):
            raise SchedError(f"no such pCPU in {sorted(allowed)}: there are {len(self.pcpus)}")
        if allowed != v.params["affinity"]:
            self.pin_changes += 1
        v.params["affinity"] = allowed

    def view(self, vm, vcpu: int = 0) -> VCpuView:
        """The view of vCPU ``vcpu`` of ``vm`` (a VM or its id)."""
        vm_id = vm if isinstance(vm, int) else vm.id
        for v in self.vcpus:
            if v.vm == vm_id and v.id == vcpu:
                return v
        raise SchedError(f"no vCPU {vcpu} in VM {vm_id}")

    # --- running ------------------------------------------------------------------------------
    def run(self, ns: int) -> str:
        """Run every pCPU ``ns`` more simulated ns; returns "time", "idle" (nothing can ever
        run again) or "interrupted" (Ctrl-C, between windows: simply run again)."""
        if not isinstance(ns, int) or isinstance(ns, bool) or ns < 0:
            raise SchedError(f"run(ns): a whole number of ns >= 0, not {ns!r}")
        self.add_new_vcpus()
        end = self.now + ns
        with CtrlCFlag() as ctrl_c:
            while self.now < end:
                if ctrl_c.hit:
                    return "interrupted"
                w_end = min(self.now + self.window_ns, end)
                for p in self.pcpus:
                    self._run_pcpu(p, w_end)
                self.now = w_end
                self._end_window()
                if self._asleep_for_good():
                    return "idle"
        return "time"

    def _end_window(self) -> None:
        """Between windows: devices take typed input, HTIF polls, skews are measured, the
        window hooks run."""
        for vm in self.hv.vms:
            if vm.devices.pending_in:
                vm.devices.feed()
            if vm.htif is not None:
                vm.htif.poll()
        for vm in self.hv.vms:
            views = [v for v in self.vcpus if v.vm == vm.id and v._state != OFFLINE]
            if len(views) > 1:
                skew = max(v._runtime for v in views) - min(v._runtime for v in views)
                self.max_skew[vm.id] = max(self.max_skew.get(vm.id, 0), skew)
        for hook in self.window_hooks:
            hook(self.now)

    def _asleep_for_good(self) -> bool:
        """Nothing runs, and nothing ever will: every vCPU is offline or waits with no
        timer armed, and no typed input is pending."""
        self._set_clock(self.now)
        self._wake_due(self.now)                 # what the window's end delivered wakes now
        if any(v._state in (READY, RUNNING) for v in self.vcpus):
            return False
        if any(vm.devices.pending_in for vm in self.hv.vms if not vm.stopped):
            return False
        return self._next_wake(self.now) >= FAR

    def _run_pcpu(self, p: PCpu, end: int) -> None:
        """Run pCPU ``p`` up to ``end``: decide, run a stretch, account -- repeatedly."""
        while p.clock < end:
            self._set_clock(p.clock)
            self._wake_due(p.clock)
            if p.current is not None and self._should_leave(p):
                self._deschedule(p, p.clock, E.SW_OUT, "slice over" if p.clock >= p.slice_end
                                 else "preempted")
            if p.current is None and not self._schedule(p):
                self._idle(p, end)
                continue
            self._stretch(p, end)
            self._ticks(p)

    def _should_leave(self, p: PCpu) -> bool:
        if p.clock >= p.slice_end or not p.current.allowed(p.id):
            return True
        return self.policy.preempt(p.id, p.clock, p.current, self._ready(p))

    def _ready(self, p: PCpu) -> list:
        """The views that may start on ``p`` now: ready, allowed there, not still running
        elsewhere in this window (``free_at``)."""
        now = p.clock
        return [v for v in self.vcpus
                if v._state == READY and v._free_at <= now and v.allowed(p.id)]

    def _schedule(self, p: PCpu) -> bool:
        d = self.policy.pick(p.id, p.clock, self._ready(p))
        if d is None:
            return False
        v = d.vcpu
        if v._state != READY or not v.allowed(p.id) or v._free_at > p.clock:
            raise SchedError(f"{self.policy.name} picked {v.name}, which cannot run on "
                             f"pCPU {p.id} now ({v.state})")
        now = p.clock
        v._ready_ns += max(0, now - v._since)
        if v._woke_at is not None:
            lat = max(0, now - v._woke_at)
            v._wakes += 1
            v._wake_lat_sum += lat
            v._wake_lat_max = max(v._wake_lat_max, lat)
            v._woke_at = None
        v._state, v._since, v._last_pcpu = RUNNING, now, p.id
        p.current, p.slice_end = v, now + max(1, d.slice_ns)
        if p.last is not v:
            p.switches += 1
            v._switches += 1
        p.last = v
        self.record(now, v, E.SW_IN, p.id, d.why, d.slice_ns)
        report_steal(v, preempted=False)
        return True

    def _deschedule(self, p: PCpu, now: int, event: int, why: str, state: str = READY) -> None:
        v = p.current
        p.current = None
        v._state, v._since, v._free_at = state, now, now
        self.record(now, v, event, p.id, why)
        if state == READY:
            report_steal(v, preempted=True)

    def _idle(self, p: PCpu, end: int) -> None:
        """Nothing to run: the pCPU sleeps until the next wake-up, event or ``end``."""
        until = min(end, self._next_wake(p.clock), self._next_policy_event(p))
        until = max(until, p.clock + 1)
        p.idle_ns += until - p.clock
        p.clock = until
        self._ticks(p)

    def _stretch(self, p: PCpu, end: int) -> None:
        """Run p's vCPU until the next decision point or its exit, and account for it."""
        v, start = p.current, p.clock
        stop = min(p.slice_end, p.next_tick, end, self._next_policy_event(p))
        vcpu = v._vcpu
        ex = vcpu.run(max(1, stop - start))
        elapsed = max(0, self._clock() - start)
        if elapsed == 0:                     # nothing ran (it waits, or stopped): move on
            elapsed = 1 if ex.reason not in ("idle", "stopped", "halt", "reset") else 0
        p.clock += elapsed
        p.busy_ns += elapsed
        v._runtime += elapsed
        self.policy.charge(v, elapsed, p.clock)
        self._after_exit(p, v, ex)

    def _after_exit(self, p: PCpu, v, ex) -> None:
        vcpu = v._vcpu
        if getattr(vcpu, "sta_update", False):     # it just registered its STA record
            vcpu.sta_update = False
            report_steal(v, preempted=False)
        if vcpu.vm.stopped:
            vcpu.vm.check_halt()
            self._deschedule(p, p.clock, E.HALT, vcpu.vm.stopped[0], OFFLINE)
            self.policy.block(v, p.clock)
            self._halt_vm(vcpu.vm, p.clock)
        elif not vcpu.started:
            self._deschedule(p, p.clock, E.BLOCK, "hart stopped", OFFLINE)
            self.policy.block(v, p.clock)
        elif getattr(vcpu, "yield_requested", False):
            vcpu.yield_requested = False
            self._deschedule(p, p.clock, E.YIELD, "yield")
            self.policy.yield_(v, p.clock)
        elif self._waiting(vcpu):
            self._deschedule(p, p.clock, E.BLOCK, "wfi", BLOCKED)
            self.policy.block(v, p.clock)

    def _halt_vm(self, vm, now: int) -> None:
        for v in self.vcpus:
            if v.vm == vm.id and v._state in (READY, BLOCKED):
                v._state, v._since = OFFLINE, now
                self.policy.block(v, now)

    def _ticks(self, p: PCpu) -> None:
        while p.clock >= p.next_tick:
            self.policy.tick(p.id, p.next_tick)
            p.next_tick += self.policy.tick_ns

    def _next_policy_event(self, p: PCpu) -> int:
        t = self.policy.next_event(p.id, p.clock)
        return FAR if t is None or t <= p.clock else t

    # --- waking -------------------------------------------------------------------------------
    @staticmethod
    def _waiting(vcpu) -> bool:
        """In wfi with nothing pending and enabled."""
        if not vcpu.row[L.WAITING]:
            return False
        vcpu.update_lines()
        return not wants_wake(vcpu.row)

    def _wake_due(self, now: int) -> None:
        for v in self.vcpus:
            if v._state in (BLOCKED, OFFLINE):
                self._check_wake(v, now)

    def _check_wake(self, v, now: int) -> None:
        vcpu = v._vcpu
        if vcpu.vm.stopped or not vcpu.started or self._waiting(vcpu):
            if v._state not in (BLOCKED, OFFLINE):
                v._state, v._since = (BLOCKED if vcpu.started else OFFLINE), now
            return
        v._state, v._since, v._woke_at = READY, now, now
        self.record(now, v, E.WAKE, -1, "")
        self.policy.wake(v, now)

    def _next_wake(self, now: int) -> int:
        """The earliest timer deadline of a blocked vCPU (FAR: none)."""
        t = FAR
        for v in self.vcpus:
            if v._state == BLOCKED and not v._vcpu.vm.stopped:
                t = min(t, v._vcpu.next_deadline())
        return t if t > now or t >= FAR else now + 1

    # --- the machine's clock ------------------------------------------------------------------
    def _set_clock(self, t: int) -> None:
        m = self.hv.machine
        m.dev[L.D_TICKS] = t
        m.ctl[L.C_SLICE_POS] = 0

    def _clock(self) -> int:
        m = self.hv.machine
        return int(m.dev[L.D_TICKS] + m.ctl[L.C_SLICE_POS])

    # --- for policies ---------------------------------------------------------------------------
    def running(self, pcpu: int):
        """The view of the vCPU on ``pcpu`` (None: idle)."""
        return self.pcpus[pcpu].current

    def costop(self, v, now: int, stopped: bool) -> None:
        """A co-scheduling policy holds ``v`` back (or lets it go) for its siblings' sake."""
        since = v.data.pop("costop_since", None)
        if since is not None:
            v._costop_ns += max(0, now - since)
        if stopped:
            v.data["costop_since"] = now
        self.record(now, v, E.COSTOP if stopped else E.COSTART, -1, "skew" if stopped else "")

    # --- the trace ----------------------------------------------------------------------------
    def record(self, now: int, v, event: int, pcpu: int, why: str, cost: int = 0) -> None:
        self.trace.record(SCHED, time=now, vm=v.vm, vcpu=v.id, cause=event,
                          tval=pcpu & 0xFFFF_FFFF_FFFF_FFFF, handler=why, cost=cost)

    def trace_hash(self) -> str:
        """A digest of the schedule and of every VM's trace: equal runs, equal hashes."""
        h = hashlib.sha256(self.trace.since(0).tobytes())
        h.update("\0".join(self.trace.names).encode())
        for vm in self.hv.vms:
            h.update(vm.trace.since(0).tobytes())
            h.update(vm.console_bytes)
        return h.hexdigest()

    def __repr__(self) -> str:
        return (f"<Host {len(self.pcpus)} pCPU(s), {len(self.vcpus)} vCPU(s), "
                f"{self.policy.name}, at {self.now / MS:.3f} ms>")
