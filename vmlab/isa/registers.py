"""Register names: the ABI names objdump prints and the xN/fN names assembly also accepts."""
from __future__ import annotations

#: ABI names of x0..x31, in order.
XREG_ABI = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
    "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
    "t3", "t4", "t5", "t6",
)
#: ABI names of f0..f31, in order.
FREG_ABI = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1",
    "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7",
    "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
    "ft8", "ft9", "ft10", "ft11",
)

XREGS: dict[str, int] = {name: i for i, name in enumerate(XREG_ABI)}
XREGS.update({f"x{i}": i for i in range(32)})
XREGS["fp"] = 8  # s0 doubles as the frame pointer

FREGS: dict[str, int] = {name: i for i, name in enumerate(FREG_ABI)}
FREGS.update({f"f{i}": i for i in range(32)})


def xreg(name: str) -> int | None:
    """Number of integer register ``name`` (``a0``, ``x10``, ``fp`` ...), or None."""
    return XREGS.get(name.lower())


def freg(name: str) -> int | None:
    return FREGS.get(name.lower())
