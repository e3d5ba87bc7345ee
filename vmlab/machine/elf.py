"""Loading ELF images (pyelftools): PT_LOAD segments at their physical addresses."""
from __future__ import annotations

import io
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from vmlab.machine.errors import MachineError


def load_elf_segments(path_or_bytes, write, zero) -> tuple[int, dict[str, int]]:
    """Copy each PT_LOAD segment with ``write(paddr, data)`` and clear its .bss with
    ``zero(paddr, n)``; return (entry, symbols).  Only RISC-V ELF64 little-endian is accepted."""
    if isinstance(path_or_bytes, (str, Path)):
        data = Path(path_or_bytes).read_bytes()
    else:
        data = bytes(path_or_bytes)
    try:
        elf = ELFFile(io.BytesIO(data))
    except ELFError as exc:
        raise MachineError(f"not an ELF file: {exc}") from exc
    if elf.elfclass != 64 or elf["e_machine"] != "EM_RISCV" or not elf.little_endian:
        raise MachineError("not a little-endian RV64 ELF")
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        paddr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
        write(paddr, seg.data()[:filesz])
        if memsz > filesz:
            zero(paddr + filesz, memsz - filesz)
    symbols = {}
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None:
        for sym in symtab.iter_symbols():
            if sym.name in ("tohost", "fromhost", "begin_signature", "end_signature", "_start"):
                symbols[sym.name] = sym["st_value"]
    return elf["e_entry"], symbols
