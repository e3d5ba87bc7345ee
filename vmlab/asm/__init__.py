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
from vmlab.asm.march import MarchError
from vmlab.asm.program import Program, SectionInfo

__all__ = ["assemble", "Program", "SectionInfo", "AsmError", "Diagnostic", "MarchError"]


def assemble(source: str, base: int = 0x80000000, *, march: str = "rv64imac",
             filename: str = "<input>") -> Program:
    """Assemble GNU-syntax ``source`` into a program linked at ``base``.

    ``march`` is an ISA string as GNU as takes it (``rv64imac``, ``rv64imafdc``, ``rv64gc``);
    a bad one raises :class:`MarchError` (a ``ValueError``).
    Raises :class:`AsmError` listing every problem found (file, line, column, text, why).
    """
    from vmlab.asm.assembler import Assembler
    from vmlab.asm.build import build_program

    if not 0 <= base < 1 << 64:
        raise ValueError(f"base {base:#x} is not a 64-bit address")
    asm = Assembler(march, filename)
    if "\0" in source:
        line = source.count("\n", 0, source.index("\0")) + 1
        raise AsmError([Diagnostic(filename, line, 0, "", "a NUL byte: this is not an assembly "
                                   "source (a binary file?)")])
    asm.run(source)
    asm.layout(base)
    if asm.fits_address_space(base):
        asm.emit()   # even after errors: undefined symbols and ranges are reported too
    if asm.diagnostics:
        # one message per problem: a pseudo-instruction's two halves may both report it
        unique = dict.fromkeys(asm.diagnostics + asm.warnings)
        raise AsmError(sorted(unique, key=lambda d: (d.line, d.column)))
    return build_program(asm, base, filename)
