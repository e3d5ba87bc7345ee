"""The slow memory paths: TLB misses, device registers, page-crossing accesses, HTIF, AMOs.

The hot loop (hart.py) handles the common case inline -- a TLB hit to RAM that stays inside
one page -- and calls these functions for everything else.  They report an exception by
setting ``ctl[C_FAULT]`` (a cause) and ``ctl[C_FAULT_TVAL]``, and a need for Python (any of
the eight virtio-mmio slots) by setting ``ctl[C_EXIT] = EXIT_MMIO`` with the access in ``C_MMIO_*``.

Misaligned loads and stores are *emulated* (done byte by byte, even across a page boundary);
misaligned LR/SC/AMOs raise an address-misaligned exception, as the spec allows.
"""
from __future__ import annotations

import numpy as np
from vmlab.machine.jit import jit

from vmlab.machine.bits import srl
from vmlab.machine.devices import DEV_OK, mmio_read, mmio_write, output_byte
from vmlab.machine.layout import (
    ACC_FETCH, ACC_STORE, C_EXIT, C_EXIT_ARG, C_FAULT, C_FAULT_TVAL, C_MMIO,
    C_MMIO_ADDR, C_MMIO_SIZE, C_MMIO_VALUE, C_MMIO_WRITE, C_RAM_BASE, C_RAM_SIZE, D_FROMHOST,
    D_TEST_STATUS, D_TOHOST, EXIT_HALT, EXIT_MMIO, TLB_CTX, TLB_PPAGE, TLB_SETS, TLB_TAG,
    VIRTIO_BASE,
)
from vmlab.machine.memmap import VIRTIO_WINDOW
from vmlab.machine.mmu import access_fault_cause, tlb_refill


@jit
def translate(tlb, mem, ctl, h, satp, va, acc, ctx, vm):
    """Virtual to physical through the TLB (refilling on a miss); -cause-1 on a fault.

    Without translation the address is physical; beyond the 56-bit physical address space
    nothing answers (an access fault).
    """
    if not vm:
        if va < 0 or va >= (1 << 56):
            return -access_fault_cause(acc) - 1
        return va
    e = tlb[h, acc, (va >> 12) & (TLB_SETS - 1)]
    if e[TLB_TAG] == va >> 12 and e[TLB_CTX] == ctx:
        return e[TLB_PPAGE] | (va & 0xFFF)
    page = tlb_refill(tlb, mem, ctl, h, satp, va, acc, ctx)
    if page < 0:
        return page
    return page | (va & 0xFFF)


@jit(inline="always")
def ram_offset(ctl, pa, size):
    """Offset of [pa, pa+size) in RAM, or -1 if any of it lies outside RAM."""
    off = pa - ctl[C_RAM_BASE]
    if off < 0 or off > ctl[C_RAM_SIZE] - size:
        return -1
    return off


@jit(inline="always")
def read_ram(mem, off, size):
    v = 0
    for i in range(size):
        v |= np.int64(mem[off + i]) << (8 * i)
    return v


@jit(inline="always")
def write_ram(mem, off, size, v):
    for i in range(size):
        mem[off + i] = (v >> (8 * i)) & 0xFF


@jit
def fault(ctl, cause, tval):
    ctl[C_FAULT] = cause
    ctl[C_FAULT_TVAL] = tval


@jit
def _split(tlb, mem, ctl, h, satp, va, size, acc, ctx, vm):
    """Physical offsets in RAM of the two pieces of a page-crossing access, or faults."""
    va2 = (va | 0xFFF) + 1
    pa1 = translate(tlb, mem, ctl, h, satp, va, acc, ctx, vm)
    if pa1 < 0:
        fault(ctl, -pa1 - 1, va)
        return -1, -1
    pa2 = translate(tlb, mem, ctl, h, satp, va2, acc, ctx, vm)
    if pa2 < 0:
        fault(ctl, -pa2 - 1, va2)
        return -1, -1
    n1 = va2 - va
    o1, o2 = ram_offset(ctl, pa1, n1), ram_offset(ctl, pa2, size - n1)
    if o1 < 0 or o2 < 0:
        fault(ctl, access_fault_cause(acc), va if o1 < 0 else va2)
        return -1, -1
    return o1, o2


@jit
def load_slow(tlb, mem, dev, io, ctl, h, satp, va, size, acc, ctx, vm):
    """A load the fast path could not do; returns the zero-extended value."""
    if (va & 0xFFF) + size > 0x1000:
        o1, o2 = _split(tlb, mem, ctl, h, satp, va, size, acc, ctx, vm)
        if o1 < 0:
            return 0
        n1 = 0x1000 - (va & 0xFFF)
        return read_ram(mem, o1, n1) | (read_ram(mem, o2, size - n1) << (8 * n1))
    pa = translate(tlb, mem, ctl, h, satp, va, acc, ctx, vm)
    if pa < 0:
        fault(ctl, -pa - 1, va)
        return 0
    off = ram_offset(ctl, pa, size)
    if off >= 0:
        return read_ram(mem, off, size)
    if acc == ACC_FETCH:
        fault(ctl, access_fault_cause(acc), va)
        return 0
    ctl[C_MMIO] += 1
    if pa - VIRTIO_BASE >= 0 and pa - VIRTIO_BASE < VIRTIO_WINDOW:
        ctl[C_EXIT] = EXIT_MMIO
        ctl[C_MMIO_ADDR], ctl[C_MMIO_SIZE], ctl[C_MMIO_WRITE] = pa, size, 0
        return 0
    status, v = mmio_read(dev, io, ctl, pa, size)
    if status != DEV_OK:
        fault(ctl, access_fault_cause(acc), va)
    return v


@jit
def store_slow(tlb, mem, dev, io, ctl, h, satp, va, size, v, ctx, vm):
    """A store the fast path could not do (all of it checked before any byte is written)."""
    if (va & 0xFFF) + size > 0x1000:
        o1, o2 = _split(tlb, mem, ctl, h, satp, va, size, ACC_STORE, ctx, vm)
        if o1 >= 0:
            n1 = 0x1000 - (va & 0xFFF)
            write_ram(mem, o1, n1, v)
            write_ram(mem, o2, size - n1, srl(v, 8 * n1))
        return
    pa = translate(tlb, mem, ctl, h, satp, va, ACC_STORE, ctx, vm)
    if pa < 0:
        fault(ctl, -pa - 1, va)
        return
    off = ram_offset(ctl, pa, size)
    if off >= 0:
        write_ram(mem, off, size, v)
        htif_check(mem, dev, io, ctl, pa)
        return
    ctl[C_MMIO] += 1
    if pa - VIRTIO_BASE >= 0 and pa - VIRTIO_BASE < VIRTIO_WINDOW:
        ctl[C_EXIT] = EXIT_MMIO
        ctl[C_MMIO_ADDR], ctl[C_MMIO_SIZE], ctl[C_MMIO_WRITE] = pa, size, 1
        ctl[C_MMIO_VALUE] = v
        return
    if mmio_write(dev, io, ctl, pa, size, v) != DEV_OK:
        fault(ctl, access_fault_cause(ACC_STORE), va)


# ---------------------------------------------------------------------------------------
# HTIF: the riscv-tests way of talking to the host, through two words in RAM.
# ---------------------------------------------------------------------------------------
@jit
def htif_check(mem, dev, io, ctl, pa):
    """Called after a store to RAM: act if it wrote a command into ``tohost``.

    tohost = device << 56 | command << 48 | payload.  Device 0 command 0: payload odd means
    "exit with code payload >> 1", even is a pointer to a syscall block (only write(2) is
    served).  Device 1 command 1: print the byte in payload.
    """
    tohost = dev[D_TOHOST]
    if tohost == 0 or pa < tohost or pa >= tohost + 8:
        return
    off = ram_offset(ctl, tohost, 8)
    if off < 0:
        return
    v = read_ram(mem, off, 8)
    if v == 0:
        return
    device, cmd, payload = srl(v, 56), srl(v, 48) & 0xFF, v & ((1 << 48) - 1)
    reply = 0
    if device == 0 and cmd == 0:
        if payload & 1:
            dev[D_TEST_STATUS] = payload >> 1
            ctl[C_EXIT] = EXIT_HALT
            ctl[C_EXIT_ARG] = payload >> 1
            return
        _htif_syscall(mem, io, ctl, payload)
        reply = 1
    elif device == 1 and cmd == 1:
        output_byte(io, ctl, payload & 0xFF)
        reply = (1 << 56) | (1 << 48)
    write_ram(mem, off, 8, 0)
    fo = ram_offset(ctl, dev[D_FROMHOST], 8)
    if fo >= 0:
        write_ram(mem, fo, 8, reply)


@jit
def _htif_syscall(mem, io, ctl, block):
    """Serve write(fd, buf, len) for fd 1 and 2 from a riscv-tests syscall block."""
    bo = ram_offset(ctl, block, 32)
    if bo < 0:
        return
    num, fd = read_ram(mem, bo, 8), read_ram(mem, bo + 8, 8)
    buf, n = read_ram(mem, bo + 16, 8), read_ram(mem, bo + 24, 8)
    result = -38                                    # -ENOSYS
    if num == 64 and (fd == 1 or fd == 2):
        o = ram_offset(ctl, buf, n) if 0 <= n < (1 << 20) else -1
        if o >= 0:
            for i in range(n):
                output_byte(io, ctl, mem[o + i])
            result = n
    write_ram(mem, bo, 8, result)
