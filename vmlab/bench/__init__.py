"""vmlab.bench: speed measured side by side, never asserted -- a layer on top, beside the CLI.

- ``machine``  ``vmlab bench``: the machine against unicorn and QEMU on the same workload
- ``hv``       ``vmlab bench --hv``: a guest against bare metal, and exits per second by kind

They sit above the layers they measure (DESIGN.md: benchmark code stays out of the core
layers), so they may drive the machine, the hypervisor and the assembler alike.
"""
