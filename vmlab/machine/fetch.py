"""Instruction fetch for the hot loop (hart.py): the fetch window, and the way round it.

The hot loop keeps one page of code open, the *fetch window*: while ``pc ^ fstart < flen``
(unsigned) the instruction at pc starts at RAM offset ``pc + fbias`` and :func:`fetch_word`
gets it with one 32-bit load.  The window is the page last translated minus its last
halfword (a 32-bit instruction there straddles two pages); it is empty at first and on a
page holding a breakpoint.  Everything outside it goes through :func:`fetch_slow`: the
breakpoint check, the first fetch on a new page (translation: TLB, page walk, faults), and
the page's last halfword.

Both return the instruction as executed (a compressed one expanded through the RVC table)
and as fetched (``raw``: what mtval reports for an illegal instruction).
"""
from __future__ import annotations

import numpy as np

from vmlab.machine.bus import fault, translate
from vmlab.machine.jit import jit
from vmlab.machine.layout import (
    ACC_FETCH, C_BP, C_EXIT, C_NBP, C_RAM_BASE, C_RAM_SIZE, CAUSE_FETCH_ACCESS,
    EXIT_BREAKPOINT, SATP,
)
from vmlab.machine.loadstore import u16, u32

#: The window before the first fetch: no page (fstart -1), nothing in it.
NO_WINDOW = (np.int64(-1), np.int64(0), np.int64(0))

#: What a compressed instruction with no expansion (0 in the RVC table) becomes: all ones,
#: an encoding reserved for instructions longer than 64 bits, so that no case of the hot
#: loop's switches knows it and it raises an illegal-instruction exception.  (0 itself
#: would not do: its switch key is lb's.)
NOT_AN_INSTRUCTION = np.int64(0xFFFFFFFF)


@jit(inline="always")
def in_window(win, pc):
    """Is pc inside the window (fstart, flen, fbias)?  One xor and one unsigned compare."""
    return np.uint64(pc ^ win[0]) < np.uint64(win[1])


@jit
def fetch_word(mem, rvc, pc, fbias):
    """(w, raw, npc) for an instruction on the open page, not in its last halfword: the
    four bytes at pc as one load (all on the page); a compressed instruction uses two."""
    raw = u32(mem, np.uint64(pc + fbias))
    if (raw & 3) == 3:
        return raw, raw, pc + 4
    raw &= 0xFFFF
    w = rvc[raw]                        # the 32-bit instruction it stands for
    return (w if w != 0 else NOT_AN_INSTRUCTION), raw, pc + 2


@jit
def hit_breakpoint(ctl, pc):
    for i in range(ctl[C_NBP]):
        if ctl[C_BP + i] == pc:
            return True
    return False


@jit
def breakpoint_in_page(ctl, page):
    for i in range(ctl[C_NBP]):
        if (ctl[C_BP + i] & ~0xFFF) == page:
            return True
    return False


@jit
def fetch_page(tlb, mem, ctl, h, c, pc, vm, ctx):
    """RAM offset of the 4 KiB page holding ``pc``, or -cause-1 (page or access fault)."""
    pa = translate(tlb, mem, ctl, h, c[SATP], pc & ~0xFFF, ACC_FETCH, ctx, vm)
    if pa < 0:
        return pa
    off = pa - ctl[C_RAM_BASE]
    if off < 0 or off > ctl[C_RAM_SIZE] - 4096:
        return -CAUSE_FETCH_ACCESS - 1
    return off


@jit
def open_page(tlb, mem, ctl, h, c, pc, vm, ctx):
    """The window on pc's page, or one with flen -1 after a fetch fault (in ctl[C_FAULT])."""
    off = fetch_page(tlb, mem, ctl, h, c, pc, vm, ctx)
    if off < 0:
        fault(ctl, -off - 1, pc)
        return np.int64(-1), np.int64(-1), np.int64(0)
    fstart = pc & ~0xFFF
    flen = 0 if ctl[C_NBP] > 0 and breakpoint_in_page(ctl, fstart) else 0xFFE
    return fstart, np.int64(flen), off - fstart


@jit
def fetch_last_half(tlb, mem, ctl, rvc, h, c, pc, vm, ctx, fbias):
    """(w, raw, npc) at the page's last halfword: a 32-bit instruction there takes its upper
    half from the next page, translated; w = -1 if that faults (in ctl[C_FAULT])."""
    lo = u16(mem, np.uint64(pc + fbias))
    if (lo & 3) != 3:                   # compressed: (fetch_word would read past the page)
        w = rvc[lo]
        return (w if w != 0 else NOT_AN_INSTRUCTION), lo, pc + 2
    off = fetch_page(tlb, mem, ctl, h, c, pc + 2, vm, ctx)
    if off < 0:
        fault(ctl, -off - 1, pc + 2)
        return np.int64(-1), lo, pc
    w = lo | (u16(mem, np.uint64(off)) << 16)
    return w, w, pc + 4


@jit
def fetch_slow(tlb, mem, ctl, rvc, h, c, pc, vm, ctx, win, skip_bp):
    """Fetch outside the window: stop at a breakpoint (unless told to step over the first
    one), open pc's page if it is a new one, read the instruction.  Returns (w, raw, npc,
    win, skip_bp) with w = -1 if the loop must stop before the instruction: at a breakpoint
    (ctl[C_EXIT] says so) or a fetch fault (waiting in ctl[C_FAULT])."""
    if ctl[C_NBP] > 0:
        if skip_bp:
            skip_bp = 0
        elif hit_breakpoint(ctl, pc):
            ctl[C_EXIT] = EXIT_BREAKPOINT
            return np.int64(-1), np.int64(0), pc, win, skip_bp
    if (pc & ~0xFFF) != win[0]:
        win = open_page(tlb, mem, ctl, h, c, pc, vm, ctx)
        if win[1] < 0:
            return np.int64(-1), np.int64(0), pc, win, skip_bp
    if (pc & 0xFFF) == 0xFFE:
        w, raw, npc = fetch_last_half(tlb, mem, ctl, rvc, h, c, pc, vm, ctx, win[2])
    else:
        w, raw, npc = fetch_word(mem, rvc, pc, win[2])
    return w, raw, npc, win, skip_bp
