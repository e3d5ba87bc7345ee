"""GNU binutils as the oracle: assemble the same source with riscv64-unknown-elf-as and
link it with riscv64-unknown-elf-ld at the section addresses vmlab chose, then compare."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

GNU_MARCH = {"rv64imac": "rv64imac_zicsr_zifencei", "rv64ima": "rv64ima_zicsr_zifencei"}


def gnu_sections(source: str, addresses: dict[str, int], gnu_as: str, gnu_ld: str,
                 march: str = "rv64imac") -> dict[str, bytes]:
    """Section name -> bytes, as GNU as + ld produce them with each section at ``addresses``."""
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, exe = Path(tmp, "t.s"), Path(tmp, "t.o"), Path(tmp, "t.elf")
        src.write_text(source)
        run([gnu_as, f"-march={GNU_MARCH[march]}", "-mno-relax", "-o", str(obj), str(src)])
        # one output section per input section, at vmlab's address (ld's default script
        # would merge .text.* into .text and so on)
        script = Path(tmp, "t.ld")
        script.write_text("SECTIONS {\n" + "".join(
            f"  {name} {addr:#x} : {{ *({name}) }}\n" for name, addr in addresses.items()) + "}\n")
        run([gnu_ld, "-nostdlib", "--no-relax", "-e", "0", "--build-id=none", "-T", str(script),
             "-o", str(exe), str(obj)])
        with open(exe, "rb") as f:
            elf = ELFFile(f)
            return {s.name: (b"" if s["sh_type"] == "SHT_NOBITS" else s.data())
                    for s in elf.iter_sections() if s["sh_flags"] & 2}


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[:1])} failed:\n{r.stderr}")


def compare(source: str, gnu_as: str, gnu_ld: str, march: str = "rv64imac") -> list[str]:
    """Differences between vmlab and GNU for ``source`` (empty when the bytes agree)."""
    from vmlab.asm import assemble
    prog = assemble(source, march=march)
    ours = {name: s for name, s in prog.sections.items() if s.size and "a" in s.flags}
    # (sections without the "a" flag are not loaded, by GNU ld nor by vmlab: nothing to compare)
    theirs = gnu_sections(source, {n: s.addr for n, s in ours.items()}, gnu_as, gnu_ld, march)
    problems = []
    for name, sec in ours.items():
        if name not in theirs:
            problems.append(f"{name}: GNU has no such section")
            continue
        want = theirs[name]
        got = sec.data if not sec.nobits else b""
        if sec.nobits:
            continue
        if got != want:
            problems.append(f"{name}: {_first_diff(got, want, sec.addr)}")
    for name, data in theirs.items():
        if data and name not in ours:
            problems.append(f"{name}: only GNU has it ({len(data)} bytes)")
    return problems


def _first_diff(got: bytes, want: bytes, addr: int) -> str:
    for i in range(min(len(got), len(want))):
        if got[i] != want[i]:
            lo = i & ~3
            return (f"first difference at {addr + i:#x}: ours {got[lo:lo + 8].hex()} "
                    f"GNU {want[lo:lo + 8].hex()} (sizes {len(got)} / {len(want)})")
    return f"sizes differ: ours {len(got)}, GNU {len(want)}"
