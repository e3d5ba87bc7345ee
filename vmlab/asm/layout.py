"""Layout: give every item an offset, choosing branch sizes the way GNU as does.

A branch to a label in the same section can take 2, 4, 6 or 8 bytes: ``c.beqz`` reaches
±256 bytes, ``beq`` ±4 KiB, and beyond that GNU as writes the opposite branch (compressed
if it can be) over a ``jal`` (±1 MiB).  But a branch's size moves the labels after it, which can push another
branch out of range: so we iterate.  Every branch starts at its smallest size and only
ever grows, so the loop ends, and it ends at the same sizes GNU as picks.

Alignment padding is recomputed on every round because offsets move under it.  In code
sections the padding is executable: a zero byte to reach an even address, a ``c.nop`` to
reach a multiple of 4, then ``nop`` instructions -- exactly the bytes GNU as writes.
"""
from __future__ import annotations

from vmlab.asm.sections import ALIGN, BRANCH, Section

NOP = (0x00000013).to_bytes(4, "little")
C_NOP = (0x0001).to_bytes(2, "little")

#: reach of each branch form, in bytes from the branch: (lowest, highest)
C_BRANCH_RANGE = (-256, 254)
C_JUMP_RANGE = (-2048, 2046)
BRANCH_RANGE = (-4096, 4094)


def align_padding(offset: int, item) -> int:
    """Bytes of padding an ALIGN item needs at ``offset`` (0 when over its max skip).

    An item with no alignment (``a`` None) is a ``.org``: pad up to section offset ``c``.
    """
    if item.a is None:
        return max(item.c - offset, 0)
    pad = -offset % item.a
    if item.c is not None and pad > item.c:
        return 0
    return pad


def padding_bytes(pad: int, code: bool, fill: int | None, has_c: bool) -> bytes:
    """The padding itself: nops in code (unless a fill byte was given), else the fill."""
    if not code or fill is not None:
        return bytes([(fill or 0) & 0xFF]) * pad
    out = bytearray(pad % 2)
    if (pad - len(out)) % 4:
        out += C_NOP      # GNU as writes a c.nop here even when -march has no C
    return bytes(out) + NOP * ((pad - len(out)) // 4)


def branch_size(item, distance: int | None) -> int:
    """Smallest form of a branch/jump item that reaches ``distance`` (None: not knowable)."""
    is_jump = item.a == "jal"
    if distance is None:
        return 4 if is_jump else (6 if item.rvc else 8)
    if is_jump:
        return 2 if item.rvc and C_JUMP_RANGE[0] <= distance <= C_JUMP_RANGE[1] else 4
    if item.rvc and C_BRANCH_RANGE[0] <= distance <= C_BRANCH_RANGE[1]:
        return 2
    if BRANCH_RANGE[0] <= distance <= BRANCH_RANGE[1]:
        return 4
    return 6 if item.rvc else 8     # (c.)b<opposite> over a jal


def relax(section: Section, label_offset) -> None:
    """Fix the sizes of the section's branches and alignments, and every item's offset.

    ``label_offset(item)`` gives the offset of a branch's target within this section from
    the current offsets, or None when the target is elsewhere (another section, undefined,
    weak, a plain number): such a branch keeps its longest form, as in GNU as.
    """
    items = section.items
    branches = [i for i, it in enumerate(items) if it.kind == BRANCH]
    for _ in range(100):
        offsets, pos = [], 0
        for it in items:
            offsets.append(pos)
            if it.kind == ALIGN:
                it.size = align_padding(pos, it)
            pos += it.size
        section.offsets, section.size = offsets + [pos], pos
        grown = False
        for i in branches:
            it = items[i]
            target = label_offset(it, offsets)
            need = branch_size(it, None if target is None else target - offsets[i])
            if need > it.size:
                it.size, grown = need, True
        if not grown:
            return
    raise RuntimeError("branch relaxation did not settle")  # cannot happen: sizes only grow
