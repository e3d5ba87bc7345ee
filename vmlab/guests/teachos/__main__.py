"""``python -m vmlab.guests.teachos [DIR]``: write teachos out to look at or to boot elsewhere.

DIR (default: the current directory) receives
  teachos.elf   the kernel, built by vmlab.asm (for QEMU's ``-kernel``)
  teachos.s     the whole source, the parts joined (what was assembled)
  teachos.ld    a GNU ld script that lays it out the same way
  disk.img      a small disk whose sector 0 holds a line of text (kept if it exists)
"""
from __future__ import annotations

import sys
from pathlib import Path

from vmlab.guests import teachos


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ".")
    out.mkdir(parents=True, exist_ok=True)
    program = teachos.build()
    program.write_elf(out / "teachos.elf")
    (out / "teachos.s").write_text(teachos.source())
    (out / "teachos.ld").write_text(teachos.linker_script())
    disk = out / "disk.img"
    if not disk.exists():
        text = b"Hello from sector 0 of the disk!\n"
        disk.write_bytes(text + bytes(8 * 512 - len(text)))
    print(f"wrote {out}/teachos.elf ({len(program.image)} bytes to load, entry "
          f"{program.entry:#x}), teachos.s, teachos.ld, disk.img")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
