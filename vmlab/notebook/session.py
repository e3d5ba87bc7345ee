"""A persistent machine that runs assembly one cell at a time.

Both the ``%%asm``/``%vm`` magics and the RISC-V assembly kernel sit on this class, so a
cell behaves the same in either place.  The idea is a REPL for machine code:

- every cell is assembled *at the next free address*, so code from earlier cells stays in
  memory and its labels stay usable (they are handed to the assembler as ``.equ`` symbols);
- the machine is never reset between cells: registers, memory and CSRs carry over, just as
  variables do in a Python notebook;
- a cell runs from its first instruction until it falls off its own end (a breakpoint just
  past the cell's code), halts the board, hits its budget, or is interrupted;
- a trap that the student's program does not handle lands on a *monitor* vector installed at
  reset (mtvec points at the last page of RAM), which stops the run and says which trap it was, instead of letting the hart wander.

The class only uses the public :class:`vmlab.machine.Machine` API.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from vmlab.asm import AsmError, Program, assemble
from vmlab.isa.causes import cause_of
from vmlab.machine.bits import i64
from vmlab.machine.sigint import CtrlCFlag

RAM_BASE = 0x8000_0000
#: Cells are placed from the start of RAM upward (where a program written for the virt
#: board without firmware expects to be).
CODE_BASE = RAM_BASE
DEFAULT_RAM = 16 << 20
DEFAULT_BUDGET = 100_000_000
#: Instructions per call into the machine: small enough to stream console output and react
#: to an interrupt within a few milliseconds, large enough that the calls cost nothing.
CHUNK = 500_000

ABI_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2",
             "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
             "s10", "s11", "t3", "t4", "t5", "t6"]
PRIV_NAMES = {0: "U", 1: "S", 3: "M"}
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$]*$")
_LABEL_DEF = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:", re.M)
_EQU_DEF = re.compile(r"^\s*\.(?:equ|set|equiv)\s+([A-Za-z_.$][\w.$]*)", re.M)
_MASK64 = (1 << 64) - 1


@dataclass
class Trap:
    """A trap that reached the monitor because the program had no handler of its own."""

    cause: int
    pc: int
    tval: int
    text: str           #: the faulting instruction, disassembled (or "")

    @property
    def name(self) -> str:
        c = cause_of(self.cause)
        return c.description if c else f"cause {self.cause:#x}"

    def __str__(self) -> str:
        insn = f" ({self.text})" if self.text else ""
        return f"trap: {self.name} at pc {self.pc:#x}{insn}, tval {self.tval:#x}"


@dataclass
class CellResult:
    """What one cell did: why it stopped, how far it got, and what changed."""

    reason: str                     #: end, step, halt, budget, interrupted, trap, breakpoint, idle
    instructions: int
    changed: dict = field(default_factory=dict)      #: name -> (old, new)
    output: str = ""                #: console output produced by this cell
    trap: Trap | None = None
    exit_code: int | None = None
    program: Program | None = None

    def summary(self) -> str:
        """One line, as a student wants to read it after a cell."""
        why = {"end": "ran to the end of the cell", "step": "stepped", "halt": f"the board powered off (exit code {self.exit_code})",
               "budget": "stopped: instruction budget spent (a loop that never ends?)",
               "interrupted": "interrupted", "breakpoint": "stopped at a breakpoint",
               "idle": "the hart waits (wfi) with nothing to wake it",
               "trap": str(self.trap)}.get(self.reason, self.reason)
        return f"{why} -- {self.instructions:,} instructions"


def format_changes(changed: dict) -> str:
    """``a0 = 0x2a (42)   was 0x0`` lines, one per changed register."""
    lines = []
    for name, (old, new) in changed.items():
        signed = int(i64(new))
        lines.append(f"{name:>7} = {new:#018x}  ({signed})   was {old:#x}")
    return "\n".join(lines)


def hexdump(data: bytes, addr: int) -> str:
    """Memory as ``xxd`` prints it: address, 16 bytes in hex, the printable characters."""
    lines = []
    for off in range(0, len(data), 16):
        row = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{addr + off:08x}: {hexes:<47}  {text}")
    return "\n".join(lines)


class Session:
    """A machine, the cells loaded into it, and the register values seen after the last cell."""

    def __init__(self, ram_size: int = DEFAULT_RAM, budget: int = DEFAULT_BUDGET):
        from vmlab.machine import Machine
        self.ram_size, self.budget = ram_size, budget
        #: The monitor's trap vector lives in the last page of RAM, out of the programs' way;
        #: the stack starts just below it.
        self.monitor = RAM_BASE + ram_size - 0x1000
        self.machine = Machine(ram_size=ram_size)
        self.reset()

    # ---- state --------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on state plus the monitor: RAM cleared, sp near the top of RAM, mtvec -> monitor."""
        m = self.machine
        m.reset()
        m.write_mem(RAM_BASE, bytes(self.ram_size))
        for bp in list(m.breakpoints):
            m.remove_breakpoint(bp)
        m.console_output                      # drain, then forget, what earlier runs printed
        self._console_seen = len(m.console_bytes)
        self.symbols: dict[str, int] = {}
        self.next_addr = CODE_BASE
        # ``j .`` at the vector: if the breakpoint were ever skipped, the hart stays put.
        m.write_mem(self.monitor, (0x0000006F).to_bytes(4, "little"))
        m.set_csr("mtvec", self.monitor)
        m.add_breakpoint(self.monitor)
        m.set_reg("sp", self.monitor - 16)
        m.pc = CODE_BASE
        self.cells = 0
        self.program: Program | None = None
        self.last = self.registers()

    def registers(self) -> dict[str, int]:
        """pc, the 31 writable x registers by ABI name, and the privilege level."""
        m = self.machine
        regs = {"pc": m.pc & _MASK64}
        for i, name in enumerate(ABI_NAMES[1:], start=1):
            regs[name] = m.reg(i) & _MASK64
        regs["priv"] = m.priv
        return regs

    def changes(self) -> dict:
        """Registers whose value differs from the last call (or the last cell)."""
        now = self.registers()
        changed = {k: (self.last[k], v) for k, v in now.items() if self.last.get(k) != v}
        self.last = now
        return changed

    def new_output(self) -> str:
        """Console output produced since the last call."""
        data = self.machine.console_bytes
        new, self._console_seen = data[self._console_seen:], len(data)
        return new.decode("utf-8", errors="replace")

    # ---- assembling ---------------------------------------------------------------------
    def assemble(self, source: str, filename: str = "<cell>") -> Program:
        """Assemble a cell at the next free address, with earlier cells' labels visible.

        Earlier labels are passed as ``.equ`` lines joined with ``;`` onto the cell's first
        line, so every diagnostic keeps the line number the student sees.
        """
        defined = set(_LABEL_DEF.findall(source)) | set(_EQU_DEF.findall(source))
        known = [f".equ {n}, {v:#x}" for n, v in self.symbols.items()
                 if _SYMBOL.match(n) and n not in defined]
        prefix = "; ".join(known) + "; " if known else ""
        try:
            program = assemble(prefix + source, self.next_addr, filename=filename)
        except AsmError as exc:
            if not prefix:
                raise
            fixed = [type(d)(d.file, d.line, max(1, d.column - len(prefix)), d.text, d.message)
                     if d.line == 1 else d for d in exc.diagnostics]
            raise AsmError(fixed) from None
        return program

    def load(self, program: Program) -> None:
        """Copy a program into RAM and remember its symbols and where the next cell goes."""
        self.machine.load_elf(program.elf)
        self.program = program
        end = max((s.end for s in program.sections.values()), default=program.base)
        self.next_addr = max(self.next_addr, (end + 15) & ~15)
        self.symbols.update({k: v for k, v in program.symbols.items() if _SYMBOL.match(k)})

    # ---- running ------------------------------------------------------------------------
    def run_cell(self, source: str, *, filename: str = "<cell>", on_output=None,
                 budget: int | None = None) -> CellResult:
        """Assemble, load and run a cell from its first instruction to its end."""
        program = self.assemble(source, filename)
        self.load(program)
        text = program.sections.get(".text")
        if text is None or text.size == 0:
            return CellResult("end", 0, self.changes(), program=program)
        self.machine.pc = text.addr
        result = self.run(budget, stop_at=text.end, on_output=on_output)
        result.program = program
        self.cells += 1
        return result

    def run(self, budget: int | None = None, *, stop_at: int | None = None,
            on_output=None) -> CellResult:
        """Run from the current pc in chunks, streaming output; see :class:`CellResult`."""
        m = self.machine
        budget = self.budget if budget is None else budget
        if stop_at is not None:
            m.add_breakpoint(stop_at)
        done, out, reason, r = 0, [], "budget", None
        with CtrlCFlag() as irq:  # the machine catches SIGINT while it runs; this, between chunks
            try:
                while done < budget:
                    if irq.hit:
                        reason = "interrupted"
                        break
                    r = m.run(instructions=min(CHUNK, budget - done))
                    done += r.instructions
                    text = self.new_output()
                    if text:
                        out.append(text)
                        if on_output:
                            on_output(text)
                    if r.reason != "budget":
                        reason = r.reason
                        break
            except KeyboardInterrupt:
                reason = "interrupted"
            finally:
                if stop_at is not None and stop_at != self.monitor:
                    m.remove_breakpoint(stop_at)
        result = CellResult(reason, done, output="".join(out))
        if reason == "breakpoint":
            if m.pc == stop_at:
                result.reason = "end"
            elif m.pc == self.monitor:
                result.reason, result.trap = "trap", self._trap()
        elif reason == "halt":
            result.exit_code = r.exit_code
        result.changed = self.changes()
        return result

    def step(self, n: int = 1) -> CellResult:
        """Execute ``n`` instructions (a trap into the monitor counts as a stop)."""
        m = self.machine
        done = 0
        trap = None
        for _ in range(n):
            r = m.step()
            done += r.instructions
            if m.pc == self.monitor:
                trap = self._trap()
                break
            if r.reason not in ("budget", "breakpoint"):
                break
        result = CellResult("trap" if trap else "step", done, output=self.new_output(), trap=trap)
        result.changed = self.changes()
        return result

    def _trap(self) -> Trap:
        m = self.machine
        epc = m.csr("mepc")
        return Trap(m.csr("mcause"), epc, m.csr("mtval"), self.disassemble_at(epc))

    def disassemble_at(self, addr: int, count: int = 1) -> str:
        """``addr: mnemonic operands`` for ``count`` instructions at a physical address."""
        from vmlab.disasm import disassemble
        try:
            code = self.machine.read_mem(addr, 4 * count)
        except Exception:
            return ""
        recs = disassemble(code, addr, symbols=self.symbols)[:count]
        if count == 1 and recs:
            return f"{recs[0].mnemonic} {recs[0].operands}".strip()
        return "\n".join(f"{r.address:08x}:  {r.mnemonic:<8} {r.operands}" for r in recs)

    def dump(self, addr: int, length: int = 64) -> str:
        return hexdump(self.machine.read_mem(addr, length), addr)
