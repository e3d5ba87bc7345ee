"""vmlab in Jupyter: the IPython extension, its magics, rich displays and the assembly kernel.

``%load_ext vmlab`` (or the "Python 3 (vmlab)" kernel, which loads it for you) gives a
notebook:

- ``%%asm [name] [--base ADDR] [--run]``: the cell is RISC-V assembly; it becomes a guest
  program loaded into the notebook's machine ``vm`` (errors point at the cell's own lines);
- ``%vm run | step | regs | reset | mem | console | view | load``: drive and inspect it;
- rich displays for machines, programs, traces and run results.

The second kernel, "RISC-V (vmlab)" (:mod:`vmlab.notebook.asmkernel`), takes assembly in
every cell and runs it on one persistent machine.  Both kernelspecs live in ``kernels/``;
``python -m vmlab.notebook.install`` installs them.
"""
from __future__ import annotations

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ip) -> None:
    """Register the magics and displays (imports no numba: the machine is built on first use)."""
    from vmlab.notebook.magics import VmMagics
    from vmlab.notebook.reprs import register
    ip.register_magics(VmMagics)
    register(ip)


def unload_ipython_extension(ip) -> None:
    pass
