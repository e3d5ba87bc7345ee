"""The one place where compile flags live: every compiled function uses ``@jit``.

- ``cache=True``: compiled code is saved next to the sources, so a new process starts in a
  fraction of a second instead of recompiling for many seconds.
- ``error_model="numpy"``: integer division does not check for zero or raise (our callers
  handle /0 themselves, as RISC-V defines it), which keeps exception paths out of the loop.
- ``nogil=True``: a notebook can run a machine in a thread and stay responsive.
"""
from __future__ import annotations

from numba import njit

FLAGS = dict(cache=True, error_model="numpy", nogil=True)


def jit(fn=None, **extra):
    """``@jit`` or ``@jit(inline="always")``: numba's njit with the project's flags."""
    if fn is None:
        return lambda f: njit(**FLAGS, **extra)(f)
    return njit(**FLAGS)(fn)
