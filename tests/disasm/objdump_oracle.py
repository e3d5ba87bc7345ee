"""Running GNU objdump and reading its listing, to compare ours against it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

#: "    80200000:\t822a                \tmv\ttp,a0"
_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?) *\t(.*)$")


def objdump(gnu_objdump: str, path: Path, *options: str) -> str:
    return subprocess.run([gnu_objdump, *options, str(path)], capture_output=True, text=True,
                          check=True).stdout


def normalise(text: str) -> str:
    """Whitespace collapsed: ``"add\\ta0,a0,1 # 10"`` -> ``"add a0,a0,1 # 10"``."""
    return " ".join(text.split())


def instructions(listing: str) -> dict[int, str]:
    """Address -> mnemonic and operands of every instruction line of an objdump listing."""
    out = {}
    for line in listing.splitlines():
        m = _LINE.match(line)
        if m and m.group(3):
            out[int(m.group(1), 16)] = normalise(m.group(3))
    return out


def agreement(theirs: dict[int, str], ours: dict[int, str]) -> tuple[float, list[str]]:
    """Share of objdump's instructions we print identically, and the differences."""
    diffs = [f"{a:x}: objdump {t!r}, vmlab {ours.get(a)!r}"
             for a, t in sorted(theirs.items()) if ours.get(a) != t]
    return 1 - len(diffs) / max(len(theirs), 1), diffs
