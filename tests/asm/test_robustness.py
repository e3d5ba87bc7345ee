"""Whatever a student types, the assembler answers with diagnostics, never a traceback."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from vmlab.asm import AsmError, assemble
from vmlab.asm.directives import CONDITIONALS, DIRECTIVES
from vmlab.asm.pseudo import NAMES
from vmlab.isa import BY_MNEMONIC

_MNEMONICS = sorted(set(BY_MNEMONIC) | NAMES | set(DIRECTIVES) | set(CONDITIONALS))

_PIECES = ["addi", "a0", ",", "sp", "(", ")", "1", "-", "0x10", "%hi", "%pcrel_lo", "1b", "1f",
           "x", ":", ";", "#", '"', "'", ".word", ".macro", ".endm", ".rept", ".endr", ".if",
           ".endif", ".else", ".irp", ".section", ".text", ".align", "li", "la", "call", "beqz",
           "c.addi", "lw", "sw", "jalr", ".option", "push", "pop", "rvc", "norvc", "\\", "=",
           ".equ", "<<", "*", "/", "0", "99999999999999999999", ".org", ".fill", ".incbin",
           ".include", "\n", " ", "csrr", "mstatus", ".skip", "fence", "rw", ".ifdef", ".set",
           "fadd.s", "fa0", "ft11", "rtz", "dyn", "fld", "fsd", "fcvt.w.s", "fmv.x.d", "frcsr",
           "fsrmi", "1UL", "10u", "jr", "9" * 200, "\0", "\x1b", ".byte", "256"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_random_input_gives_diagnostics_not_exceptions(pieces):
    source = " ".join(pieces)
    try:
        prog = assemble(source, march="rv64gc" if len(pieces) % 2 else "rv64imac")
    except AsmError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.line >= 0 and d.column >= 0 and d.message
    else:
        assert isinstance(prog.image, bytes)


_OPERANDS = ["a0", "sp", "zero", "x31", "0", "-1", "4096", "x", "1b", "1f", "(a0)", "8(sp)",
             "%lo(x)", "%pcrel_lo(1b)", '"s"', "mstatus", "rw", ".", "x+1", "(1", "", "@progbits",
             "\\x", "9" * 30, "1b-1f", "%hi(%lo(1))", "fa0", "f31", "rne", "rmm", "unknown",
             "0(ft0)", "sym, t0", "1UL << 40", "0x100000000", "-129"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["", "x: ", "1: "]), st.sampled_from(_MNEMONICS),
                          st.lists(st.sampled_from(_OPERANDS), max_size=4)), min_size=1, max_size=8))
def test_random_statements_give_diagnostics_not_exceptions(lines):
    """Every mnemonic and directive with operands of every kind, right or wrong."""
    source = "\n".join(f"{label}{op} {', '.join(args)}" for label, op, args in lines)
    try:
        assemble(source, march="rv64gc")
    except AsmError as exc:
        assert exc.diagnostics
