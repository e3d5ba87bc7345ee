"""Floating point's architectural numbers (the F and D extensions), in one place.

The machine's soft-float modules and the assembler both read these; nothing else writes them.

- the exception flags, as bits of fflags / fcsr (the fields live in ``csrs.py``, like every
  other CSR's, and are read back here by name)
- the rounding modes, as values of an instruction's ``rm`` field and of frm (their names
  are the assembler's, in ``fields.RM_NAMES``)
- the canonical NaN each precision produces: RISC-V does not propagate NaN payloads, so
  every NaN result is this one bit pattern (unprivileged spec, "NaN Generation and
  Propagation")
- mstatus.FS's four states, by value
"""
from __future__ import annotations

from vmlab.isa.csrs import field_mask, field_shift
from vmlab.isa.fields import ROUNDING_MODES

#: the five accrued exception flags (fflags bits)
NX, UF, OF, DZ, NV = (field_mask("fflags", f) for f in ("NX", "UF", "OF", "DZ", "NV"))
#: fcsr = frm << FRM_SHIFT | fflags
FFLAGS_MASK = NX | UF | OF | DZ | NV
FRM_SHIFT = field_shift("fcsr", "frm")

#: rounding modes: to nearest, ties to even; toward zero; down; up; to nearest, ties away
RNE, RTZ, RDN, RUP, RMM = (ROUNDING_MODES[n] for n in ("rne", "rtz", "rdn", "rup", "rmm"))
#: "use frm" (an instruction's rm only; in frm it is reserved)
DYN = ROUNDING_MODES["dyn"]

#: the canonical NaNs (a quiet NaN, sign 0, the top fraction bit alone)
CANON_S = 0x7FC00000
CANON_D = 0x7FF8000000000000

#: mstatus.FS: Off (F/D illegal), Initial, Clean, Dirty -- values of the 2-bit field
FS_OFF, FS_INITIAL, FS_CLEAN, FS_DIRTY = range(4)
