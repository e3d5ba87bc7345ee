"""vmlab.asm: a RISC-V assembler that reads GNU as syntax and writes what GNU as writes.

>>> from vmlab.asm import assemble
>>> p = assemble("_start: li a0, 7\\n ret")
>>> p.image.hex(), hex(p.entry)
('1d458280', '0x80000000')

Modules, in the order the work happens:
``lexer`` (text -> statements), ``expr`` (expressions), ``macros`` and ``directives``,
``pseudo`` (``li``, ``la``, ``call`` ...; one-instruction aliases come from
``vmlab.isa.aliases``), ``encoder`` and ``compress`` (the instruction table -> words),
``assembler`` (state and pass one), ``layout`` and ``passtwo`` (branch sizes, alignment,
addresses, bytes), ``build`` and ``elf`` (the :class:`Program` and its ELF file).
``cli`` is ``vmlab asm``; ``bench`` times it on a generated 10,000-line file.
"""
from __future__ import annotations

from vmlab.asm.errors import AsmError, Diagnostic
from vmlab.asm.program import Program, SectionInfo

__all__ = ["assemble", "Program", "SectionInfo", "AsmError", "Diagnostic"]


def assemble(source: str, base: int = 0x80000000, *, march: str = "rv64imac",
             filename: str = "<input>") -> Program:
    """Assemble GNU-syntax ``source`` into a program linked at ``base``.

    Raises :class:`AsmError` listing every problem found (file, line, column, text, why).
    """
    from vmlab.asm.assembler import Assembler
    from vmlab.asm.build import build_program

    march = march.lower()
    if not march.startswith("rv64"):
        raise ValueError(f"march {march!r}: only rv64 is supported")
    asm = Assembler(march, filename)
    asm.run(source)
    asm.layout(base)
    asm.emit()   # even after errors: undefined symbols and ranges are reported too
    if asm.diagnostics:
        # one message per problem: a pseudo-instruction's two halves may both report it
        unique = dict.fromkeys(asm.diagnostics)
        raise AsmError(sorted(unique, key=lambda d: (d.line, d.column)))
    return build_program(asm, base, filename)
