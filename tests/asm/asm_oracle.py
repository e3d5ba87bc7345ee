"""GNU binutils as the oracle: assemble the same source with riscv64-unknown-elf-as and
link it with riscv64-unknown-elf-ld at the section addresses vmlab chose, then compare."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile



def gnu_march(march: str) -> str:
    """GNU as's spelling of ``march``: vmlab always has Zicsr and Zifencei (see
    vmlab.asm.march), GNU as 2.40 wants them written unless ``g`` implies them."""
    head = march.split("_")[0]
    return march if "g" in head[4:] or "zicsr" in march else f"{march}_zicsr_zifencei"


def march_of(source: str) -> str:
    """The -march a corpus file asks for on its first line (``# march: rv64gc``), else
    vmlab's default, rv64imac."""
    first = source.split("\n", 1)[0]
    return first.split("march:", 1)[1].strip() if first.startswith("# march:") else "rv64imac"


def gnu_sections(source: str, addresses: dict[str, int], gnu_as: str, gnu_ld: str,
                 march: str = "rv64imac") -> dict[str, bytes]:
    """Section name -> bytes, as GNU as + ld produce them with each section at ``addresses``."""
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, exe = Path(tmp, "t.s"), Path(tmp, "t.o"), Path(tmp, "t.elf")
        src.write_text(source)
        run([gnu_as, f"-march={gnu_march(march)}", "-mno-relax", "-o", str(obj), str(src)])
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


def compare(source: str, gnu_as: str, gnu_ld: str, march: str | None = None) -> list[str]:
    """Differences between vmlab and GNU for ``source`` (empty when the bytes agree);
    ``march`` defaults to what the source's first line asks for (:func:`march_of`)."""
    from vmlab.asm import assemble
    march = march or march_of(source)
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
