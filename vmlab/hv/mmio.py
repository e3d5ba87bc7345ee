"""Device emulation by trapping: the guest's load or store to a device page faulted.

Device pages are never mapped in a shadow table, so a guest's ``sw a0, 0(a1)`` to the UART
faults.  The hypervisor then does what the hardware would have: it fetches the instruction
at the guest's pc (gva -> gpa through the guest's own tables, gpa -> host bytes through the
VM's memory map), decodes it with the one instruction table (vmlab.isa, compressed forms
included), performs the access on the VM's device model, writes the loaded value to the
destination register and steps the pc past the instruction.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vmlab.hv.exit_types import Exit, reflect
from vmlab.isa import decode
from vmlab.machine import layout as L
from vmlab.machine.atomics import LR, SC, amo_op
from vmlab.machine.bits import i64, u64

_SIZES = {"b": 1, "h": 2, "w": 4, "d": 8}
_FIXED_REGS = {"zero": 0, "ra": 1, "sp": 2}
_LOADS = {"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"}
_STORES = {"sb", "sh", "sw", "sd"}


@dataclass(frozen=True)
class Access:
    """A decoded load or store: which register, how wide, sign-extended or not."""

    store: bool
    size: int
    signed: bool
    reg: int          # rd of a load, rs2 of a store
    length: int       # instruction bytes (2 for compressed forms)


@lru_cache(maxsize=4096)
def decode_access(word: int) -> Access | None:
    """The load/store ``word`` encodes, or None (not a plain load or store: an AMO, say)."""
    d = decode(word, 2 if word & 3 != 3 else 4)
    if d is None:
        return None
    text = d.insn.expands or " ".join((d.insn.mnemonic, ",".join(d.insn.syntax)))
    mnemonic, _, operands = text.partition(" ")
    if mnemonic not in _LOADS and mnemonic not in _STORES:
        return None
    reg_name = operands.split(",")[0].strip()
    reg = _FIXED_REGS.get(reg_name, d.operands.get(reg_name))
    if reg is None:
        return None
    return Access(mnemonic[0] == "s", _SIZES[mnemonic[1]], not mnemonic.endswith("u"), reg,
                  d.size)


def fetch_insn(vcpu, gva: int) -> int | None:
    """The instruction bits at guest pc ``gva`` (16 or 32 bits), or None if unreadable."""
    if gva & 0xFFF <= 0xFFC:            # all four bytes in one page: one translation, one read
        four = vcpu.read_guest(gva, 4, "fetch")
        if four is not None:
            word = int.from_bytes(four, "little")
            return word if word & 3 == 3 else word & 0xFFFF
    low = vcpu.read_guest(gva, 2, "fetch")
    if low is None:
        return None
    word = int.from_bytes(low, "little")
    if word & 3 == 3:
        high = vcpu.read_guest(gva + 2, 2, "fetch")
        if high is None:
            return None
        word |= int.from_bytes(high, "little") << 16
    return word


def _access_fault(ex: Exit) -> int:
    return L.CAUSE_STORE_ACCESS if ex.cause == L.CAUSE_STORE_PAGE else L.CAUSE_LOAD_ACCESS


def emulate(vcpu, ex: Exit, gpa: int) -> str:
    """Perform the faulting access on the VM's device at ``gpa``."""
    word = fetch_insn(vcpu, ex.pc)
    acc = decode_access(word) if word is not None else None
    if acc is None or ex.cause == L.CAUSE_FETCH_PAGE:
        return reflect(vcpu, ex, _access_fault(ex), ex.tval)
    ex.insn = word
    return device_access(vcpu, ex, acc, gpa, L.CAUSE_LOAD_ACCESS, L.CAUSE_STORE_ACCESS)


def device_access(vcpu, ex: Exit, acc: Access, gpa: int, load_fault: int,
                  store_fault: int) -> str:
    """Do the decoded access ``acc`` on the VM's device at ``gpa`` and step past it; where
    no device answers, the guest gets ``load_fault`` / ``store_fault``.  Both backends'
    device exits end here (only how they learn the instruction differs)."""
    devices, row = vcpu.vm.devices, vcpu.row
    devices.sync_time(vcpu.vm.time())
    if acc.store:
        value = int(row[L.XREG + acc.reg]) & ((1 << 8 * acc.size) - 1)
        if not devices.write(gpa, acc.size, value):
            return reflect(vcpu, ex, store_fault, ex.tval)
        vcpu.vm.check_halt()
    else:
        value = devices.read(gpa, acc.size)
        if value is None:
            return reflect(vcpu, ex, load_fault, ex.tval)
        vcpu.set_reg(acc.reg, _extend(value, acc.size, acc.signed))
    vcpu.set_pc(ex.pc + acc.length)
    return "mmio"


def page_table_write(vcpu, ex: Exit, gpa: int) -> str:
    """A store to a guest page-table page the shadow pager write-protects: do the store in
    guest RAM ourselves, then let the pager update the shadows derived from that PTE."""
    word = fetch_insn(vcpu, ex.pc)
    if word is not None and word & 0x7F == AMO_OPCODE:
        return _page_table_amo(vcpu, ex, word, gpa)
    acc = decode_access(word) if word is not None else None
    if acc is None or not acc.store:
        return reflect(vcpu, ex, L.CAUSE_STORE_ACCESS, ex.tval)
    ex.insn = word
    value = int(vcpu.row[L.XREG + acc.reg]) & ((1 << 8 * acc.size) - 1)
    _write_pte(vcpu, gpa, value, acc.size)
    vcpu.set_pc(ex.pc + acc.length)
    return "pt-write"


AMO_OPCODE = 0x2F


def _write_pte(vcpu, gpa: int, value: int, size: int) -> None:
    vcpu.vm.mem.write(gpa, value.to_bytes(size, "little"))
    vcpu.vm.shadow.after_pt_write(vcpu, gpa)
    vcpu.tlb_stale = True


def _page_table_amo(vcpu, ex: Exit, word: int, gpa: int) -> str:
    """An AMO or SC on a write-protected page table: Linux clears and updates PTEs with
    amoswap/amoand and lr/sc.  Done here on guest RAM with the machine's own amo_op; an SC
    succeeds only if the hart's reservation (a host physical address) is on this word."""
    f3, f5, rd, rs2 = (word >> 12) & 7, word >> 27, (word >> 7) & 31, (word >> 20) & 31
    ok, _ = amo_op(i64(f5), i64(0), i64(0))
    if f3 not in (2, 3) or f5 == LR or not (ok or f5 == SC):
        return reflect(vcpu, ex, L.CAUSE_STORE_ACCESS, ex.tval)
    ex.insn = word
    size, row = (4 if f3 == 2 else 8), vcpu.row
    old = _extend(int.from_bytes(vcpu.vm.mem.read(gpa, size), "little"), size, True)
    src = _extend(u64(row[L.XREG + rs2]), size, True)
    if f5 == SC:
        result = 1
        if int(row[L.RES_ADDR]) == vcpu.vm.mem.hpa(gpa, allocate=False):
            _write_pte(vcpu, gpa, src & ((1 << 8 * size) - 1), size)
            result = 0
        row[L.RES_ADDR] = -1
    else:
        _, new = amo_op(i64(f5), i64(old), i64(src))
        _write_pte(vcpu, gpa, u64(int(new)) & ((1 << 8 * size) - 1), size)
        result = old
    vcpu.set_reg(rd, u64(result))
    vcpu.set_pc(ex.pc + 4)
    return "pt-write"


def _extend(value: int, size: int, signed: bool) -> int:
    bits = 8 * size
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value
