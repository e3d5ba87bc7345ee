"""Budgets: how much work and memory one assembly may ask for.

A short source can ask for a lot: ``.rept 1000000`` inside another ``.rept``, a macro that
calls itself with its argument doubled, ``.space 0x7fffffff``.  GNU as tries, until the
machine runs out of memory.  vmlab stops at these limits with an error that says which
one was reached, so a typo never takes a student's machine down.  The limits are far above
what real programs need (a 1,000,000-line source assembles well within them).
"""
from __future__ import annotations

#: statements run in one assembly: source lines plus everything macros, ``.rept`` and
#: ``.irp`` produce
MAX_STATEMENTS = 4_000_000
#: bytes in all sections together (256 MiB)
MAX_BYTES = 1 << 28
#: the most bytes (or repetitions) one directive may ask for (64 MiB)
MAX_COUNT = 1 << 26
#: characters in one statement produced by macro substitution
MAX_STATEMENT_CHARS = 1 << 16
#: digits (or hex/binary digits, with the prefix) in one number: GNU as keeps wider
#: "bignums" only to refuse them ("unsupported large constant")
MAX_NUMBER_CHARS = 130
#: diagnostics collected before the assembler gives up on a file (a macro that fails in each
#: of its million expansions would otherwise fill memory with the same message)
MAX_ERRORS = 200
