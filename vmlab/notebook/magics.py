"""``%%asm`` and ``%vm``: assemble a cell into a guest, then run, step and look at it.

The magics share one :class:`~vmlab.notebook.session.Session` per notebook, published in
the notebook as ``vm`` (the :class:`~vmlab.machine.Machine`) and ``vmlab_session``, so a
student can switch between the magics and plain Python at any point::

    %%asm hello --base 0x80000000
    _start: li a0, 42
            ecall            # no handler of our own: the monitor stops the run here

    %vm run                  # runs, prints the console output and the registers that changed
    vm.reg("a0")             # the same machine from Python
"""
from __future__ import annotations

import argparse
import shlex

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from vmlab.asm import AsmError, assemble
from vmlab.notebook.errors import CellAsmError
from vmlab.notebook.session import CODE_BASE, Session, format_changes


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel on a bad option."""

    def error(self, message):
        from IPython.core.error import UsageError
        raise UsageError(f"{self.prog}: {message}")


def _int(text: str) -> int:
    return int(text.replace("_", ""), 0)


_ASM = _Parser(prog="%%asm", add_help=False)
_ASM.add_argument("name", nargs="?", default="program", help="variable that receives the Program")
_ASM.add_argument("--base", type=_int, default=CODE_BASE, help="link address (default 0x80000000)")
_ASM.add_argument("--run", action="store_true", help="run it right away")
_ASM.add_argument("--budget", type=_int, default=None, help="instruction budget for --run")
_ASM.add_argument("--no-load", action="store_true", help="only assemble")


@magics_class
class VmMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The notebook's machine, made on first use (so loading the extension stays fast)."""
        if self._session is None:
            self._session = Session()
            self.shell.user_ns["vm"] = self._session.machine
            self.shell.user_ns["vmlab_session"] = self._session
        return self._session

    @cell_magic
    def asm(self, line: str, cell: str):
        """%%asm [name] [--base ADDR] [--run] [--budget N] [--no-load]

        Assemble the cell (GNU syntax, rv64imac) into a Program stored as ``name`` (default
        ``program``), load it into the notebook's machine (``vm``, reset first) with the pc at
        its entry, and show it.  Errors point at the cell's own line and column, counting
        this ``%%asm`` line as line 1, as the notebook's line numbers do.
        """
        args = _ASM.parse_args(shlex.split(line))
        try:
            program = assemble(cell, args.base, filename="<cell>")
        except AsmError as exc:
            raise CellAsmError(exc, cell, line_offset=1) from None
        self.shell.user_ns[args.name] = program
        if args.no_load:
            return program
        s = self.session
        s.reset()
        s.load(program)
        s.machine.pc = program.entry
        s.last = s.registers()
        if args.run:
            return self._report(s.run(args.budget))
        return program

    @line_magic
    def vm(self, line: str):
        """%vm COMMAND: the notebook's machine.

        run [N] [--until TEXT]   run from the pc (N instructions at most)
        step [N]                 execute N instructions and show the next one
        regs                     the registers;   reset   reload the last %%asm program
        mem ADDR [LEN]           hex dump;  console   everything the guest printed
        view                     a live dashboard (registers, console, traps, run control)
        load NAME                load a Program variable or a built-in guest by name
        """
        words = shlex.split(line)
        cmd, rest = (words[0], words[1:]) if words else ("show", [])
        s = self.session
        if cmd == "show":
            return s.machine
        if cmd == "run":
            p = _Parser(prog="%vm run", add_help=False)
            p.add_argument("n", nargs="?", type=_int, default=None)
            p.add_argument("--until", default=None)
            a = p.parse_args(rest)
            if a.until:
                return self._run_until(a.n, a.until)
            return self._report(s.run(a.n))
        if cmd == "step":
            result = s.step(_int(rest[0]) if rest else 1)
            self._report(result)
            print(f"next: {s.machine.pc:#x}: {s.disassemble_at(s.machine.pc)}")
            return None
        if cmd == "regs":
            from vmlab.viz import Registers
            return Registers(s.machine)
        if cmd == "reset":
            program = s.program
            s.reset()
            if program is not None:
                s.load(program)
                s.machine.pc = program.entry
                s.last = s.registers()
            return None
        if cmd == "mem":
            if not rest:
                raise _usage("%vm mem ADDR [LEN]")
            addr = self._addr(rest[0])
            print(s.dump(addr, _int(rest[1]) if len(rest) > 1 else 64))
            return None
        if cmd == "console":
            print(s.machine.console_output, end="")
            return None
        if cmd == "view":
            from vmlab.viz import Dashboard
            return Dashboard(s.machine)
        if cmd == "load":
            return self._load(rest[0] if rest else "program")
        raise _usage(f"%vm: unknown command {cmd!r} (run, step, regs, reset, mem, console, view, load)")

    # ---- helpers ----------------------------------------------------------------------------
    def _addr(self, text: str) -> int:
        syms = self.session.symbols
        return syms[text] if text in syms else _int(text)

    def _load(self, name: str):
        from vmlab import guests
        program = self.shell.user_ns.get(name)
        if program is None and name in guests.names():
            program = assemble(guests.source(name), filename=f"{name}.s")
        if program is None or not hasattr(program, "elf"):
            raise _usage(f"%vm load: no Program called {name!r} (and no built-in guest of that name)")
        s = self.session
        s.reset()
        s.load(program)
        s.machine.pc = program.entry
        s.last = s.registers()
        return program

    def _run_until(self, n, text):
        s = self.session
        r = s.machine.run(instructions=n or s.budget, until_output=text)
        out = s.new_output()
        if out:
            print(out, end="" if out.endswith("\n") else "\n")
        print(f"stopped: {r.reason} after {r.instructions:,} instructions")
        changes = s.changes()
        if changes:
            print(format_changes(changes))

    def _report(self, result):
        if result.output:
            print(result.output, end="" if result.output.endswith("\n") else "\n")
        print(result.summary())
        if result.changed:
            print(format_changes(result.changed))
        return None


def _usage(msg: str):
    from IPython.core.error import UsageError
    return UsageError(msg)
