"""A virtual CPU: a virtual hart, and the world switch that runs it on a real one.

The virtual hart is a row with the machine's own layout (``cpu[h, :]``: CSRs by number,
x0..x31, pc, privilege) -- but its privilege is *virtual* (vM, vS or vU) and nothing runs
on it directly.  To run the guest, :meth:`VCpu.run` loads its registers and pc into the real
hart, which is always in real U-mode with the shadow page table in satp and no interrupts
enabled, and calls the machine's run loop in hypervisor mode.  Whatever privileged thing the
guest does traps back out; the registers are saved into the row again, and the exit is
handled on the row (vmlab.hv.exits).  Virtual interrupts are injected between runs.

FP state (f0..f31, fcsr) belongs to the vCPU too.  The guest's *virtual* mstatus.FS decides
how it runs: with FS Off the real FS is Off as well, so F/D instructions and fcsr accesses
trap and are reflected to the guest as illegal instructions; otherwise the FP registers go
onto the real hart with its FS Clean, and come back (making the virtual FS Dirty) only
when the run dirtied them.  fcsr accesses never need emulating: in real U-mode they are
allowed exactly when the real FS is on.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from vmlab import sv39
from vmlab.errors import InternalError
from vmlab.hv import exits, fast_args, fast_run, fast_vhart, fastpath
from vmlab.hv.csr_emul import NO_TLB
from vmlab.hv.exit_types import COSTS
from vmlab.hv.trace import INJECT, INTERRUPT_FLAG
from vmlab.isa.causes import cause_name
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64, i64, s64, u64, words
from vmlab.machine.csr import MISA_H, csr_read, csr_written, reset_csrs
from vmlab.machine.loop import run as machine_run
from vmlab.machine.loop import wants_wake
from vmlab.machine.names import csr_number
from vmlab.machine.rvc import expansion_table
from vmlab.machine.system import exec_priv
from vmlab.machine.trap import take_trap

FAR = 1 << 62
NO_BT_PAGES = np.zeros(1, dtype=np.int8)     # (a VM without a binary translator)
SMALL_BLOCK = 32                             # records: fewer are cheaper as Python lists
#: the fast path's counters that are the shadow pager's
DRAINED_SHADOW = ((fastpath.S_SFENCES, "sfences"), (fastpath.S_FLUSHES, "flushes"),
                  (fastpath.S_MMIO_FAULTS, "mmio_faults"), (fastpath.S_AD_UPDATES, "ad_updates"))


def bound(dispatcher, *fixed, then=()):
    """``dispatcher`` (a compiled function) with its array arguments bound, for a call
    from Python on every exit.  numba looks at the type of every argument of every call to
    pick the compiled code (about 50 ns an array: run_between takes ten); these arrays
    live as long as the VM, so the code is picked once here, from their types and those of
    the scalars ``then`` stands for.  The same compiled code runs either way."""
    sig = tuple(dispatcher.typeof_pyval(a) for a in fixed + then)
    return partial(dispatcher.compile(sig), *fixed)


def guest_gpa(mem, satp: int, status: int, gva: int, access: str, priv: int) -> int | None:
    """``gva`` -> gpa through the guest's own page tables (``satp``; SUM and MXR from
    ``status``) for an access from ``priv`` (U or S), as its hart would translate it: identity
    while satp is Bare, None on a fault.  Both backends' vCPUs read guest memory this way."""
    if satp >> 60 == 0:
        return gva & MASK64
    w = sv39.walk(mem.read64, satp, gva & MASK64, access, priv="US"[priv],
                  sum=bool(status & L.MS_SUM), mxr=bool(status & L.MS_MXR))
    return w.pa if w.ok else None


class VCpu:
    """One virtual hart of ``vm``; runs on real hart ``hart`` of the machine."""

    def __init__(self, vm, vcpu_id: int, hart: int = 0):
        self.vm, self.id, self.hart = vm, vcpu_id, hart
        self.id64 = np.int64(vcpu_id)    # as compiled code takes it (converted once)
        self.row = vm.rows[vcpu_id]
        self.w = words(self.row)         # the row's words as unsigned ints (bits.words)
        reset_csrs(self.row)
        self.row[L.MISA] &= ~MISA_H      # no H: this backend cannot run a guest's own guests
        self.row[L.RES_ADDR] = -1
        self.started = False
        # the hypervisor's own words about this vCPU, in an array the compiled fast path
        # shares (vmlab.hv.fastpath): read them through the properties below.  (It registers
        # the fast path's handler names in the trace, so ids agree whichever path runs.)
        self.hvstate = fastpath.new_state(vm, vcpu_id, hart, COSTS)
        self._st = words(self.hvstate)               # (its words, unsigned: bits.words)
        self._trap = words(vm.machine.ctl)           # the real hart's trap words, unsigned
        self._satp_passed = (None, 0)    # (the pager's answer, as passed on): _passed
        self._log = np.zeros((fastpath.LOG_RECORDS, fastpath.LOG_WORDS), dtype=np.int64)
        self._fills = np.zeros((fastpath.LOG_RECORDS, fastpath.FILL_WORDS), dtype=np.int64)
        self.sbi_timer = MASK64          # SBI set_timer deadline in mtime ticks (none)
        self.tlb_stale = True            # the real TLB may hold another context's entries
        self.instructions = 0
        self._deadline_irq = L.IRQ_STI
        # A scheduler that decides between runs (vmlab.hv.sched) sets this: the compiled
        # path then handles one exit and returns, so the scheduler sees runs end exactly
        # where the Python path ends them (and decides the same), only sooner.
        self.each_exit = False
        # the Python path's compiled calls, their arrays bound (bind_calls)
        self._between = self._due = self._exec_csr = self._exec_priv = self._lines = None

    @property
    def sbi_timer(self) -> int:
        """SBI set_timer deadline in mtime ticks (MASK64: none)."""
        return self._st[fastpath.S_SBI_TIMER]

    @sbi_timer.setter
    def sbi_timer(self, ticks: int) -> None:
        self._st[fastpath.S_SBI_TIMER] = int(ticks) & MASK64

    @property
    def tlb_stale(self) -> bool:
        """The real TLB may hold entries of another context: flush it on the next entry."""
        return bool(self._st[fastpath.S_TLB_STALE])

    @tlb_stale.setter
    def tlb_stale(self, stale: bool) -> None:
        self._st[fastpath.S_TLB_STALE] = int(bool(stale))

    @property
    def _deadline_irq(self) -> int:
        return self._st[fastpath.S_DEADLINE_IRQ]

    @_deadline_irq.setter
    def _deadline_irq(self, irq: int) -> None:
        self._st[fastpath.S_DEADLINE_IRQ] = int(irq)

    # --- the contract with the shadow pager, and conveniences ---------------------------------
    @property
    def priv(self) -> int:
        return self.w[L.PRIV]

    @property
    def pc(self) -> int:
        return self.w[L.PC]

    def csr(self, name_or_number) -> int:
        """A virtual CSR as the guest would read it (sstatus is a view of mstatus, ...)."""
        num = csr_number(name_or_number) if isinstance(name_or_number, str) else name_or_number
        if num in (L.MIP, L.SIP, L.TIME):
            self.update_lines()         # device-driven bits and the time come from the devices
        return u64(csr_read(self.row, self.vm.devices.dev, self.vm.devices.ctl, i64(self.id),
                            i64(num)))

    def set_pc(self, gva: int) -> None:
        """Set the virtual hart's pc: any 64-bit value the guest made (stored as int64)."""
        self.w[L.PC] = int(gva) & MASK64          # (u64, inline: on every exit)

    def reg(self, i: int) -> int:
        return self.w[L.XREG + i]

    def regs(self, first: int, n: int) -> list[int]:
        """x[first] .. x[first + n - 1], unsigned, in one read."""
        return self.w[L.XREG + first:L.XREG + first + n].tolist()

    def set_reg(self, i: int, value: int) -> None:
        if i:
            self.w[L.XREG + i] = int(value) & MASK64    # (u64, inline: on every exit)

    def start_in_s(self, pc: int, a1: int) -> None:
        """HSM hart_start: vS, satp Bare, interrupts off, a0 = hart id, a1 = opaque."""
        self.row[L.PRIV], self.row[L.PC] = L.PRIV_S, i64(pc)
        self.row[L.SATP] = 0
        self.row[L.MSTATUS] &= ~L.MS_SIE
        self.set_reg(10, self.id)
        self.set_reg(11, a1)
        self.started = True

    # --- virtual interrupt lines ----------------------------------------------------------------
    # (each the compiled twin the fast path uses, fast_vhart: one implementation, and one
    # compiled call instead of several on the Python path's every exit)
    def update_lines(self) -> None:
        """Recompute the virtual hart's device-driven mip bits from the VM's virtual CLINT,
        PLIC and stimecmp (the machine's own update_hwip), and the SBI timer."""
        if self._lines is None:
            self.bind_calls()
        self._lines(self.vm.time())

    def next_deadline(self) -> int:
        """Simulated ns of the next virtual timer event (or FAR); which interrupt it is
        goes to ``_deadline_irq``, for the timer exit's record."""
        return int(fast_vhart.next_deadline(self.vm.rows, self.vm.devices.dev, self.hvstate))

    def inject(self) -> int:
        """Deliver the highest-priority pending, enabled virtual interrupt, if any."""
        vm = self.vm
        if self._due is None:
            self.bind_calls()
        irq = self._due(vm.time())          # (fast_vhart.due_interrupt: lines, then pending)
        if irq < 0:
            return -1
        self.w[L.WAITING] = 0
        take_trap(self.row, vm.devices.ctl, i64(irq), i64(0), True)
        self.w[L.RES_ADDR] = MASK64         # (-1: no reservation)
        vm.trace.record(INJECT, time=vm.time(), vm=vm.id, vcpu=self.id,
                        cause=INTERRUPT_FLAG | irq, pc=self.pc, handler="interrupt",
                        cost=exits.COSTS["reflect"])
        vm.charge(exits.COSTS["reflect"])
        return irq

    # --- the world switch -------------------------------------------------------------------
    def _enter(self) -> None:
        """Load the guest onto the real hart: registers, pc, counters, FP state (compiled:
        fast_run.load_hart says what and why) and the shadow root the pager picks."""
        m = self.vm.machine
        fast_run.enter_hart(m.cpu, m.tlb, self.row, self.hvstate, self._entry_satp())

    def _entry_satp(self) -> int:
        """The real satp for the next entry (as compiled code takes it): the shadow root
        the pager picks."""
        return self._passed(self.vm.shadow.root_for(self))

    def _passed(self, satp: int) -> int:
        """The pager's real satp as compiled code takes it, and the real TLB flushed on
        entry if another vCPU held the hart."""
        vm = self.vm
        passed = self._satp_passed        # (converted once while the pager says the same)
        if satp != passed[0]:
            passed = self._satp_passed = (satp, s64(satp))
        satp = passed[1]
        # Shadow trees carry their own ASIDs and the pager flushes what it changes; the
        # real TLB is emptied only when another vCPU (maybe another VM's) held the hart.
        on_hart = vm.hv.last_on_hart
        if on_hart.get(self.hart) is not self:
            self.tlb_stale = True
            on_hart[self.hart] = self
        return satp

    def retire(self, insn: int = 0) -> None:
        """An emulated instruction completed: count it in minstret, as the hart would have
        (the real hart already counted the cycle of the trapping step).  An instruction that
        wrote minstret itself is not counted: the value written is what the next instruction
        reads, exactly as on the bare hart."""
        w = self.w
        if w[L.MCOUNTINHIBIT] & 4:
            return
        if insn >> 20 == L.MINSTRET and csr_written(insn) == L.MINSTRET:
            return                      # (only an instruction naming minstret can write it)
        w[L.MINSTRET] = (w[L.MINSTRET] + 1) & MASK64

    def _leave(self) -> None:
        """The real hart's registers back into the virtual hart (fast_run.leave)."""
        fast_run.leave(self.vm.machine.cpu, self.row, self.hvstate)

    def _run_real(self, budget: int) -> tuple[int, int]:
        """The machine's compiled run loop in hypervisor mode; returns (exit code, steps)."""
        m = self.vm.machine
        m.ctl[L.C_FLAGS] = L.F_TRAP_EXIT
        m.ctl[L.C_CUR_HART] = self.hart
        m.ctl[L.C_BUDGET] = budget
        code = machine_run(m.cpu, m.mem, m.tlb, m.dev, m.io, m.ctl, expansion_table())
        return int(code), budget - int(m.ctl[L.C_BUDGET])

    def _run_between(self, now: int, left: int) -> tuple[int, int]:
        """The Python path's entry, run and exit (fast_run.run_between): the interrupt
        check, the next deadline, _enter, _run_real and _leave in one compiled call.

        A virtual interrupt due is taken before the pager is asked for the tree, as the
        guest then runs in the mode the trap leaves it in.  When the pager's answer would be
        the last one (``peek_root``: the common case, the same context as the last entry)
        the compiled call checks for the interrupt itself and returns DUE without entering;
        the entry is counted only when there was one.  Otherwise, and after DUE, Python
        injects first (inject) and then asks (root_for)."""
        if self._between is None:
            self.bind_calls()
        pager = self.vm.shadow
        satp = pager.peek_root(self)
        if satp is not None:
            code, steps = self._between(self._passed(satp), now, left)
            if code != fast_run.DUE:
                pager.count_hit()
                return code, steps
        while True:
            taken = self.inject()
            code, steps = self._between(self._entry_satp(), self.vm.time(), left)
            if code != fast_run.DUE:
                return code, steps
            if taken < 0:           # (each injection leaves it masked: this cannot repeat)
                raise InternalError("run_between found a virtual interrupt due; inject did not")

    def bind_calls(self) -> None:
        """The compiled calls the Python path makes on every exit, with the arrays bound
        (:func:`bound`): run_between and the machine's exec_csr take theirs described by
        one table each (vmlab.hv.fast_args: cheaper to pass than the arrays), and
        due_interrupt (made only when an interrupt is due) the arrays themselves."""
        vm, m = self.vm, self.vm.machine
        self._tables = (fast_args.table(m.cpu, m.mem, m.tlb, m.dev, m.io, m.ctl,
                                        expansion_table(), vm.rows, vm.devices.dev,
                                        vm.devices.ctl, self.hvstate),
                        fast_args.table(self.row, vm.devices.dev, vm.devices.ctl))
        self._between = bound(fast_run.run_between_t, self._tables[0], then=(0, 0, 0))
        self._exec_csr = bound(fast_run.exec_csr_t, self._tables[1], self.id64, then=(0,))
        self._due = bound(fast_vhart.due_interrupt, vm.rows, vm.devices.dev, vm.devices.ctl,
                          self.hvstate, then=(0,))
        self._lines = bound(fast_vhart.update_lines, vm.rows, vm.devices.dev, vm.devices.ctl,
                            self.hvstate, then=(0,))
        self._exec_priv = bound(exec_priv, self.row, NO_TLB, np.int64(0), then=(0,))

    def exec_csr(self, insn: int) -> bool:
        """The machine's own ``exec_csr(row, dev, ctl, hart, insn)`` on this virtual hart,
        with the VM's virtual devices: the Zicsr instruction ``insn`` done, or False if the
        virtual mode may not do it (csr_emul.emulate_csr)."""
        if self._exec_csr is None:
            self.bind_calls()
        return self._exec_csr(insn)

    def exec_priv(self, insn: int) -> tuple[int, int]:
        """The machine's own ``exec_priv`` (sret, mret, wfi, sfence.vma) on this virtual
        hart: (cause, tval) of the trap it raises, cause -1 if none (csr_emul._priv_insn)."""
        if self._exec_priv is None:
            self.bind_calls()
        cause, tval = self._exec_priv(insn)
        return int(cause), int(tval)

    # --- KVM_RUN ----------------------------------------------------------------------------
    def run(self, budget: int = 2_000_000, again=None) -> exits.Exit:
        """Run the guest until an exit Python must handle (handled before returning) or
        ``budget`` instructions; the run also ends at the next virtual timer deadline.
        With the VM's ``fast_exits``, the exits the compiled fast path handles
        (vmlab.hv.fastpath) do not end the run: it goes on until one that Python handles.

        ``again`` (VM.run's): asked after a trap Python handled, when the vCPU can simply go
        on (started, not waiting, budget left, the VM not stopped); True means that the VM's
        loop would only call run() again at once -- so the run goes on here, and returns the
        last exit (its ``instructions`` counting the whole call)."""
        vm = self.vm
        if vm.stopped:
            return exits.Exit(vm.stopped[0], pc=self.pc, priv=self.priv)
        if not self.started:
            return exits.Exit("stopped", pc=self.pc, priv=self.priv)
        fast, w = vm.fast_exits, self.w
        if fast or w[L.WAITING]:            # (the Python path's run_between injects itself)
            self.inject()
        done = 0
        while True:
            if w[L.WAITING]:
                if not wants_wake(self.row):
                    return exits.Exit("idle", pc=self.pc, priv=self.priv, instructions=done)
                w[L.WAITING] = 0
            now = vm.time()
            left = budget - done
            if fast:
                deadline = self.next_deadline()
                limit = max(1, min(left, deadline - now) if deadline > now else left)
                self._enter()
                code, steps = self._run_fast(now, deadline, limit, left)
            else:                           # (deadline, enter, run, leave: one compiled call)
                code, steps = self._run_between(now, left)
            done += steps
            self.instructions += steps
            if code == fastpath.RESUME:     # (injected: Python enters from here)
                continue
            if code != L.EXIT_TRAP:
                ex = self._after_run(code, steps)
                break
            trap = self._trap               # a trap for Python's handlers (the real hart's
            ex = self._handle(trap[L.C_TRAP_CAUSE], trap[L.C_TRAP_TVAL], trap[L.C_TRAP_PC])
            if (again is None or done >= budget or vm.stopped or not self.started
                    or w[L.WAITING] or not again()):
                break
            if fast:                        # (as a new call would before entering; the
                self.inject()               # Python path's run_between checks itself)
        ex.instructions = done
        if vm.stopped:
            ex.reason = vm.stopped[0]
        return ex                       # a virtual interrupt now due is injected on entry

    def _after_run(self, code: int, steps: int) -> exits.Exit:
        """The exit that ended the run, other than a trap: handled by the fast path, or the
        run's end (a virtual timer deadline, the budget)."""
        vm = self.vm
        if code == fastpath.HANDLED:
            return self._last_fast_exit
        st = self.hvstate                   # (the last entry's time and timer deadline)
        now, deadline = int(st[fastpath.S_NOW]), int(st[fastpath.S_DEADLINE])
        if code == L.EXIT_BUDGET and deadline > now and vm.time() >= deadline:
            return exits.timer_exit(self, self._deadline_irq, steps)
        if code == L.EXIT_BUDGET:
            return exits.Exit("budget", pc=self.pc, priv=self.priv)
        raise RuntimeError(f"unexpected machine exit {code} in hypervisor mode")

    def _run_fast(self, now: int, deadline: int, limit: int, left: int) -> tuple[int, int]:
        """The compiled fast path from here (the guest is entered); then Python catches up
        with what it did: its trace records, the root cache's order, the SBI counts."""
        vm, m, st = self.vm, self.vm.machine, self.hvstate
        st[fastpath.S_ROOT] = vm.shadow.slot_in_use(self)
        st[fastpath.S_SBI_FROM_HV] = vm.sbi_from_hv
        st[fastpath.S_WRITE_PROTECT] = vm.shadow.write_protect
        st[fastpath.S_ONE_EXIT] = (bool(vm.devices.pending_in) or vm.htif is not None
                                   or self.each_exit)
        st[fastpath.S_DEVICE_HOOK] = callable(getattr(vm, "is_mmio", None))
        st[fastpath.S_TABLE_ROOM] = vm.shadow.table_room()
        translator = getattr(vm, "translator", None)
        st[fastpath.S_TRANSLATED] = translator is not None
        bt_pages = NO_BT_PAGES if translator is None else translator.scanned
        st[fastpath.S_NOW], st[fastpath.S_DEADLINE] = now, min(deadline, fastpath.FAR)
        code, steps = fastpath.fast_run(
            m.cpu, m.mem, m.tlb, m.dev, m.io, m.ctl, expansion_table(), vm.rows, vm.devices.dev,
            vm.devices.io, vm.devices.ctl, vm.mem.page_map, NO_TLB, st, vm.shadow.mirror,
            vm.shadow.super_index, self._log, self._fills, bt_pages, limit, left)
        if code == fastpath.HANDLED:        # (the exit vcpu.run() will report)
            self._last_fast_exit = fastpath.last_exit(self._log[:st[fastpath.S_LOG_N]],
                                                      vm.trace, self.priv)
        self._drain()
        return int(code), int(steps)

    def _drain(self) -> None:
        """Catch up with what the compiled path did: its trace records, the root cache's
        order and counters, the SBI and device counts, the console output.  (A call that
        returns for console output drains a record or two: the counts go one word at a
        time, skipping zeros, which costs less than numpy's set-up for such small blocks.)"""
        st, vm = self.hvstate, self.vm
        n, enters = int(st[fastpath.S_LOG_N]), int(st[fastpath.S_ENTERS])
        if not n and not enters:
            return                          # it handled nothing: the common Python exit
        block = self._log[:n]
        vm.shadow.catch_up(self, enters, self._switched_tags(block) if n else ())
        if n:
            if st[fastpath.S_FILLS]:
                vm.shadow.catch_up_fills(self._fills[:st[fastpath.S_FILLS]])
            vm.trace.extend(block)
        for eid, word in fastpath.SBI_COUNTS:
            if st[word]:
                vm.sbi_calls[eid] += int(st[word])
        for word, name in DRAINED_SHADOW:
            if st[word]:
                vm.shadow.counters[name] += int(st[word])
        vm.devices.accesses += int(st[fastpath.S_DEV_ACCESSES])
        vm.devices.drain()                  # what the guest wrote to the UART: the console
        words_ = self._st                   # (word by word: cheaper than a fancy index)
        for word in fastpath.DRAINED:
            words_[word] = 0

    def _switched_tags(self, block) -> list:
        """The trees the compiled path switched to, in order (their ASID tags)."""
        switch = self.hvstate[fastpath.H_BASE + fastpath.H_ROOT_SWITCH]
        if len(block) <= SMALL_BLOCK:
            return [r[fastpath.G_INSN] for r in block.tolist() if r[fastpath.G_HANDLER] == switch]
        return block[block[:, fastpath.G_HANDLER] == switch, fastpath.G_INSN].tolist()

    def _handle(self, cause: int, tval: int, pc: int) -> exits.Exit:
        """exits.dispatch, with a defect of ours turned into one line naming where the guest
        was.  The state is left as the handler left it, for inspection."""
        try:
            return exits.dispatch(self, cause, tval, pc)
        except Exception as exc:
            raise InternalError(
                f"{type(exc).__name__} ({str(exc).splitlines()[0] if str(exc) else 'no detail'}) "
                f"while handling {cause_name(cause)} of VM {self.vm.id} vCPU {self.id} "
                f"at guest pc {pc:#x} (tval {tval:#x}, virtual {'USHM'[self.priv]}-mode)"
            ) from exc

    # --- reading guest memory as the guest sees it ------------------------------------------------
    def gva_to_gpa(self, gva: int, access: str = "load") -> int | None:
        """Translate with the guest's own page tables (vmlab.sv39, the reference walker)."""
        priv = self.priv
        mstatus = int(self.row[L.MSTATUS])
        if access != "fetch" and priv == L.PRIV_M and mstatus & L.MS_MPRV:
            priv = (mstatus >> L.MS_MPP_SHIFT) & 3
        if priv == L.PRIV_M:
            return gva & MASK64
        return guest_gpa(self.vm.mem, int(self.row[L.SATP]) & MASK64, mstatus, gva, access, priv)

    def read_guest(self, gva: int, n: int, access: str = "load") -> bytes | None:
        """``n`` bytes at ``gva`` (within one page), or None if they are not guest RAM."""
        gpa = self.gva_to_gpa(gva, access)
        return None if gpa is None else self.vm.mem.read(gpa, n)

    def __repr__(self) -> str:
        return f"<VCpu {self.vm.id}.{self.id} v{'USHM'[self.priv]} pc={self.pc:#x}>"
