"""vmlab: a lab for seeing how virtual machines work.

Layers, bottom up (each imports only the ones below it):

- ``vmlab.isa``      the one RISC-V instruction table (encodings, CSRs, trap causes)
- ``vmlab.asm``      an assembler for GNU-syntax RISC-V source, producing ELF or flat images
- ``vmlab.disasm``   a disassembler printing what ``objdump -d`` prints
- ``vmlab.machine``  the emulated RV64 ``virt`` board (numba-jitted hot loop)
- ``vmlab.hv``       the trap-and-emulate hypervisor (later)
- ``vmlab.viz``      notebook widgets (later)

Importing ``vmlab`` itself stays cheap (no numba) so that the command line and the
notebook extension start fast; heavy layers are imported when first used.
"""

__version__ = "0.1.0"


def load_ipython_extension(ip):
    """``%load_ext vmlab``: the magics and displays of :mod:`vmlab.notebook` (imported lazily)."""
    from vmlab.notebook import load_ipython_extension as load
    load(ip)
