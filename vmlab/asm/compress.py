"""Automatic RVC compression: pick the 16-bit form GNU as would pick, or none.

With ``rvc`` on, GNU as writes a 32-bit instruction as a compressed one whenever some
compressed row means the same thing.  The table already says what each compressed row
means (``c.addi`` *expands* to ``addi c_rd,c_rd,c_nzimm6``), so we only have to match an
instruction's operands against those expansions, honour the field ranges and constraints,
and try candidates in the order GNU as does.  GNU as also compresses a few instructions
that no expansion spells literally; they are listed in :data:`_EXTRA` with the reason.
"""
from __future__ import annotations

from functools import lru_cache

from vmlab.isa import BY_MNEMONIC, FIELDS, INSTRUCTIONS
from vmlab.asm.encoder import constraint_violation, encode, row_plan
from vmlab.asm.march import enabled

_FIXED = {"zero": 0, "ra": 1, "sp": 2}


def _expansion_steps(row) -> tuple[str, list]:
    """``"addi c_rd,c_rd,c_nzimm6"`` -> ``("addi", ["c_rd", "c_rd", "c_nzimm6"])`` with
    memory operands split like the 32-bit row's plan (offset, base)."""
    mnemonic, _, rest = row.expands.partition(" ")
    tokens = []
    for tok in (t.strip() for t in rest.split(",") if t.strip()):
        if "(" in tok:
            outer, inner = tok.rstrip(")").split("(")
            tokens += [outer, inner]
        else:
            tokens.append(tok)
    return mnemonic, tokens


def _plan_fields(mnemonic: str) -> list[str]:
    """The 32-bit row's operand fields in the same flattened order as an expansion."""
    out = []
    for kind, name, inner in row_plan(mnemonic):
        if kind == "mem":
            out += [name, inner]
        else:
            out.append(name)
    return out


#: 32-bit mnemonic -> extra compressed readings GNU as accepts: (c row, field mapping).
#: ``addi rd, rs, 0`` is a register move, and GNU as writes it as ``c.mv rd, rs``.
_EXTRA = {
    "addi": [("c.mv", (("c_rd", "rd"), ("c_rs2", "rs1")), (("imm_i", 0),))],
}
#: instructions whose two source registers may be swapped to fit a compressed form
_COMMUTATIVE = frozenset({"add", "and", "or", "xor", "addw"})


@lru_cache(maxsize=None)
def candidates(mnemonic: str) -> tuple:
    """Compressed rows that can stand for ``mnemonic``, in GNU as's order of preference.

    Each candidate is ``(c_row, pairs, fixed)``: ``pairs`` maps c fields to 32-bit fields,
    ``fixed`` lists 32-bit fields that must hold a given value (``zero`` registers, ``0``).
    """
    if mnemonic not in BY_MNEMONIC or BY_MNEMONIC[mnemonic].size != 4:
        return ()
    full = _plan_fields(mnemonic)
    out = []
    for row in INSTRUCTIONS:
        if row.size != 2 or not row.expands or not row.ext.startswith("C"):
            continue
        exp_mn, tokens = _expansion_steps(row)
        if exp_mn != mnemonic or len(tokens) != len(full):
            continue
        pairs, fixed = [], []
        for tok, f32 in zip(tokens, full):
            if tok in FIELDS:
                pairs.append((tok, f32))
            elif tok in _FIXED:
                fixed.append((f32, _FIXED[tok]))
            else:
                fixed.append((f32, int(tok, 0)))
        out.append((row, tuple(pairs), tuple(fixed)))
    for cname, pairs, fixed in _EXTRA.get(mnemonic, ()):
        out.append((BY_MNEMONIC[cname], pairs, fixed))
    return tuple(out)


def _try(row, pairs, fixed, values: dict) -> int | None:
    """``row``'s word if the 32-bit ``values`` fit it, else None.

    A compressed field used twice (``c_rd`` as both rd and rs1 of ``addi``) must get the
    same value from both places: that is what "the destination is also a source" means.
    """
    for f32, want in fixed:
        if values.get(f32) != want:
            return None
    cvals = {}
    for cf, f32 in pairs:
        v = values[f32]
        if cf in cvals:
            if cvals[cf] != v:
                return None
            continue
        if FIELDS[cf].check(v) is not None:
            return None
        cvals[cf] = v
    if constraint_violation(row, cvals) is not None:
        return None
    return encode(row, cvals, checked=True)


def compress(mnemonic: str, values: dict, only: str | None = None,
             extensions: frozenset[str] = frozenset({"C"})) -> int | None:
    """The 16-bit word GNU as would emit for this instruction, or None to keep 32 bits.

    ``values`` holds the 32-bit row's field values, all known integers; ``only`` restricts
    the choice to one compressed mnemonic; ``extensions`` (from -march) decides whether
    rows such as ``c.fld`` (extension ``C+D``) may be used.
    """
    cands = candidates(mnemonic)
    if only is not None:
        cands = tuple(c for c in cands if c[0].mnemonic == only)
    if any(c[0].ext != "C" for c in cands):
        cands = tuple(c for c in cands if enabled(c[0].ext, extensions))
    if not cands:
        return None
    for row, pairs, fixed in cands:
        word = _try(row, pairs, fixed, values)
        if word is not None:
            return word
    if mnemonic in _COMMUTATIVE:
        swapped = dict(values, rs1=values["rs2"], rs2=values["rs1"])
        for row, pairs, fixed in cands:
            if fixed:
                continue  # GNU as swaps operands for c.add/c.and..., never to make a c.mv
            word = _try(row, pairs, fixed, swapped)
            if word is not None:
                return word
    return None
