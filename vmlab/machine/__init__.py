"""vmlab.machine: the emulated RV64IMAC ``virt`` board (its hot loop compiled with numba).

Public API::

    from vmlab.machine import Machine, RunResult
    m = Machine(ram_size=128 << 20, harts=1, drive=None)
    m.boot_virt(bios=..., kernel=...)
    r = m.run(instructions=10_000_000, until_output="=>")

``Machine`` lives in :mod:`vmlab.machine.board`; the layout of the state arrays in
:mod:`vmlab.machine.layout`; the interpreter in :mod:`vmlab.machine.hart`.
"""
from __future__ import annotations

from vmlab.machine.errors import BusError, MachineError

__all__ = ["Machine", "RunResult", "BusError", "MachineError"]


def __getattr__(name):
    # Imported lazily: loading the board pulls in numba and the compiled loop.
    if name in ("Machine", "RunResult"):
        from vmlab.machine import board
        return getattr(board, name)
    raise AttributeError(name)
