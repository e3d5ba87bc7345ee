"""Loads and stores to the UART and the CLINT, in compiled code.

A device page never gets a shadow leaf, so every guest access to it faults out of the guest.
The Python path (exits.page_fault -> ShadowPaging.handle_fault -> mmio.emulate) finds the
guest-physical address, fetches and decodes the instruction and performs it on the VM's
device models.  The UART and the CLINT are numba models (vmlab.machine.devices) that compiled
code can call directly, so this module does the same steps without leaving compiled code;
every other device (virtio, PLIC, a lab's own hook) stays with Python.
"""
from __future__ import annotations

from vmlab.hv.fast_guest import (ACC_LOAD, ACC_STORE, fetch_insn, guest_walk, set_guest64,
                                 writable_ram)
from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_state import (H_SHADOW_MMIO, KIND_DIRECT, KIND_SV39, MMIO_EVENT, R_KIND,
                                 R_MXR, R_PRIV, R_SATP, R_SUM, S_AD_UPDATES, S_DEV_ACCESSES,
                                 S_DEVICE_HOOK, S_ID, S_MMIO_FAULTS, S_YIELD, S_ROOT)
from vmlab.hv.fast_vhart import record, retire
from vmlab.hv.trace import SHADOW
from vmlab.isa.paging import PAGE_SHIFT, PTE_A, PTE_D
from vmlab.machine import layout as L
from vmlab.machine.devices import mmio_read, mmio_write

OP_LOAD, OP_STORE = 0x03, 0x23
MTIMECMP_OFF, MTIME_OFF = 0x4000, 0xBFF8      # the CLINT's layout (devices.clint_write)


@jit
def is_uart_or_clint(gpa):
    return (0 <= gpa - L.UART_BASE < L.UART_SIZE) or (0 <= gpa - L.CLINT_BASE < L.CLINT_SIZE)


@jit
def is_uart(gpa):
    return 0 <= gpa - L.UART_BASE < L.UART_SIZE


@jit
def clint_hart(gpa):
    """The hart whose msip or mtimecmp a CLINT address is (-1: neither), as clint_write."""
    off = gpa - L.CLINT_BASE
    if off < 0 or off >= L.CLINT_SIZE:
        return -1
    if off < MTIMECMP_OFF:
        return off >> 2
    return (off - MTIMECMP_OFF) >> 3 if off < MTIME_OFF else -1


@jit
def decode_access(word, rvc):
    """mmio.decode_access for plain loads and stores (compressed forms by the machine's own
    expansion table): (store, size, signed, reg, length), or size 0 for anything else."""
    w, length = word, 4
    if word & 3 != 3:
        w, length = rvc[word & 0xFFFF], 2
    op, f3 = w & 0x7F, (w >> 12) & 7
    if op == OP_LOAD and f3 != 7:
        return False, 1 << (f3 & 3), f3 < 4, (w >> 7) & 31, length
    if op == OP_STORE and f3 < 4:
        return True, 1 << f3, False, (w >> 20) & 31, length
    return False, 0, False, 0, 0


@jit(inline="always")
def device_gpa(mem, page_map, vctl, roots, slot, gva, store):
    """ShadowPaging.handle_fault's answer for a data access when it is "MMIO to the UART or
    CLINT": (gpa, leaf PTE's gpa, A/D-updated PTE or -1); gpa -1 for anything else."""
    r = roots[slot]
    pte_gpa, new = 0, -1
    if r[R_KIND] == KIND_DIRECT:
        gpa = gva
    elif r[R_KIND] == KIND_SV39:
        ok, gpa, pte_gpa, pte = guest_walk(mem, page_map, vctl, r[R_SATP], gva,
                                           ACC_STORE if store else ACC_LOAD, r[R_PRIV] != 0,
                                           r[R_SUM] != 0, r[R_MXR] != 0)
        if not ok:
            return -1, 0, -1
        updated = pte | PTE_A | (PTE_D if store else 0)
        new = updated if updated != pte else -1
    else:
        return -1, 0, -1
    return (gpa if is_uart_or_clint(gpa) else -1), pte_gpa, new


@jit
def device_load_store(row, vdev, vio, vctl, gpa, store, size, signed, reg):
    """The access itself, on the VM's own device models (VirtualDevices.read/write)."""
    bits = 8 * size
    if store:
        value = row[L.XREG + reg]
        if size < 8:
            value &= (1 << bits) - 1
        vctl[L.C_EXIT] = L.EXIT_NONE
        mmio_write(vdev, vio, vctl, gpa, size, value)
        return
    _, value = mmio_read(vdev, vio, vctl, gpa, size)
    if size < 8:
        value &= (1 << bits) - 1
        if signed and value >> (bits - 1):
            value -= 1 << bits
    if reg:
        row[L.XREG + reg] = value


@jit(inline="always")
def device_access(mem, page_map, rows, vdev, vio, vctl, rvc, st, roots, log, cause, gva, pc,
                  now):
    """A guest load or store to the UART or CLINT: the instruction bits, or -1 (nothing
    touched) for anything else -- other devices, faults, odd instructions."""
    if cause != L.CAUSE_LOAD_PAGE and cause != L.CAUSE_STORE_PAGE:
        return -1
    if st[S_DEVICE_HOOK] or st[S_ROOT] < 0:
        return -1
    row = rows[st[S_ID]]
    gpa, pte_gpa, new_pte = device_gpa(mem, page_map, vctl, roots, st[S_ROOT], gva,
                                       cause == L.CAUSE_STORE_PAGE)
    word = fetch_insn(mem, page_map, vctl, row, pc) if gpa >= 0 else -1
    if word < 0:
        return -1
    store, size, signed, reg, length = decode_access(word, rvc)
    if size == 0 or (new_pte != -1 and not writable_ram(page_map, vctl, pte_gpa)):
        return -1
    if new_pte != -1:                               # the walk sets A (and D), as hardware
        set_guest64(mem, page_map, vctl, pte_gpa, new_pte)
        st[S_AD_UPDATES] += 1
    st[S_MMIO_FAULTS] += 1
    record(log, st, SHADOW, now, MMIO_EVENT, row[L.PC], gpa >> PAGE_SHIFT, gva, H_SHADOW_MMIO, 0)
    vdev[L.D_TICKS], vctl[L.C_SLICE_POS] = now, 0
    st[S_DEV_ACCESSES] += 1
    device_load_store(row, vdev, vio, vctl, gpa, store, size, signed, reg)
    if store and is_uart(gpa):
        st[S_YIELD] = 1            # console output: Python gets its turn (fast_run.yields)
    if store and clint_hart(gpa) >= 0 and clint_hart(gpa) != st[S_ID]:
        st[S_YIELD] = 1            # another vCPU's interrupt or timer: the scheduler decides
    row[L.PC] = pc + length
    retire(row, word)
    return word
