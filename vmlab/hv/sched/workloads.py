"""The scheduling guests (vmlab/guests: spin, iobound, spinlock), built and booted as VMs.

Each guest's tunables are ``.equ`` lines in its source; :func:`build` sets them, so a lab
can ask for "a burst of 5,000 iterations, then 1 ms asleep" without editing assembly.
"""
from __future__ import annotations

import re
from functools import lru_cache

from vmlab import guests
from vmlab.asm import assemble

SPIN, IO, SPINLOCK = "spin", "iobound", "spinlock"
GUEST_RAM = 4 << 20


def build(name: str, **equ):
    """Guest ``name`` assembled (``.elf``, ``.symbols``), its ``.equ`` constants set."""
    return _build(name, tuple(sorted(equ.items())))


@lru_cache(maxsize=32)
def _build(name: str, equ: tuple):
    src = guests.source(name)
    for key, value in equ:
        src, n = re.subn(rf"(\.equ\s+{key},\s*)\S+", rf"\g<1>{int(value)}", src)
        if n != 1:
            raise ValueError(f"guest {name} has no tunable {key}")
    return assemble(src, march="rv64imac")


def boot(hv, name: str, vcpus: int = 1, firmware: bool = False, **equ):
    """A new VM of ``hv`` running guest ``name``: as a kernel in virtual S-mode (SBI from
    the host; vCPU 0 starts, the others wait for HSM) or, with ``firmware``, in virtual
    M-mode with every vCPU started at once, as on reset."""
    vm = hv.create_vm(ram_size=GUEST_RAM, vcpus=vcpus)
    program = build(name, **equ)
    if firmware:
        vm.boot(bios=program.elf)
    else:
        vm.boot(kernel=program.elf)
    vm.symbols.update(program.symbols)          # the counters, for counter()
    return vm


def counter(vm, symbol: str, index: int = 0) -> int:
    """A doubleword the guest counts in (``counter``, ``rounds``, ``spins``, ...)."""
    gpa = vm.symbols[symbol] + 8 * index
    return int.from_bytes(vm.mem.read(gpa, 8), "little")
