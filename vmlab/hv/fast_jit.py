"""``@jit`` for the fast path's modules: the machine's flags, and a cache that sees every edit.

numba checks a cached function only against its own source file.  ``fast_run`` inlines code
from all the ``fast_*`` modules (and constants from a few others), so editing, say,
``fast_csr.py`` would leave the cached ``fast_run`` running the old handler.  The machine
solves this with a cache directory named after a hash of its sources (vmlab.machine.jit);
the fast path does the same one level down: its functions are cached in a subdirectory named
after a hash of the files listed in :data:`SOURCES`.  numba fixes a function's cache
directory when the function is decorated, so pointing it there while decorating is enough.
"""
from __future__ import annotations

import hashlib
import shutil
from contextlib import contextmanager
from pathlib import Path

import numba

from vmlab.machine.jit import jit as machine_jit

_PACKAGE = Path(__file__).resolve().parents[1]          # .../vmlab
#: the sources whose code or constants end up in the fast path's compiled code
SOURCES = ("hv/fast_jit.py", "hv/fast_args.py", "hv/fast_state.py", "hv/fast_vhart.py",
           "hv/fast_guest.py", "hv/fast_csr.py", "hv/fast_shadow.py", "hv/fast_mmio.py",
           "hv/fast_sbi.py", "hv/fast_run.py", "hv/memory.py", "hv/trace.py", "isa/paging.py")
KEEP = 4                                                 # older versions kept (other branches)


def _digest() -> str:
    h = hashlib.sha1()
    for name in SOURCES:
        path = _PACKAGE / name
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:16]


def _cache_dir() -> str | None:
    """This version's directory under the machine's cache; older versions beyond KEEP go."""
    base = numba.config.CACHE_DIR
    if not base:
        return None
    here = Path(base) / f"hv-{_digest()}"
    try:
        old = sorted((p for p in Path(base).glob("hv-*") if p.is_dir() and p != here),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        old = []
    for stale in old[KEEP:]:
        shutil.rmtree(stale, ignore_errors=True)
    return str(here)


CACHE_DIR = _cache_dir()


@contextmanager
def _caching_here():
    saved = numba.config.CACHE_DIR
    if CACHE_DIR:
        numba.config.CACHE_DIR = CACHE_DIR
    try:
        yield
    finally:
        numba.config.CACHE_DIR = saved


def jit(fn=None, **extra):
    """``@jit`` as in vmlab.machine.jit, cached in the fast path's own versioned directory."""
    if fn is None:
        return lambda f: jit(f, **extra)
    with _caching_here():
        return machine_jit(**extra)(fn) if extra else machine_jit(fn)
