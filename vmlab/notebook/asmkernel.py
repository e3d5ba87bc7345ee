"""The RISC-V assembly kernel: notebook cells are assembly, run on one persistent machine.

A Jupyter *wrapper kernel*: ipykernel does the messaging, this class only says what running
a cell means (see :class:`vmlab.notebook.session.Session`).  After every cell it shows the
registers that changed; console output is streamed while the guest runs; an interrupt (the
notebook's stop button) stops a runaway loop and leaves the machine where it was.

Lines starting with ``%`` are commands, not assembly (``%help`` lists them).  They may
come before and after the code in a cell; they are replaced by blank lines before
assembling, so error messages keep the line numbers the student sees.

Start it with ``python -m vmlab.notebook.asmkernel -f CONNECTION_FILE`` (the kernelspec in
``kernels/vmlab-asm`` does exactly that).
"""
from __future__ import annotations

import html
import shlex

from ipykernel.kernelbase import Kernel

from vmlab import __version__
from vmlab.asm import AsmError
from vmlab.notebook.errors import describe
from vmlab.notebook.session import PRIV_NAMES, CellResult, Session, format_changes

HELP = """\
Cells are RISC-V assembly (GNU syntax, rv64imac), run from their first instruction to their
end on one machine that keeps its registers and memory between cells.  Labels from earlier
cells can be used in later ones.  An unhandled trap stops the cell and says which.

%reset               power the machine off and on (RAM cleared, labels forgotten)
%step [N]            execute N instructions (default 1) from the current pc
%continue [N]        run from the current pc (for N instructions at most)
%regs                every register;  %csr NAME...  some CSRs
%mem ADDR [LEN]      hex dump of memory (ADDR: number or label)
%disasm ADDR [N]     disassemble N instructions
%input TEXT          type TEXT (and a newline) into the UART
%budget N            instruction budget per cell (default 100,000,000)
%lib                 (first line) only assemble and load this cell; do not run it
%help                this text
"""


class AsmKernel(Kernel):
    implementation = "vmlab-asm"
    implementation_version = __version__
    language = "riscv-asm"
    language_version = "rv64imac"
    language_info = {
        "name": "riscv-asm",
        "mimetype": "text/x-riscv-asm",
        "file_extension": ".s",
        "codemirror_mode": "gas",
        "pygments_lexer": "gas",
    }
    banner = "RISC-V assembly on vmlab's emulated virt machine (rv64imac)"
    help_links = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.vm = Session()

    # ---- output helpers -------------------------------------------------------------------
    def _stream(self, text: str, name: str = "stdout") -> None:
        if text:
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def _display(self, plain: str, html_text: str | None = None) -> None:
        data = {"text/plain": plain}
        if html_text:
            data["text/html"] = html_text
        self.send_response(self.iopub_socket, "display_data", {"data": data, "metadata": {}})

    def _show_result(self, result: CellResult) -> None:
        plain = result.summary()
        if result.changed:
            plain += "\n" + format_changes(result.changed)
        self._display(plain, _changes_html(result))

    # ---- the protocol -------------------------------------------------------------------------
    async def do_execute(self, code, silent, store_history=True, user_expressions=None,
                         allow_stdin=False, *, cell_id=None, **kwargs):
        try:
            self._execute(code, silent)
        except AsmError as exc:
            return self._error("AsmError", exc, describe(exc, _strip_commands(code)[0]))
        except _CommandError as exc:
            return self._error("CommandError", exc, [str(exc)])
        return {"status": "ok", "execution_count": self.execution_count, "payload": [],
                "user_expressions": {}}

    def _error(self, ename: str, exc: Exception, lines: list[str]) -> dict:
        content = {"ename": ename, "evalue": str(exc).splitlines()[0] if str(exc) else ename,
                   "traceback": lines}
        self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    def _execute(self, code: str, silent: bool) -> None:
        source, before, after = _strip_commands(code)
        lib = bool(before) and before[0][0] == "lib"
        for cmd in before[1:] if lib else before:
            self._command(*cmd)
        if source.strip():
            if lib:
                program = self.vm.assemble(source)
                self.vm.load(program)
                names = ", ".join(k for k in program.symbols if not k.startswith("."))
                self._stream(f"loaded {len(program.image)} bytes at {program.base:#x}; labels: {names}\n")
            else:
                result = self.vm.run_cell(source, on_output=self._stream)
                if not silent:
                    self._show_result(result)
        for cmd in after:
            self._command(*cmd)

    # ---- %-commands -------------------------------------------------------------------------
    def _command(self, name: str, args: list[str]) -> None:
        s = self.vm
        if name == "help":
            self._stream(HELP)
        elif name == "reset":
            s.reset()
            self._stream("machine reset: RAM cleared, pc at 0x80000000, sp near the top of RAM\n")
        elif name in ("step", "continue"):
            n = self._int(args[0]) if args else None
            result = s.step(n or 1) if name == "step" else s.run(n, on_output=self._stream)
            if name == "step":
                self._stream(result.output)
                self._stream(f"{s.machine.pc:#x}: {s.disassemble_at(s.machine.pc)}\n")
            self._show_result(result)
        elif name == "regs":
            regs = s.registers()
            rows = [f"{k:>5} = {v:#018x}" for k, v in regs.items() if k != "priv"]
            self._stream("\n".join("   ".join(rows[i:i + 4]) for i in range(0, len(rows), 4))
                         + f"\n priv = {PRIV_NAMES.get(regs['priv'], regs['priv'])}\n")
        elif name == "csr":
            for csr in args or ["mstatus", "mtvec", "mepc", "mcause", "mtval", "satp"]:
                try:
                    self._stream(f"{csr:>8} = {s.machine.csr(csr):#018x}\n")
                except Exception as exc:
                    raise _CommandError(f"%csr: {exc}") from None
        elif name == "mem":
            if not args:
                raise _CommandError("%mem ADDR [LEN]")
            addr, length = self._int(args[0]), self._int(args[1]) if len(args) > 1 else 64
            try:
                self._stream(s.dump(addr, length) + "\n")
            except Exception as exc:
                raise _CommandError(f"%mem: {exc}") from None
        elif name == "disasm":
            addr = self._int(args[0]) if args else s.machine.pc
            n = self._int(args[1]) if len(args) > 1 else 8
            self._stream(s.disassemble_at(addr, n) + "\n")
        elif name == "input":
            s.machine.send_input(" ".join(args) + "\n")
        elif name == "budget":
            s.budget = self._int(args[0]) if args else s.budget
            self._stream(f"budget: {s.budget:,} instructions per cell\n")
        elif name == "lib":
            raise _CommandError("%lib must be the first line of a cell")
        else:
            raise _CommandError(f"unknown command %{name} (try %help)")

    def _int(self, text: str) -> int:
        """A number (any base Python accepts, ``_`` allowed) or a label from earlier cells."""
        if text in self.vm.symbols:
            return self.vm.symbols[text]
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            raise _CommandError(f"not a number or known label: {text}") from None

    async def do_complete(self, code, cursor_pos):
        """Complete %-commands, register names and known labels."""
        start = cursor_pos
        while start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_.%"):
            start -= 1
        word = code[start:cursor_pos]
        words = [f"%{c}" for c in _COMMANDS] + list(self.vm.registers()) + list(self.vm.symbols)
        return {"status": "ok", "matches": sorted(w for w in set(words) if w.startswith(word) and word),
                "cursor_start": start, "cursor_end": cursor_pos, "metadata": {}}


_COMMANDS = ("help", "reset", "step", "continue", "regs", "csr", "mem", "disasm", "input", "budget", "lib")


class _CommandError(Exception):
    pass


def _strip_commands(code: str) -> tuple[str, list, list]:
    """Split a cell into assembly (command lines blanked) and the commands before/after it."""
    lines = code.splitlines()
    before, after, seen_code = [], [], False
    kept = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("%"):
            parts = shlex.split(stripped[1:]) if stripped[1:].strip() else [""]
            (after if seen_code else before).append((parts[0], parts[1:]))
            kept.append("")
        else:
            if stripped and not stripped.startswith("#"):
                seen_code = True
            kept.append(line)
    return "\n".join(kept) + "\n", before, after


def _changes_html(result: CellResult) -> str:
    rows = "".join(
        f"<tr><td><b>{name}</b></td><td><code>{new:#x}</code></td>"
        f"<td style='color:#888'><code>{old:#x}</code></td></tr>"
        for name, (old, new) in result.changed.items())
    table = (f"<table class='vmlab-changes'><tr><th>register</th><th>now</th><th>was</th></tr>{rows}</table>"
             if rows else "")
    return f"<div class='vmlab-cell-result'><p>{html.escape(result.summary())}</p>{table}</div>"


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp
    IPKernelApp.launch_instance(kernel_class=AsmKernel)


if __name__ == "__main__":
    main()
