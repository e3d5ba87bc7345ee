"""SBI v2.0 from the hypervisor: the calls a kernel started in virtual S-mode makes.

On real hardware the SBI is firmware in M-mode (OpenSBI).  Here the hypervisor plays that
role for a guest that starts in vS: ``ecall`` from vS exits, and :func:`call` dispatches on
a7 (extension) and a6 (function) to one small function per call, returning (error, value)
in a0/a1 as the calling convention says.  Implemented: BASE, TIME, IPI, RFENCE, HSM, SRST,
DBCN, STA (steal time) and the legacy console putchar/getchar (plus legacy set_timer and
shutdown), and one call of vmlab's own: the paravirtual yield (``EXT_PV``, fid 0).

A guest started in *virtual M-mode* (its own firmware) never gets here: its ecalls from vS
go to its own vM trap handler.
"""
from __future__ import annotations

from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64

SUCCESS, ERR_FAILED, ERR_NOT_SUPPORTED, ERR_INVALID_PARAM = 0, -1, -2, -3
ERR_INVALID_ADDRESS, ERR_ALREADY_STARTED, ERR_ALREADY_STOPPED = -5, -7, -8

EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE = 0x10, 0x54494D45, 0x735049, 0x52464E43
EXT_HSM, EXT_SRST, EXT_DBCN = 0x48534D, 0x53525354, 0x4442434E
EXT_STA = 0x535441               # steal-time accounting
EXT_PV = 0x0A000001              # vmlab's paravirtual yield (the firmware-specific range)
LEGACY_SET_TIMER, LEGACY_PUTCHAR, LEGACY_GETCHAR, LEGACY_SHUTDOWN = 0x00, 0x01, 0x02, 0x08

SPEC_VERSION = 2 << 24          # v2.0: major in bits 30..24, minor below
IMPL_ID = 0x766D                # vmlab (not a registered implementation id)
IMPL_VERSION = 1

HSM_STARTED, HSM_STOPPED = 0, 1

#: extensions a VM has only when switched on: extension id -> "does this vCPU's VM offer
#: it?" (probe_extension must not announce what the calls would then refuse)
OFFERED: dict = {}


def _always(vcpu) -> bool:
    return True


# --- BASE -------------------------------------------------------------------------------
def base(vcpu, fid, a):
    if fid == 0:
        return SUCCESS, SPEC_VERSION
    if fid == 1:
        return SUCCESS, IMPL_ID
    if fid == 2:
        return SUCCESS, IMPL_VERSION
    if fid == 3:                                   # probe_extension
        return SUCCESS, int(a[0] in EXTENSIONS and OFFERED.get(a[0], _always)(vcpu))
    if fid in (4, 5, 6):                           # mvendorid, marchid, mimpid
        return SUCCESS, 0
    return ERR_NOT_SUPPORTED, 0


# --- TIME -------------------------------------------------------------------------------
def set_timer(vcpu, stime_value: int) -> None:
    """Program the next timer event (in mtime ticks) and clear a pending one, as the spec
    asks: the hypervisor raises the virtual STIP when mtime reaches it."""
    vcpu.sbi_timer = stime_value & MASK64
    vcpu.w[L.MIP] &= ~L.MIP_STIP


def time(vcpu, fid, a):
    if fid != 0:
        return ERR_NOT_SUPPORTED, 0
    set_timer(vcpu, a[0])
    return SUCCESS, 0


# --- IPI and RFENCE ---------------------------------------------------------------------
def targets(vcpu, hart_mask: int, hart_mask_base: int):
    """The vCPUs a (hart_mask, hart_mask_base) pair names; None if one does not exist."""
    vcpus = vcpu.vm.vcpus
    if hart_mask_base & MASK64 == MASK64:
        return list(vcpus)
    chosen = []
    hart_mask &= MASK64
    while hart_mask:                    # (only the bits that are set: usually one)
        low = hart_mask & -hart_mask
        chosen.append(hart_mask_base + low.bit_length() - 1)
        hart_mask ^= low
    if any(h >= len(vcpus) or h < 0 for h in chosen):
        return None
    return [vcpus[h] for h in chosen]


def ipi(vcpu, fid, a):
    if fid != 0:
        return ERR_NOT_SUPPORTED, 0
    harts = targets(vcpu, a[0], a[1])
    if harts is None:
        return ERR_INVALID_PARAM, 0
    for target in harts:
        target.w[L.MIP] |= L.MIP_SSIP
    return SUCCESS, 0


def rfence(vcpu, fid, a):
    """remote fence.i (nothing to do: no instruction cache) and remote sfence.vma (the
    shadow pager drops what it built for those harts)."""
    if fid > 2:
        return ERR_NOT_SUPPORTED, 0                # the hypervisor-extension fences
    harts = targets(vcpu, a[0], a[1])
    if harts is None:
        return ERR_INVALID_PARAM, 0
    if fid in (1, 2):
        start, size = a[2] & MASK64, a[3] & MASK64
        gva = start if size == 0x1000 else None
        asid = a[4] & 0xFFFF if fid == 2 else None
        for target in harts:
            vcpu.vm.shadow.sfence(target, gva, asid)
            target.tlb_stale = True
    return SUCCESS, 0


# --- HSM --------------------------------------------------------------------------------
def hsm(vcpu, fid, a):
    vcpus = vcpu.vm.vcpus
    if fid == 0:                                   # hart_start(hartid, start_addr, opaque)
        if not 0 <= a[0] < len(vcpus):
            return ERR_INVALID_PARAM, 0
        target = vcpus[a[0]]
        if target.started:
            return ERR_ALREADY_STARTED, 0
        target.start_in_s(a[1], a[2])
        return SUCCESS, 0
    if fid == 1:                                   # hart_stop: never returns
        vcpu.started = False
        return SUCCESS, 0
    if fid == 2:                                   # hart_get_status(hartid)
        if not 0 <= a[0] < len(vcpus):
            return ERR_INVALID_PARAM, 0
        return SUCCESS, HSM_STARTED if vcpus[a[0]].started else HSM_STOPPED
    if fid == 3:                                   # hart_suspend(type, resume, opaque)
        return suspend(vcpu, a[0])
    return ERR_NOT_SUPPORTED, 0


def suspend(vcpu, kind: int):
    """Retentive suspend (type 0) is a wfi as far as the scheduler is concerned: the vCPU
    waits, leaving its pCPU, until an interrupt is pending; then the call returns."""
    if kind & MASK64 != 0:
        return ERR_NOT_SUPPORTED, 0                # non-retentive suspend: not modelled
    vcpu.row[L.WAITING] = 1
    return SUCCESS, 0


# --- STA and the paravirtual yield --------------------------------------------------------
STA_SIZE = 64                    # sequence u32, flags u32, steal u64, preempted u8, padding


def sta(vcpu, fid, a):
    """set_shmem(lo, hi, flags): where the hypervisor writes this vCPU's steal time (the
    host writes it when the vCPU is put on a pCPU, and right after this call, as KVM does
    before it re-enters the guest: ``sta_update``); all ones switches reporting off."""
    if fid != 0:
        return ERR_NOT_SUPPORTED, 0
    lo, hi = a[0] & MASK64, a[1] & MASK64
    if lo == MASK64 and hi == MASK64:
        vcpu.sta_gpa = None
        return SUCCESS, 0
    gpa = lo | hi << 64
    if a[2] != 0 or gpa % STA_SIZE:
        return ERR_INVALID_PARAM, 0
    if not vcpu.vm.mem.contains(gpa, STA_SIZE):
        return ERR_INVALID_ADDRESS, 0
    vcpu.sta_gpa = gpa
    vcpu.vm.mem.write(gpa, bytes(STA_SIZE))
    vcpu.sta_update = True
    return SUCCESS, 0


def pv(vcpu, fid, a):
    """fid 0, yield: "I am spinning on something another vCPU holds -- run someone else".
    The scheduler sees the flag after this exit and takes the pCPU away."""
    if fid != 0:
        return ERR_NOT_SUPPORTED, 0
    vcpu.yield_requested = True
    return SUCCESS, 0


# --- SRST -------------------------------------------------------------------------------
def srst(vcpu, fid, a):
    """system_reset(type, reason): 0 shutdown, 1 cold reboot, 2 warm reboot."""
    if fid != 0 or a[0] > 2:
        return ERR_INVALID_PARAM if fid == 0 else ERR_NOT_SUPPORTED, 0
    if a[0] == 0:
        vcpu.vm.stop("halt", int(a[1] != 0))
    else:
        vcpu.vm.stop("reset", 0)
    return SUCCESS, 0


# --- DBCN -------------------------------------------------------------------------------
def dbcn(vcpu, fid, a):
    """console_write / console_read take a *guest-physical* buffer; write_byte a byte."""
    devices, mem = vcpu.vm.devices, vcpu.vm.mem
    if fid == 2:
        devices.print_bytes(bytes([a[0] & 0xFF]))
        return SUCCESS, 0
    if fid not in (0, 1):
        return ERR_NOT_SUPPORTED, 0
    n, gpa = a[0], (a[1] & MASK64) | (a[2] & MASK64) << 64
    if not mem.contains(gpa, max(n, 1)):
        return ERR_INVALID_PARAM, 0
    if fid == 0:
        devices.print_bytes(mem.read(gpa, n))
        return SUCCESS, n
    data = bytearray()
    while len(data) < n and (b := devices.getchar()) >= 0:
        data.append(b)
    mem.write(gpa, bytes(data))
    return SUCCESS, len(data)


# --- legacy (v0.1) calls: the result is a0 alone ------------------------------------------
def legacy(vcpu, eid, a):
    if eid == LEGACY_SET_TIMER:
        set_timer(vcpu, a[0])
        return 0
    if eid == LEGACY_PUTCHAR:
        vcpu.vm.devices.print_bytes(bytes([a[0] & 0xFF]))
        return 0
    if eid == LEGACY_GETCHAR:
        return vcpu.vm.devices.getchar()
    if eid == LEGACY_SHUTDOWN:
        vcpu.vm.stop("halt", 0)
        return 0
    return ERR_NOT_SUPPORTED


EXTENSIONS = {EXT_BASE: base, EXT_TIME: time, EXT_IPI: ipi, EXT_RFENCE: rfence,
              EXT_HSM: hsm, EXT_SRST: srst, EXT_DBCN: dbcn, EXT_STA: sta, EXT_PV: pv,
              LEGACY_SET_TIMER: None, LEGACY_PUTCHAR: None, LEGACY_GETCHAR: None,
              LEGACY_SHUTDOWN: None}


def _a0_to_a7(vcpu) -> list[int]:
    """The call's registers, unsigned: in one read where the vCPU offers it (VCpu.regs),
    else one by one (any vCPU with reg(), such as the hw backend's)."""
    regs = getattr(vcpu, "regs", None)
    return regs(10, 8) if regs is not None else [vcpu.reg(10 + i) for i in range(8)]


def call(vcpu) -> None:
    """Serve the SBI call in the vCPU's registers (a7 = extension, a6 = function)."""
    *a, fid, eid = _a0_to_a7(vcpu)     # a0..a5 the arguments, a6 the function, a7 the extension
    fn = EXTENSIONS.get(eid)
    if eid in EXTENSIONS and fn is None:
        vcpu.set_reg(10, legacy(vcpu, eid, a))
        return
    error, value = fn(vcpu, fid, a) if fn is not None else (ERR_NOT_SUPPORTED, 0)
    vcpu.set_reg(10, error)
    vcpu.set_reg(11, value)
    vcpu.vm.sbi_calls[eid] += 1
