"""``-march``: which extensions an assembly may use, read the way GNU as reads it.

An ISA string is ``rv64`` followed by single-letter extensions (``imafdc``, ``h`` for the
hypervisor extension; ``g`` is short
for ``imafd`` plus Zicsr and Zifencei) and then multi-letter ones after underscores
(``_zicsr_zifencei``).  The result is a set of the extension names the instruction table
uses (``"I"``, ``"F"``, ``"C"`` ...): a row is available when every part of its ``ext``
(``"C+D"`` for ``c.fld``) is in the set.

Two choices differ from GNU as 2.40, on purpose:

- Zicsr and Zifencei are always on.  GNU as wants them spelled out (``rv64imac_zicsr``);
  vmlab's labs write CSR instructions under ``rv64imac`` and every RISC-V core that runs
  them has both, so requiring the suffix would only produce a confusing error.
- The privileged instructions (``mret``, ``sfence.vma`` ...) are always on, as in GNU as.
"""
from __future__ import annotations

import re

#: what every -march gets (see the module docstring)
ALWAYS = frozenset({"I", "Zicsr", "Zifencei", "Priv"})
#: single letters we know, in the canonical order GNU as requires
_LETTERS = "imafdch"
#: multi-letter extensions accepted after ``_`` (the table's spelling)
_MULTI = {"zicsr": "Zicsr", "zifencei": "Zifencei"}
#: an extension that brings another with it (D needs F's registers and fcsr)
_IMPLIES = {"d": "f", "g": "imafd"}


class MarchError(ValueError):
    """An ISA string vmlab cannot assemble for; the message says why."""


def parse_march(march: str) -> frozenset[str]:
    """The table's extension names for ``march`` (``"rv64gc"`` -> I, M, A, F, D, C ...)."""
    text = march.strip().lower()
    if not text.startswith("rv64"):
        raise MarchError(f"-march {march!r}: only rv64 is supported (e.g. rv64imac, rv64gc)")
    head, *multi = text.split("_")
    letters = _letters(head[4:], march)
    out = set(ALWAYS) | {c.upper() for c in letters}
    for name in multi:
        base = re.sub(r"\d+p\d+$", "", name)
        if base not in _MULTI:
            raise MarchError(f"-march {march!r}: unknown extension '{name}' "
                             f"(known: {', '.join(_MULTI)})")
        out.add(_MULTI[base])
    return frozenset(out)


def _letters(text: str, march: str) -> str:
    """The single-letter extensions of ``text`` (after ``rv64``), implied ones added."""
    text = re.sub(r"\d+p\d+", "", text)        # version numbers: rv64i2p1m2p0 ...
    if not text or text[0] not in "ig":
        raise MarchError(f"-march {march!r}: must start with rv64i or rv64g")
    seen = ""
    for c in text:
        if c not in _LETTERS + "g":
            raise MarchError(f"-march {march!r}: unknown or unsupported extension '{c}' "
                             f"(vmlab knows {_LETTERS}, and g)")
        seen += c + _IMPLIES.get(c, "")
    return "".join(sorted(set(seen) - {"g"}, key=_LETTERS.index))


def enabled(ext: str, extensions: frozenset[str]) -> bool:
    """Whether a table row of extension ``ext`` (``"C+D"``) may be used."""
    return all(part in extensions for part in ext.split("+"))


def float_abi(extensions: frozenset[str]) -> int:
    """ELF e_flags float-ABI bits GNU as 2.40 chooses when -mabi is not given: lp64d (0x4)
    when D is there, else lp64 (0: floats passed in integer registers), F alone included."""
    return 0x4 if "D" in extensions else 0
