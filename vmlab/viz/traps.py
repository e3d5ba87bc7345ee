"""Traps as a log: a recorder for bare-metal guests, and the widget that lists a trace.

On a bare machine the hardware takes a trap by itself -- it writes mcause/mepc/mtval and
jumps to mtvec -- so nothing outside sees it happen.  :class:`TrapRecorder` makes it
visible: the machine hands each trap back before taking it, the recorder writes one
EXIT-shaped record into a :class:`vmlab.hv.trace.Trace`, and the run continues.  The
hypervisor writes the same kind of trace for its exits, so :class:`TrapLog` shows either.
"""
from __future__ import annotations

import traitlets

from vmlab.disasm import disassemble
from vmlab.hv.trace import EXIT, Trace
from vmlab.isa.causes import CAUSES, INTERRUPT_BIT, cause_of
from vmlab.machine import layout as L
from vmlab.machine import names as machine_names
from vmlab.machine.trap import take_trap
from vmlab.viz._base import Widget, esm

#: trace cause code by cause name -- the one vocabulary of vmlab.isa (bit 31: an interrupt,
#: as the trace stores it)
TRACE_CODE = {c.name: c.code | (0x8000_0000 if c.interrupt else 0) for c in CAUSES}

SHOWN = 200         # rows kept in the browser

# the machine's trap counters: 16 exception causes, then 16 interrupt causes, side by side
assert L.C_INT == L.C_EXC + 16
_COUNTS = slice(L.C_EXC, L.C_INT + 16)


class TrapRecorder:
    """Runs a machine and records every trap it takes into ``trace``.

    The machine runs in its *trap-exit* mode (the mode the hypervisor uses): a trap is not
    taken inside the compiled loop but handed back, with the hart still at the trapping
    instruction.  The recorder writes it down, then lets the hart take it exactly as the
    loop would have (:func:`vmlab.machine.trap.take_trap`), and the run goes on.  So every
    trap is seen with its pc, whenever and however often the guest changes its vectors,
    and between traps the guest runs at full speed (no breakpoints, no single-stepping).
    The machine ends up in the same state, counters included, as after a bare run.

    Records: cause (interrupts with bit 31 set, as the trace stores them), pc = xepc,
    insn = the instruction bits at xepc when readable, tval, handler = where it went.
    Traps the machine took while *not* run by the recorder (a cell's own run), or past
    ``MAX_TRAPS`` in one call, are logged from its counters, by cause, without a pc.
    """

    #: traps logged one by one in a run() call; past that (a guest whose trap vector is bad
    #: can trap millions of times a second, and each logged trap is a trip through Python)
    #: the call goes on at full speed and its traps are logged from the counters, as a count
    MAX_TRAPS = 256
    #: at most this many traps seen only by the counters are logged one by one per call
    MISSED_ROWS = 8

    def __init__(self, machine, trace: Trace | None = None):
        self.machine = machine
        self.trace = trace if trace is not None else Trace(capacity=4096)
        self._seen = self._trap_counts()

    def _trap_counts(self) -> dict[str, int]:
        return dict(self.machine.counters["traps"])

    def _trap_total(self) -> int:
        """All traps the machine counted (cheap: read every chunk, ``counters`` is not)."""
        ctl = self.machine.ctl
        return int(ctl[_COUNTS].sum() + ctl[L.C_EXC_H:L.C_EXC_H + 8].sum())

    def run(self, instructions: int):
        """Run up to ``instructions``; returns the machine's last RunResult (budget summed)."""
        ctl = self.machine.ctl
        self._catch_missed()
        done, result, taken = 0, None, 0
        try:
            while done < instructions:
                exit_on_trap = L.F_TRAP_EXIT if taken < self.MAX_TRAPS else 0
                ctl[L.C_FLAGS] = (ctl[L.C_FLAGS] & ~L.F_TRAP_EXIT) | exit_on_trap
                result = self.machine.run(instructions=instructions - done)
                done += result.instructions
                if result.reason != "trap":
                    break
                self._take_trap()
                taken += 1
                result.reason = "budget"          # (if the trap was the budget's last step)
        finally:
            ctl[L.C_FLAGS] &= ~L.F_TRAP_EXIT
            self._catch_missed()
        if result is not None:
            result.instructions = done
        return result

    def _take_trap(self) -> None:
        """Take the trap the loop handed back, as the loop itself would have, and log it."""
        m, ctl = self.machine, self.machine.ctl
        hart = int(ctl[L.C_CUR_HART])
        irq = bool(ctl[L.C_TRAP_IRQ])
        cause = int(ctl[L.C_TRAP_CAUSE])
        ctl[L.trap_counter(cause, irq)] -= 1                       # take_trap counts it again
        flags = ctl[L.C_FLAGS]
        ctl[L.C_FLAGS] = flags & ~L.F_TRAP_EXIT
        take_trap(m.cpu[hart], ctl, cause, int(ctl[L.C_TRAP_TVAL]), irq)
        ctl[L.C_FLAGS] = flags
        self._record("M" if m.harts[hart].priv == L.PRIV_M else "S", hart)

    def _catch_missed(self) -> None:
        """Log traps the machine counted but the recorder did not see (by cause, no pc)."""
        if self._trap_total() == sum(self._seen.values()):
            return
        now = self._trap_counts()
        t = self.machine.counters["time_ns"]
        for name, count in now.items():
            missed = count - self._seen.get(name, 0)
            for i in range(min(missed, self.MISSED_ROWS)):
                more = missed - self.MISSED_ROWS
                note = f" (and {more:,} more like it)" if i == self.MISSED_ROWS - 1 and more > 0 else ""
                self.trace.record(EXIT, time=t, cause=_trace_code(name),
                                  handler="(taken outside the recorder or in a trap storm: pc unknown)" + note)
        self._seen = now

    def _record(self, level: str, hart: int = 0) -> None:
        m = self.machine
        h, x = m.harts[hart], level.lower()
        cause, epc, tval = h.csr(f"{x}cause"), h.csr(f"{x}epc"), h.csr(f"{x}tval")
        code = cause & 0xFFFF
        if cause & INTERRUPT_BIT:
            code |= 0x8000_0000
        insn = 0
        if not cause & INTERRUPT_BIT:
            try:
                insn = int.from_bytes(m.read_mem(epc, 4), "little")
                if insn & 3 != 3:
                    insn &= 0xFFFF
            except Exception:
                insn = 0
        self.trace.record(EXIT, time=m.counters["time_ns"], cause=code, pc=epc, insn=insn,
                          tval=tval, handler=f"{level}-mode handler at {h.pc:#x}")
        self._seen = self._trap_counts()


def _trace_code(name: str) -> int:
    """The trace's cause code for a machine counter's cause name."""
    if name in TRACE_CODE:
        return TRACE_CODE[name]
    # Until the machine's counters use vmlab.isa's names everywhere, an older name is
    # looked up in the machine's own table (the same code, another word for it).
    for table, bit in ((machine_names.CAUSE_NAMES, 0), (machine_names.INTERRUPT_NAMES, 0x8000_0000)):
        code = next((k for k, v in table.items() if v == name), None)
        if code is not None:
            return code | bit
    return 0


def cause_text(cause: int) -> str:
    """Name of a trace cause (bit 31 marks an interrupt, as the trace stores it)."""
    full = (cause & 0x7FFF_FFFF) | (INTERRUPT_BIT if cause & 0x8000_0000 else 0)
    c = cause_of(full)
    return c.description if c else f"cause {cause:#x}"


def exit_kind(cause: int) -> str:
    """The family of a trace cause, for its colour (see ``style.EXIT``)."""
    if cause & 0x8000_0000:
        return "interrupt"
    c = cause_of(cause & 0x7FFF_FFFF)
    name = c.name if c else ""
    if name.endswith("ecall"):
        return "ecall"
    if name in ("illegal_instruction", "virtual_instruction"):
        return "csr"
    if "page_fault" in name:
        return "page"
    if name.endswith("_access"):
        return "mmio"
    return "other"


def insn_text(insn: int, pc: int) -> str:
    """The instruction bits disassembled (compressed ones are 16 bits)."""
    if not insn:
        return ""
    size = 4 if insn & 3 == 3 else 2
    try:
        rec = disassemble(insn.to_bytes(size, "little"), pc)[0]
    except Exception:
        return f"{insn:#x}"
    return f"{rec.mnemonic} {rec.operands}".strip()


class TrapLog(Widget):
    """The latest traps/exits of a :class:`~vmlab.hv.trace.Trace`, with causes and disassembly.

    ``refresh()`` reads only the records added since the last refresh (``Trace.since``), so
    a long run costs the view nothing but the new rows.
    """

    _esm = esm("traplog")
    rows = traitlets.List([]).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(self, trace: Trace, kinds=(EXIT,), **kwargs):
        super().__init__(**kwargs)
        self.trace, self.kinds = trace, set(kinds)
        self._seq = 0
        self._rows: list[dict] = []
        self.refresh()

    def refresh(self) -> None:
        new = self.trace.since(self._seq)
        if not len(new):
            return
        self._seq = int(new["seq"][-1]) + 1
        added = [self._row(r) for r in new[-SHOWN:] if int(r["kind"]) in self.kinds]
        self._rows = (self._rows + added)[-SHOWN:]
        with self.hold_sync():
            self.rows = list(self._rows)
            self.total = sum(self.trace.count(k) for k in self.kinds)
            self.updates += 1

    def _row(self, r) -> dict:
        pc, insn = int(r["pc"]), int(r["insn"])
        return {"seq": int(r["seq"]), "time": int(r["time"]), "cause": cause_text(int(r["cause"])),
                "kind": exit_kind(int(r["cause"])),
                "pc": f"{pc:#x}", "insn": insn_text(insn, pc), "tval": f"{int(r['tval']):#x}",
                "handler": self.trace.names[int(r["handler"])]}
