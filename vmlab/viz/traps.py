"""Traps as a log: a recorder for bare-metal guests, and the widget that lists a trace.

On a bare machine the hardware takes a trap by itself -- it writes mcause/mepc/mtval and
jumps to mtvec -- so nothing outside sees it happen.  :class:`TrapRecorder` makes it
visible the way a debugger would: a breakpoint on the trap vector(s) stops the run at
each arrival, the recorder writes one EXIT-shaped record into a
:class:`vmlab.hv.trace.Trace`, and the run continues.  The hypervisor writes the same kind
of trace for its exits, so :class:`TrapLog` shows either.
"""
from __future__ import annotations

import traitlets

from vmlab.disasm import disassemble
from vmlab.hv.trace import EXIT, Trace
from vmlab.isa.causes import CAUSES, INTERRUPT_BIT, cause_of
from vmlab.machine import names as machine_names
from vmlab.viz._base import Widget, esm

#: trace cause code by cause name -- the one vocabulary of vmlab.isa (bit 31: an interrupt,
#: as the trace stores it)
TRACE_CODE = {c.name: c.code | (0x8000_0000 if c.interrupt else 0) for c in CAUSES}

SHOWN = 200         # rows kept in the browser


class TrapRecorder:
    """Runs a machine and records every trap it takes into ``trace``.

    The vectors are re-read from mtvec/stvec before every chunk of instructions (a guest
    sets them itself, usually in its first few instructions).  Right after they change, the
    recorder single-steps for a while and then runs short chunks, so a trap taken soon
    after a vector was set is still caught with its pc.  A trap that slips through anyway (its vector changed inside a chunk) is
    still counted by the machine: it is logged from the counters, by cause, without a pc.

    Records: cause (interrupts with bit 31 set, as the trace stores them), pc = xepc,
    insn = the instruction bits at xepc when readable, tval, handler = where it went.
    """

    #: after the vectors change, this many instructions are single-stepped (a guest often
    #: sets mtvec and traps within a few instructions), then ...
    STEPS = 3000
    #: ... this many run in short chunks, before full-speed chunks
    SETTLE = 50_000
    SHORT = 256

    def __init__(self, machine, trace: Trace | None = None):
        self.machine = machine
        self.trace = trace if trace is not None else Trace(capacity=4096)
        self._vectors: dict[int, str] = {}
        self._added: set[int] = set()
        self._steps, self._settle = self.STEPS, self.SETTLE
        self._seen = self._trap_counts()

    def _trap_counts(self) -> dict[str, int]:
        return dict(self.machine.counters["traps"])

    def _arm(self) -> None:
        m = self.machine
        want = {}
        for level in ("M", "S"):
            vec = m.csr(f"{level.lower()}tvec") & ~3
            if vec and vec not in want:
                want[vec] = level
        if want != self._vectors:
            self._steps, self._settle = self.STEPS, self.SETTLE
        for vec in self._added - set(want):        # only breakpoints we placed ourselves
            m.remove_breakpoint(vec)
            self._added.discard(vec)
        for vec in want:
            if vec not in m.breakpoints:
                m.add_breakpoint(vec)
                self._added.add(vec)
        self._vectors = want

    def run(self, instructions: int):
        """Run up to ``instructions``; returns the machine's last RunResult (budget summed)."""
        m = self.machine
        done, result = 0, None
        while done < instructions:
            self._arm()
            stepping = self._steps > 0
            n = 1 if stepping else instructions - done
            if not stepping and self._settle > 0:
                n = min(n, self.SHORT)
            traps_before = sum(self._seen.values())
            result = m.run(instructions=n)
            done += result.instructions
            if stepping:
                self._steps -= 1
            else:
                self._settle -= result.instructions
            if result.reason == "breakpoint" and m.pc in self._vectors:
                self._record(self._vectors[m.pc])
                continue
            if stepping and sum(self._trap_counts().values()) > traps_before:
                self._record(self._vectors.get(m.pc & ~3, "M"))   # taken during this step
            self._catch_missed()
            if result.reason == "budget" and done < instructions:
                continue
            break
        if result is not None:
            result.instructions = done
        return result

    #: at most this many unseen traps are logged one by one per chunk (a guest whose trap
    #: vector is bad can trap millions of times a second); the rest are logged as a count
    MISSED_ROWS = 8

    def _catch_missed(self) -> None:
        """Log traps the machine counted but no breakpoint saw (by cause, no pc)."""
        now = self._trap_counts()
        t = self.machine.counters["time_ns"]
        for name, count in now.items():
            missed = count - self._seen.get(name, 0)
            for i in range(min(missed, self.MISSED_ROWS)):
                more = missed - self.MISSED_ROWS
                note = f" (and {more:,} more like it)" if i == self.MISSED_ROWS - 1 and more > 0 else ""
                self.trace.record(EXIT, time=t, cause=_trace_code(name),
                                  handler="(no breakpoint at its vector: pc unknown)" + note)
        self._seen = now

    def _record(self, level: str) -> None:
        m, x = self.machine, level.lower()
        cause, epc, tval = m.csr(f"{x}cause"), m.csr(f"{x}epc"), m.csr(f"{x}tval")
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
                          tval=tval, handler=f"{level}-mode handler at {m.pc:#x}")
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
