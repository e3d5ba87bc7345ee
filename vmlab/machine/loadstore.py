"""Loads and stores in the hot loop: the fast path inline, the rest through bus.py.

A load or store takes the fast path when its page is in the TLB (or translation is off), it
falls in RAM and it stays inside one page: then it is a few instructions on the host.
Anything else -- a TLB miss, a device register, a page-crossing or faulting access -- goes
to :func:`finish_load` / :func:`finish_store` (after the hot loop's switch, one copy for all
widths), which call the slow paths in bus.py.

The functions the hot loop calls for every load and store are small, so that LLVM inlines
them into exec_hart; their odd shapes keep numba's reference counting of the arrays they
take out of the hot loop.  numba counts a reference for each array argument and LLVM drops
each pair again only where the function uses the array the same way on every path: so
``load`` writes rd on both paths (its own value back when the fast path cannot load), and a
store is an offset (``store_offset``, reads only) and a write (``put``) that takes both
paths inside one small function.  Measured: one array written on only one path costs three
atomic reference-count operations per call and keeps LLVM from inlining the function --
the hot loop ran at a third of its speed.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from vmlab.machine.alu import imm_i, imm_s
from vmlab.machine.bits import sext32
from vmlab.machine.bus import htif_check, load_slow, store_slow, translate
from vmlab.machine.jit import jit
from vmlab.machine.layout import (
    ACC_LOAD, ACC_STORE, C_EXIT, C_FAULT, C_MMIO, C_MMIO_RD, C_MMIO_SIGNED, C_SLICE_POS,
    EXIT_MMIO, EXIT_NONE, TLB_COLS, TLB_CTX, TLB_PPAGE, TLB_SETS, TLB_TAG,
)

# What an instruction leaves in the hot loop's ``cause`` besides an exception cause (>= 0)
# -- negative, so that nothing mistakes them for one:
DONE = -1                         # done: on to the next instruction
SLOW_LOAD, SLOW_STORE = -2, -3    # the fast path could not do it: finish_load/finish_store
STOP = -4                         # done, but leave the loop after it (a device may interrupt)
CHECK = -5                        # done out of line: an exception may wait in ctl[C_FAULT]
HTIF = -6                         # done: a store into the HTIF mailbox (finish_htif acts)
LEAVE = -7                        # not done: leave the loop before it (a SYSTEM instruction)

#: What a stretch of the hot loop knows about data accesses, fixed for the stretch: where
#: this hart's load and store tables start in the flat TLB, whether addresses are translated
#: (``vm``) and in which TLB context, RAM's place, the HTIF mailbox's address (0: none), satp
#: and the hart.  Numbers only: a tuple holding arrays would add reference counting to every
#: call that takes it, so the arrays go to each function by name.
DataView = namedtuple("DataView", "load_tlb store_tlb vm ctx ram_base ram_size tohost satp h")


@jit
def u16(mem, o):
    return np.int64(mem[o]) | (np.int64(mem[o + np.uint64(1)]) << 8)


@jit
def u32(mem, o):
    return u16(mem, o) | (u16(mem, o + np.uint64(2)) << 16)


@jit
def load_value(mem, o, f3):
    """lb/lh/lw/ld/lbu/lhu/lwu from RAM offset o (>= 0, checked by the caller), byte by byte
    (written out, so that the compiler can merge the bytes into one load: RISC-V and the
    host are both little-endian).  The offset is made unsigned: numba adds no
    negative-index wraparound to unsigned indices, and without it the loads do merge."""
    u = np.uint64(o)
    if f3 == 3:
        return u32(mem, u) | (u32(mem, u + np.uint64(4)) << 32)
    if f3 == 2:
        return sext32(u32(mem, u))
    if f3 == 0:
        return ((np.int64(mem[u]) ^ 0x80) - 0x80)
    if f3 == 4:
        return np.int64(mem[u])
    if f3 == 6:
        return u32(mem, u)
    if f3 == 1:
        return (u16(mem, u) ^ 0x8000) - 0x8000
    return u16(mem, u)


@jit
def store_value(mem, o, f3, v):
    """sb/sh/sw/sd to RAM offset o (>= 0, checked by the caller)."""
    u = np.uint64(o)
    mem[u] = v & 0xFF
    if f3 >= 1:
        mem[u + np.uint64(1)] = (v >> 8) & 0xFF
        if f3 >= 2:
            mem[u + np.uint64(2)] = (v >> 16) & 0xFF
            mem[u + np.uint64(3)] = (v >> 24) & 0xFF
            if f3 == 3:
                mem[u + np.uint64(4)] = (v >> 32) & 0xFF
                mem[u + np.uint64(5)] = (v >> 40) & 0xFF
                mem[u + np.uint64(6)] = (v >> 48) & 0xFF
                mem[u + np.uint64(7)] = (v >> 56) & 0xFF


@jit(inline="always")
def extend(raw, f3):
    """Sign- or zero-extend a loaded value as lb/lh/lw/ld/lbu/lhu/lwu ask."""
    if f3 == 0:
        return ((raw & 0xFF) ^ 0x80) - 0x80
    if f3 == 1:
        return ((raw & 0xFFFF) ^ 0x8000) - 0x8000
    if f3 == 2:
        return sext32(raw)
    return raw


@jit
def fast_offset(tlbf, base, va, size, vm, ctx, ram_base, ram_size):
    """RAM offset for the fast path -- a TLB hit (or no translation), in RAM, inside one
    page -- or -1: then the slow path (bus.py) does the access, whatever it is.

    ``tlbf`` is the whole TLB as one flat array and ``base`` where this hart's table for
    this access kind starts: indexing a 1-D array is a shift and an add, where the 2-D
    ``tlb[h, kind][e, col]`` costs a multiply by a row length numba only knows at run time.
    """
    if (va & 0xFFF) > 4096 - size:
        return -1
    if vm:
        e = np.uint64(base + ((va >> 12) & (TLB_SETS - 1)) * TLB_COLS)
        if (tlbf[e + np.uint64(TLB_TAG)] != (va >> 12)
                or tlbf[e + np.uint64(TLB_CTX)] != ctx):
            return -1
        o = tlbf[e + np.uint64(TLB_PPAGE)] + (va & 0xFFF) - ram_base
    else:
        o = va - ram_base
    if np.uint64(o) > np.uint64(ram_size - size):    # (unsigned: o < 0 fails too)
        return -1
    return o



@jit
def load(r, mem, tlbf, w, dv, hits, size, f3):
    """One width of load (``size`` and ``f3`` are constants at each call): rd = the value at
    rs1 + imm if the fast path can read it.  Returns (cause, hits): DONE, or SLOW_LOAD for
    finish_load.  (rd is written either way -- with its own value when the fast path cannot
    load: see the module's docstring.)"""
    o = fast_offset(tlbf, dv.load_tlb, r[(w >> 15) & 31] + imm_i(w), size, dv.vm, dv.ctx,
                    dv.ram_base, dv.ram_size)
    rd = (w >> 7) & 31
    r[rd] = load_value(mem, o, f3) if o >= 0 else r[rd]
    if o < 0:
        return SLOW_LOAD, hits
    return DONE, hits + dv.vm


@jit
def store_offset(r, tlbf, w, dv, hits, size):
    """(RAM offset, cause, hits) of a store: cause DONE if the fast path can write it at that
    offset, HTIF if that is in the HTIF mailbox, else SLOW_STORE (offset -1)."""
    o = fast_offset(tlbf, dv.store_tlb, r[(w >> 15) & 31] + imm_s(w), size, dv.vm, dv.ctx,
                    dv.ram_base, dv.ram_size)
    if o < 0:
        return o, SLOW_STORE, hits
    pa = o + dv.ram_base
    if dv.tohost != 0 and pa - dv.tohost < 8 and pa >= dv.tohost:
        return o, HTIF, hits + dv.vm
    return o, DONE, hits + dv.vm


@jit
def put(mem, o, f3, v):
    """Store v at RAM offset o, unless o is -1 (the fast path cannot)."""
    if o >= 0:
        store_value(mem, o, f3, v)


@jit
def store(r, mem, tlbf, w, dv, hits, size, f3):
    """One width of store: rs2's value to rs1 + imm if the fast path can write it.  Returns
    (cause, hits): DONE, HTIF after a write into the HTIF mailbox, or SLOW_STORE."""
    o, cause, hits = store_offset(r, tlbf, w, dv, hits, size)
    put(mem, o, f3, r[(w >> 20) & 31])
    return cause, hits


@jit
def finish_load(r, mem, tlb, dev, io, ctl, w, dv, pos):
    """A load the fast path left (SLOW_LOAD): a TLB miss, a device, a page-crossing or
    faulting access.  Returns STOP after a device access (it may raise an interrupt), CHECK
    if it faulted (the exception waits in ctl[C_FAULT]), else DONE."""
    f3, rd = (w >> 12) & 7, (w >> 7) & 31
    ctl[C_SLICE_POS] = pos                         # a device may read the clock
    mmio = ctl[C_MMIO]
    raw = load_slow(tlb, mem, dev, io, ctl, dv.h, dv.satp, r[(w >> 15) & 31] + imm_i(w),
                    1 << (f3 & 3), ACC_LOAD, dv.ctx, dv.vm)
    if ctl[C_FAULT] >= 0:
        return CHECK
    r[rd] = extend(raw, f3)
    if ctl[C_EXIT] == EXIT_MMIO:                   # Python finishes it (virtio)
        ctl[C_MMIO_RD], ctl[C_MMIO_SIGNED] = rd, f3
    return STOP if ctl[C_MMIO] != mmio else DONE


@jit
def finish_store(r, mem, tlb, dev, io, ctl, w, dv, pos):
    """A store the fast path left (SLOW_STORE).  Returns STOP after a device access or when Python must act, else CHECK (it may have faulted:
    the exception waits in ctl[C_FAULT])."""
    f3, va = (w >> 12) & 7, r[(w >> 15) & 31] + imm_s(w)
    ctl[C_SLICE_POS] = pos
    mmio = ctl[C_MMIO]
    store_slow(tlb, mem, dev, io, ctl, dv.h, dv.satp, va, 1 << (f3 & 3), r[(w >> 20) & 31],
               dv.ctx, dv.vm)
    return STOP if ctl[C_MMIO] != mmio or ctl[C_EXIT] != EXIT_NONE else CHECK


@jit
def finish_htif(r, mem, tlb, dev, io, ctl, w, dv):
    """A store the fast path did into the HTIF mailbox (HTIF): act on what it wrote (the
    fast path found its page in the TLB, so translating it again is a hit).  Returns STOP."""
    va = r[(w >> 15) & 31] + imm_s(w)
    htif_check(mem, dev, io, ctl, translate(tlb, mem, ctl, dv.h, dv.satp, va, ACC_STORE,
                                            dv.ctx, dv.vm))
    return STOP
