"""The one place where compile flags live: every compiled function uses ``@jit``.

- ``cache=True``: compiled code is saved next to the sources, so a new process starts in a
  fraction of a second instead of recompiling for many seconds.
- ``error_model="numpy"``: integer division does not check for zero or raise (our callers
  handle /0 themselves, as RISC-V defines it), which keeps exception paths out of the loop.
- ``nogil=True``: a notebook can run a machine in a thread and stay responsive.
- ``_nrt=False``: no reference counting.  Compiled code here never allocates an array; it
  only works on the arrays Python passed in (which Python keeps alive), so numba's atomic
  increments and decrements on every array handed to a function that is not inlined buy
  nothing -- and they were 46 % of the CPU time of a hypervisor exit (``perf`` on the CSR
  exit benchmark: NRT_incref/NRT_decref on top), 670k -> 1.34M exits/s without them.
  An allocation in compiled code now fails to compile, loudly.

Where the cache lives: numba checks a cached function only against its *own* source file, not
against the functions it calls in other files -- edit ``bus.py`` and the cached ``exec_hart``
would silently keep the old code.  So the cache directory is named after a hash of all the
machine's compiled sources: change any of them and everything is compiled afresh.  (``NUMBA_CACHE_DIR``
set by the user wins.)
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numba
from numba import njit


#: the modules whose compiled code ends up in the cache (rvc.py: its table is cached there too)
COMPILED_MODULES = ("layout", "jit", "bits", "csr", "trap", "mmu", "devices", "bus", "rvc",
                    "alu", "loadstore", "fetch",
                    "hart", "tinst", "atomics", "system", "loop",
                    "fpformat", "fpround", "fpwide", "fparith", "fpfma", "fpcmp", "fpcvt", "fpexec",
                    "fpstate", "fphart")


def _sources_digest() -> str:
    h = hashlib.sha1()
    for name in COMPILED_MODULES:
        path = Path(__file__).with_name(f"{name}.py")
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:16]


def _use_versioned_cache(keep: int = 4) -> None:
    """Point numba at this version's cache directory; drop all but a few older versions."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vmlab" / "numba"
    here = root / _sources_digest()
    numba.config.CACHE_DIR = str(here)
    try:
        old = sorted((p for p in root.iterdir() if p.is_dir() and p != here),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for stale in old[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


_use_versioned_cache()

FLAGS = dict(cache=True, error_model="numpy", nogil=True, _nrt=False)  # (see above)


def jit(fn=None, **extra):
    """``@jit`` or ``@jit(inline="always")``: numba's njit with the project's flags."""
    if fn is None:
        return lambda f: njit(**FLAGS, **extra)(f)
    return njit(**FLAGS)(fn)
