"""The compiled fast path: the hot exits handled without leaving compiled code.

KVM handles its common exits inside the kernel and returns to user space only for the rest.
This module does the same for vmlab: :func:`fast_run` is one compiled function that runs the
guest (the machine's own run loop in hypervisor mode) and, when the guest traps, asks
"can I finish this exit here?".  If yes, it does exactly what the Python handler would have
done -- on the same vCPU row, with the machine's own compiled CSR and trap code -- appends
the same trace records, charges the same modelled cost, and enters the guest again.  If no,
it returns, and :meth:`vmlab.hv.vcpu.VCpu.run` hands the exit to the Python handlers
(vmlab.hv.exits), which stay the readable reference.

Handled here (each the twin of a Python handler named in brackets):

- CSR reads and writes of the virtual CSR file          [csr_emul.emulate_csr]
- ``sret``, ``mret``, ``wfi``                            [csr_emul._priv_insn]
- ``sfence.vma`` with no shadow leaf to drop             [csr_emul.emulate_sfence]
- SBI ``set_timer`` (TIME and the legacy call)           [sbi.time, sbi.legacy]
- loads and stores to the UART and the CLINT             [exits.page_fault, mmio.emulate]
- the end of a run at a virtual timer deadline           [exits.timer_exit]
- injecting a pending virtual interrupt                  [VCpu.inject]
- entering the guest, switching between shadow roots already built  [VCpu._enter]

Everything else -- a reflected trap, a shadow fill, an sfence.vma that drops leaves, any
other SBI call or device, a shadow root not built yet, a vCPU going idle -- returns to
Python *before* anything was changed for it, so Python handles it exactly as if the fast
path did not exist.  Where the answer needs the guest's page tables (a device access with
paging on), :func:`guest_walk` walks them for the cases where the reference walker
(vmlab.sv39.walk) succeeds, and declines everything else.

What the compiled code needs from the Python objects is in numpy arrays:

- ``hvstate``: one int64 row per vCPU (:data:`STATE_WORDS`): the SBI timer, "real TLB
  stale", the shadow root in use, counters Python drains, and the handler ids and costs the
  records carry (copied from vmlab.hv.exit_types.COSTS, so one table rules both paths);
- ``roots``: a mirror of the shadow pager's root cache (ShadowPaging.mirror, one row per
  cached tree at a slot that stays its own);
- ``log``: records appended here in the trace's own field order; after every call Python
  drains them into the VM's :class:`~vmlab.hv.trace.Trace` and replays what they mean for
  the pager's bookkeeping (VCpu._drain, ShadowPaging.catch_up, Trace.extend).

Guest values are int64 bit patterns throughout (as in the machine), every array index is a
checked small number, and the loop ends when its instruction budget is spent.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.exit_types import Exit
from vmlab.hv.memory import ACCESSED, READ_ONLY
from vmlab.hv.memory import FLAGS as PAGE_FLAGS
from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG, SHADOW
from vmlab.isa.paging import PPN_MASK, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X
from vmlab.machine import layout as L
from vmlab.machine.csr import csr_written
from vmlab.machine.devices import mmio_read, mmio_write, next_timer_ns, update_hwip
from vmlab.machine.fpstate import FS_CLEAN, FS_DIRTY, FS_MASK, SD
from vmlab.machine.jit import jit
from vmlab.machine.loop import run as machine_run
from vmlab.machine.system import ECALL, MRET, SRET, WFI, exec_csr, exec_priv
from vmlab.machine.trap import pending_interrupt, take_trap

# --- hvstate: the vCPU's hypervisor-side words -------------------------------------------------
(S_ID, S_VM, S_HART, S_SBI_TIMER, S_TLB_STALE, S_DEADLINE_IRQ, S_ROOT, S_ENTERS, S_LOG_N,
 S_SBI_TIME, S_SBI_FROM_HV, S_NOW, S_DEADLINE, S_WRITE_PROTECT, S_SFENCES, S_FLUSHES,
 S_MMIO_FAULTS, S_DEV_ACCESSES, S_ONE_EXIT, S_DEVICE_HOOK, S_AD_UPDATES, S_OUTPUT,
 S_FILLS, S_TABLE_ROOM) = range(24)
#: the counters Python adds up and zeroes after every call (VCpu._drain)
DRAINED = (S_LOG_N, S_ENTERS, S_SBI_TIME, S_SFENCES, S_FLUSHES, S_MMIO_FAULTS, S_DEV_ACCESSES,
           S_AD_UPDATES, S_FILLS)
H_BASE = 26                       # hvstate[H_BASE + H_*]: the trace's handler id
COST_BASE = 42                    # hvstate[COST_BASE + K_*]: modelled cost in ns
STATE_WORDS = 58

#: handler names the fast path records, in the order their ids sit in hvstate
HANDLERS = ("csr", "sret", "mret", "wfi", "sfence.vma", "sbi", "timer", "interrupt",
            "shadow.root_switch", "shadow.sfence", "mmio", "shadow.mmio", "fill", "shadow.fill")
(H_CSR, H_SRET, H_MRET, H_WFI, H_SFENCE, H_SBI, H_TIMER, H_INTERRUPT, H_ROOT_SWITCH,
 H_SHADOW_SFENCE, H_MMIO, H_SHADOW_MMIO, H_FILL, H_SHADOW_FILL) = range(14)
#: costs the fast path charges, in the order they sit in hvstate (the instructions' costs
#: in the order of their H_* numbers, so that K_CSR + H_x is x's cost)
COST_NAMES = ("switch", "csr", "sret", "mret", "wfi", "sfence.vma", "sbi", "reflect", "timer",
              "mmio", "fill")
(K_SWITCH, K_CSR, K_SRET, K_MRET, K_WFI, K_SFENCE, K_SBI, K_REFLECT, K_TIMER, K_MMIO,
 K_FILL) = range(11)

# --- the roots mirror: one row per cached shadow tree ---------------------------------------------
R_VALID, R_KIND, R_SATP, R_PRIV, R_SUM, R_MXR, R_REAL_SATP, R_TAG, R_SUPER = range(9)
ROOT_WORDS = 9                    # R_SUPER: ask Python about superpages (index full)
# --- the superpage index: which guest superpages a tree holds pieces of (ShadowPaging) ---
X_SLOT, X_LEVEL, X_GROUP, X_MEMBERS = range(4)
SUPER_WORDS, SUPER_ROWS = 4, 1024
KIND_DIRECT, KIND_SV39, KIND_MPRV = 0, 1, 2
ROOT_SWITCH_EVENT = 9             # vmlab.hv.shadow.ROOT_SWITCH
SFENCE_EVENT = 7                  # vmlab.hv.shadow.SFENCE
MMIO_EVENT = 4                    # vmlab.hv.shadow.MMIO
FILL_EVENT = 1                    # vmlab.hv.shadow.FILL
# --- the fill log: the leaves the fast path put into shadow trees, for Python's bookkeeping ---
(F_TAG, F_GVA_PAGE, F_GPA_PAGE, F_HPA_PAGE, F_PERMS, F_LEVEL, F_NPTES, F_PTE0, F_PTE1,
 F_PTE2) = range(10)
FILL_WORDS = 10
VA_BITS = (1 << 39) - 1

# --- the record log: the trace's fields after seq (Trace.extend), as int64 ---------------------
(G_TIME, G_KIND, G_VM, G_VCPU, G_CAUSE, G_PC, G_INSN, G_TVAL, G_HANDLER, G_COST) = range(10)
LOG_WORDS = 10
LOG_RECORDS = 4096                # records one call may append (then it returns to be drained)
LOG_ROOM = 8                      # records one round of the loop may append at most

# --- what fast_run returns (besides the machine's own EXIT_* codes) --------------------------------
HANDLED = 100     # it handled at least one exit and stopped (budget, log full): nothing pending
RESUME = 101      # it injected for the next entry but cannot enter: Python goes on from there

FAR = 1 << 62
SBI_EXT_TIME, SBI_LEGACY_SET_TIMER = 0x54494D45, 0x00
NOT_FS_SD = ~FS_MASK & ~SD
TIMER_LIMIT = FAR // 100


# === time, lines, deadlines (VCpu.update_lines / next_deadline) ===================================
@jit
def now_ns(dev, ctl):
    """The machine's clock, as VM.time() reads it."""
    return dev[L.D_TICKS] + ctl[L.C_SLICE_POS]


@jit
def update_lines(rows, vdev, vctl, st, now):
    """The virtual hart's device-driven mip bits, and the SBI timer's STIP."""
    vdev[L.D_TICKS] = now
    vctl[L.C_SLICE_POS] = 0
    h = st[S_ID]
    update_hwip(rows, vdev, vctl, h)
    sbi = st[S_SBI_TIMER]
    if 0 <= sbi < TIMER_LIMIT and now // 100 >= sbi:
        rows[h, L.MIP] |= L.MIP_STIP


@jit
def next_deadline(rows, vdev, st):
    """Simulated ns of the next virtual timer event (FAR for none); remembers which one."""
    h = st[S_ID]
    t = next_timer_ns(rows, vdev, h)
    irq = L.IRQ_STI
    if t < FAR and t == vdev[L.D_MTIMECMP + h] * 100:
        irq = L.IRQ_MTI
    sbi = st[S_SBI_TIMER]
    if 0 <= sbi < TIMER_LIMIT and sbi * 100 < t:
        t, irq = sbi * 100, L.IRQ_STI
    st[S_DEADLINE_IRQ] = irq
    return t


# === the trace log =================================================================================
@jit
def record(log, st, kind, time, cause, pc, insn, tval, handler, cost):
    """Append one record (the caller keeps LOG_ROOM free, so it always fits)."""
    n = st[S_LOG_N]
    if n >= log.shape[0]:
        return
    r = log[n]
    r[G_KIND], r[G_TIME], r[G_VM], r[G_VCPU], r[G_CAUSE] = kind, time, st[S_VM], st[S_ID], cause
    r[G_PC], r[G_INSN], r[G_TVAL] = pc, insn & 0xFFFFFFFF, tval
    r[G_HANDLER], r[G_COST] = st[H_BASE + handler], cost
    st[S_LOG_N] = n + 1


@jit
def charge(dev, ns):
    dev[L.D_TICKS] += ns


# === shadow roots (ShadowPaging.key_for / root_for) ==================================================
@jit
def find_root(roots, row):
    """The mirror row of the tree this context needs, or -1 (Python must build it)."""
    satp, priv, status = row[L.SATP], row[L.PRIV], row[L.MSTATUS]
    kind = KIND_DIRECT
    if (satp >> 60) & 0xF == 8:
        kind = KIND_SV39
        if priv == L.PRIV_M:
            mpp = (status >> L.MS_MPP_SHIFT) & 3
            kind = KIND_DIRECT if (status & L.MS_MPRV) == 0 or mpp == L.PRIV_M else KIND_MPRV
            priv = mpp
    s = 1 if priv == L.PRIV_S else 0
    sum_ = 1 if s == 1 and (status & L.MS_SUM) != 0 else 0
    mxr = 1 if (status & L.MS_MXR) != 0 else 0
    for i in range(roots.shape[0]):
        r = roots[i]
        if r[R_VALID] == 0 or r[R_KIND] != kind:
            continue
        if kind == KIND_DIRECT or (r[R_SATP] == satp and r[R_PRIV] == s and r[R_SUM] == sum_
                                   and r[R_MXR] == mxr):
            return i
    return -1


# === the world switch (VCpu._enter / _leave) =========================================================
@jit
def counters_allowed(row):
    priv = row[L.PRIV]
    if priv == L.PRIV_M:
        return 7
    allowed = row[L.MCOUNTEREN] & 7
    return allowed if priv == L.PRIV_S else allowed & row[L.SCOUNTEREN]


@jit
def enter(cpu, tlb, row, st, roots, log, now):
    """Load the guest onto the real hart; False (nothing changed) if its root is not built."""
    i = find_root(roots, row)
    if i < 0:
        return False
    c = cpu[st[S_HART]]
    for k in range(L.XREG, L.XREG + 33):           # x0..x31 and the pc
        c[k] = row[k]
    c[L.MCYCLE], c[L.MINSTRET] = row[L.MCYCLE], row[L.MINSTRET]
    c[L.RES_ADDR], c[L.MCOUNTINHIBIT] = row[L.RES_ADDR], row[L.MCOUNTINHIBIT]
    c[L.PRIV], c[L.MIE], c[L.WAITING] = L.PRIV_U, 0, 0
    allowed = counters_allowed(row)
    c[L.MCOUNTEREN], c[L.SCOUNTEREN], c[L.MENVCFG] = allowed, allowed, 0
    real = c[L.MSTATUS] & NOT_FS_SD
    if row[L.MSTATUS] & FS_MASK:
        for k in range(L.FREG, L.FREG + 32):
            c[k] = row[k]
        c[L.FCSR] = row[L.FCSR]
        real |= FS_CLEAN
    c[L.MSTATUS] = real
    st[S_ENTERS] += 1
    if i != st[S_ROOT]:
        st[S_ROOT] = i
        record(log, st, SHADOW, now, ROOT_SWITCH_EVENT, row[L.PC], roots[i, R_TAG],
               roots[i, R_SATP], H_ROOT_SWITCH, 0)
    c[L.SATP] = roots[i, R_REAL_SATP]
    if st[S_TLB_STALE]:
        tlb[st[S_HART], :, :, L.TLB_TAG] = L.TLB_EMPTY
        st[S_TLB_STALE] = 0
    return True


@jit
def leave(cpu, row, st):
    c = cpu[st[S_HART]]
    for k in range(L.XREG, L.XREG + 33):
        row[k] = c[k]
    row[L.MCYCLE], row[L.MINSTRET], row[L.RES_ADDR] = c[L.MCYCLE], c[L.MINSTRET], c[L.RES_ADDR]
    if (c[L.MSTATUS] & FS_MASK) == FS_DIRTY:
        for k in range(L.FREG, L.FREG + 32):
            row[k] = c[k]
        row[L.FCSR] = c[L.FCSR]
        row[L.MSTATUS] |= FS_DIRTY | SD


# === the handlers ===================================================================================
@jit
def retire(row, insn):
    """VCpu.retire: an emulated instruction completed."""
    if (row[L.MCOUNTINHIBIT] & 4) == 0 and csr_written(insn) != L.MINSTRET:
        row[L.MINSTRET] += 1


@jit
def system_kind(insn):
    """csr_emul.kind as a handler number; -1 for what only Python handles."""
    if insn & 0x7F != 0x73:
        return -1
    f3 = (insn >> 12) & 7
    if f3 != 0 and f3 != 4:
        return H_CSR
    if insn == SRET:
        return H_SRET
    if insn == MRET:
        return H_MRET
    if insn == WFI:
        return H_WFI
    if insn >> 25 == 0x09 and (insn >> 7) & 0x1F == 0:
        return H_SFENCE
    return -1


@jit
def emulate_system(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, pc, now):
    """A csr*/sret/mret/wfi/sfence.vma on the virtual hart; the handler number, or -1
    (untouched).  ``notlb``: a TLB array of its own for exec_priv's sfence (as csr_emul's)."""
    kind = system_kind(insn)
    if kind < 0:
        return -1
    h = st[S_ID]
    row = rows[h]
    if kind == H_SFENCE:
        return sfence(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, now)
    if kind == H_CSR:
        num = insn >> 20
        if num == L.MIP or num == L.SIP or num == L.TIME:
            update_lines(rows, vdev, vctl, st, now)
        if not exec_csr(row, vdev, vctl, h, insn):
            return -1
        row[L.XREG] = 0
        row[L.PC] = pc + 4
    else:
        update_lines(rows, vdev, vctl, st, now)
        cause, _ = exec_priv(row, notlb, 0, insn)
        if cause >= 0:
            return -1
    retire(row, insn)
    return kind


@jit
def read_hpa64(mem, hpa):
    """The 8-byte word at host address ``hpa`` (-1 outside RAM: never a valid shadow PTE
    for the callers, who then leave the decision to Python)."""
    off = hpa - L.RAM_BASE
    if off < 0 or off + 8 > mem.size:
        return -1
    v = 0
    for k in range(8):
        v |= np.int64(mem[off + k]) << (8 * k)
    return v


@jit
def shadow_has_leaf(mem, real_satp, gva):
    """Does the shadow tree behind ``real_satp`` hold a leaf for ``gva``?  (A walk of the
    tree as the real MMU would do it; unsure counts as yes.)"""
    table = (real_satp & PPN_MASK) << 12
    va = gva & VA_BITS
    for level in range(2, -1, -1):
        pte = read_hpa64(mem, table + 8 * ((va >> (12 + 9 * level)) & 511))
        if pte == -1 or level == 0:
            return pte != 0
        if pte & 1 == 0:
            return False
        table = ((pte >> 10) & PPN_MASK) << 12
    return True


@jit
def sfence_would_drop(mem, roots, supers, gva, asid, one_asid):
    """ShadowPaging.sfence's question: is there any shadow leaf to drop for ``gva``, or a
    piece of a guest superpage around it (ShadowPaging._drop_covering)?"""
    page = (gva & VA_BITS) >> 12
    for i in range(roots.shape[0]):
        r = roots[i]
        if r[R_VALID] == 0 or r[R_KIND] == KIND_DIRECT:
            continue
        if one_asid and ((r[R_SATP] >> 44) & 0xFFFF) != asid:
            continue
        if r[R_SUPER] or shadow_has_leaf(mem, r[R_REAL_SATP], gva):
            return True
        for x in range(supers.shape[0]):
            s = supers[x]
            if s[X_SLOT] == i and s[X_MEMBERS] > 0 and s[X_GROUP] == page >> (9 * s[X_LEVEL]):
                return True
    return False


@jit
def sfence(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, now):
    """csr_emul.emulate_sfence when there is nothing to drop from the shadow tables (or
    under write-protect, where sfence drops nothing): H_SFENCE, or -1 (untouched)."""
    h = st[S_ID]
    row = rows[h]
    rs1, rs2 = (insn >> 15) & 31, (insn >> 20) & 31
    gva, asid = row[L.XREG + rs1], row[L.XREG + rs2] & 0xFFFF
    wp = st[S_WRITE_PROTECT] != 0
    if not wp and (rs1 == 0 or sfence_would_drop(mem, roots, supers, gva, asid, rs2 != 0)):
        return -1
    update_lines(rows, vdev, vctl, st, now)
    cause, _ = exec_priv(row, notlb, 0, insn)
    if cause >= 0:
        return -1
    st[S_SFENCES] += 1
    if not wp:
        st[S_FLUSHES] += 1
    record(log, st, SHADOW, now, SFENCE_EVENT, row[L.PC], 0, gva if rs1 else 0,
           H_SHADOW_SFENCE, 0)
    retire(row, insn)
    return H_SFENCE


@jit
def sbi_set_timer(rows, st, pc):
    """An SBI call from vS that only sets the timer (TIME or legacy): sbi.set_timer."""
    row = rows[st[S_ID]]
    eid, fid = row[L.XREG + 17], row[L.XREG + 16]
    if eid == SBI_EXT_TIME and fid == 0:
        st[S_SBI_TIME] += 1                    # sbi_calls[TIME], drained by Python
        row[L.XREG + 11] = 0
    elif eid != SBI_LEGACY_SET_TIMER:
        return False
    st[S_SBI_TIMER] = row[L.XREG + 10]
    row[L.MIP] &= ~L.MIP_STIP
    row[L.XREG + 10] = 0
    row[L.PC] = pc + 4
    return True


# === MMIO to the UART and the CLINT (exits.page_fault -> mmio.emulate) ===========================
@jit
def guest_bytes(mem, page_map, vctl, gpa, n):
    """``n`` (2 or 8) little-endian bytes at guest-physical ``gpa``, aligned, if that is
    backed guest RAM; else -1 (a page never touched, or not RAM: Python decides)."""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off + n > vctl[L.C_RAM_SIZE] or gpa & (n - 1):
        return -1
    entry = page_map[off >> 12]
    if entry < 0:
        return -1
    at = (entry & ~PAGE_FLAGS) + (off & 0xFFF) - L.RAM_BASE
    if at < 0 or at + n > mem.size:
        return -1
    v = 0
    for k in range(n):
        v |= np.int64(mem[at + k]) << (8 * k)
    return v


@jit
def writable_ram(page_map, vctl, gpa):
    """May compiled code store to guest RAM at ``gpa`` in place?  Not when the page has no
    frame, nor when its frame is shared copy-on-write (READ_ONLY): breaking a share is the
    memory manager's job, in Python."""
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off >= vctl[L.C_RAM_SIZE]:
        return False
    entry = page_map[off >> 12]
    return entry >= 0 and (entry & READ_ONLY) == 0


@jit
def set_guest64(mem, page_map, vctl, gpa, value):
    """Store a PTE the walk read (backed guest RAM, and writable_ram said so)."""
    off = gpa - vctl[L.C_RAM_BASE]
    at = (page_map[off >> 12] & ~PAGE_FLAGS) + (off & 0xFFF) - L.RAM_BASE
    for k in range(8):
        mem[at + k] = (value >> (8 * k)) & 0xFF


ACC_FETCH, ACC_LOAD, ACC_STORE = L.ACC_FETCH, L.ACC_LOAD, L.ACC_STORE


@jit
def leaf_permits(pte, access, priv_s, sum_, mxr):
    """sv39._permission_problem == "" for a vS (``priv_s``) or vU access."""
    if pte & PTE_U:
        if priv_s and (access == ACC_FETCH or not sum_):
            return False
    elif not priv_s:
        return False
    if access == ACC_FETCH:
        return pte & PTE_X != 0
    if access == ACC_LOAD:
        return pte & PTE_R != 0 or (mxr and pte & PTE_X != 0)
    return pte & PTE_W != 0


@jit
def guest_walk(mem, page_map, vctl, satp, va, access, priv_s, sum_, mxr):
    """vmlab.sv39.walk where it succeeds: (True, gpa, the leaf PTE's gpa, the leaf PTE).
    Any fault, or a table in a page never touched, gives (False, ...): Python walks it
    again with the reference walker and decides."""
    top = va >> 38                                 # canonical: bits 63..38 all equal
    if top != 0 and top != -1:
        return False, 0, 0, 0
    table = (satp & PPN_MASK) << 12
    for level in range(2, -1, -1):
        pte_gpa = table + 8 * ((va >> (12 + 9 * level)) & 511)
        pte = guest_bytes(mem, page_map, vctl, pte_gpa, 8)
        if pte == -1 or pte & PTE_V == 0 or (pte >> 54) & 0x3FF:
            return False, 0, 0, 0
        if pte & PTE_W and not pte & PTE_R:
            return False, 0, 0, 0
        ppn = (pte >> 10) & PPN_MASK
        if pte & (PTE_R | PTE_X):
            low = (1 << (9 * level)) - 1
            if ppn & low or not leaf_permits(pte, access, priv_s, sum_, mxr):
                return False, 0, 0, 0
            bits = 12 + 9 * level
            gpa = ((ppn << 12) & ~((1 << bits) - 1)) | (va & ((1 << bits) - 1))
            return True, gpa, pte_gpa, pte
        table = ppn << 12
    return False, 0, 0, 0


@jit
def fetch_insn(mem, page_map, vctl, row, pc):
    """mmio.fetch_insn: the instruction bits at guest pc ``pc`` (the guest's own view:
    VCpu.gva_to_gpa for a fetch), or -1 where Python must look."""
    low = fetch_half(mem, page_map, vctl, row, pc)
    if low < 0 or low & 3 != 3:
        return low
    high = fetch_half(mem, page_map, vctl, row, pc + 2)
    return -1 if high < 0 else low | high << 16


@jit
def fetch_half(mem, page_map, vctl, row, gva):
    satp, priv, status = row[L.SATP], row[L.PRIV], row[L.MSTATUS]
    gpa = gva
    if priv != L.PRIV_M and (satp >> 60) & 0xF != 0:
        ok, gpa, _, _ = guest_walk(mem, page_map, vctl, satp, gva, ACC_FETCH, priv == L.PRIV_S,
                                   (status & L.MS_SUM) != 0, (status & L.MS_MXR) != 0)
        if not ok:
            return -1
    return guest_bytes(mem, page_map, vctl, gpa, 2)


@jit
def is_uart_or_clint(gpa):
    return (0 <= gpa - L.UART_BASE < L.UART_SIZE) or (0 <= gpa - L.CLINT_BASE < L.CLINT_SIZE)


@jit
def decode_access(word, rvc):
    """mmio.decode_access for plain loads and stores (compressed forms by the machine's own
    expansion table): (store, size, signed, reg, length), or size 0 for anything else."""
    w, length = word, 4
    if word & 3 != 3:
        w, length = rvc[word & 0xFFFF], 2
    op, f3 = w & 0x7F, (w >> 12) & 7
    if op == 0x03 and f3 != 7:
        return False, 1 << (f3 & 3), f3 < 4, (w >> 7) & 31, length
    if op == 0x23 and f3 < 4:
        return True, 1 << f3, False, (w >> 20) & 31, length
    return False, 0, False, 0, 0


@jit
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
    record(log, st, SHADOW, now, MMIO_EVENT, row[L.PC], gpa >> 12, gva, H_SHADOW_MMIO, 0)
    vdev[L.D_TICKS], vctl[L.C_SLICE_POS] = now, 0
    st[S_DEV_ACCESSES] += 1
    device_load_store(row, vdev, vio, vctl, gpa, store, size, signed, reg)
    if store and 0 <= gpa - L.UART_BASE < L.UART_SIZE:
        st[S_OUTPUT] = 1                            # (see yields)
    row[L.PC] = pc + length
    retire(row, word)
    return word


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


# === shadow fills of present guest mappings (exits.page_fault -> ShadowPaging.handle_fault) ====
@jit
def shadow_perms(pte, priv_s, sum_, mxr):
    """shadow_build.shadow_perms: the R/W/X a shadow leaf may carry for guest leaf ``pte``."""
    perms = 0
    if leaf_permits(pte, ACC_LOAD, priv_s, sum_, mxr):
        perms |= PTE_R
    if leaf_permits(pte, ACC_STORE, priv_s, sum_, mxr):
        perms |= PTE_W
    if leaf_permits(pte, ACC_FETCH, priv_s, sum_, mxr):
        perms |= PTE_X
    if pte & PTE_D == 0 or perms & PTE_R == 0:
        perms &= ~PTE_W
    return perms if pte & PTE_A else 0


@jit
def empty_shadow_slot(mem, real_satp, gva):
    """Host address of the level-0 shadow PTE for ``gva`` if its tables exist and it is
    empty; -1 otherwise (new table frames, or replacing a leaf: Python's work)."""
    table = (real_satp & PPN_MASK) << 12
    va = gva & VA_BITS
    for level in range(2, 0, -1):
        pte = read_hpa64(mem, table + 8 * ((va >> (12 + 9 * level)) & 511))
        if pte == -1 or pte & PTE_V == 0:
            return -1
        table = ((pte >> 10) & PPN_MASK) << 12
    slot = table + 8 * ((va >> 12) & 511)
    return slot if read_hpa64(mem, slot) == 0 else -1


@jit
def fill(mem, page_map, vctl, st, roots, fills, cause, gva, pc, row, log, now):
    """A fault on a page the guest maps (or, without paging, on guest RAM) whose shadow leaf
    can go into existing tables: install it; the cost, or -1 (nothing touched)."""
    slot = st[S_ROOT]
    if st[S_WRITE_PROTECT] or st[S_TABLE_ROOM] < 2 or slot < 0:
        return -1                   # (too few table frames left: Python recycles first)
    if cause == L.CAUSE_FETCH_PAGE:
        access = ACC_FETCH
    elif cause == L.CAUSE_LOAD_PAGE:
        access = ACC_LOAD
    elif cause == L.CAUSE_STORE_PAGE:
        access = ACC_STORE
    else:
        return -1
    r = roots[slot]
    level, pte_gpa, new, perms = 0, 0, -1, PTE_R | PTE_W | PTE_X
    if r[R_KIND] == KIND_SV39:
        ok, gpa, pte_gpa, pte = guest_walk(mem, page_map, vctl, r[R_SATP], gva, access,
                                           r[R_PRIV] != 0, r[R_SUM] != 0, r[R_MXR] != 0)
        if not ok:
            return -1
        updated = pte | PTE_A | (PTE_D if access == ACC_STORE else 0)
        new = updated if updated != pte else -1
        perms = shadow_perms(updated, r[R_PRIV] != 0, r[R_SUM] != 0, r[R_MXR] != 0)
        level = leaf_level(mem, page_map, vctl, r[R_SATP], gva)
    elif r[R_KIND] == KIND_DIRECT:
        gpa = gva
    else:
        return -1
    off = gpa - vctl[L.C_RAM_BASE]
    if off < 0 or off >= vctl[L.C_RAM_SIZE] or page_map[off >> 12] < 0:
        return -1                                   # not RAM, or a page to back: Python
    entry = page_map[off >> 12]
    if entry & READ_ONLY:           # a shared frame: mapped without W; a store breaks the
        if access == ACC_STORE:     # share, which is the memory manager's (Python)
            return -1
        perms &= ~PTE_W
    if new != -1 and not writable_ram(page_map, vctl, pte_gpa):
        return -1
    shadow_slot = empty_shadow_slot(mem, r[R_REAL_SATP], gva)
    if shadow_slot < 0:
        return -1
    if new != -1:
        set_guest64(mem, page_map, vctl, pte_gpa, new)
        st[S_AD_UPDATES] += 1
    page_map[off >> 12] = entry | ACCESSED      # the clock pager's reference bit
    hpa_page = (entry & ~PAGE_FLAGS) >> 12
    write_hpa64(mem, shadow_slot,
                hpa_page << 10 | PTE_V | perms | PTE_U | PTE_A | PTE_D)
    log_fill(fills, st, r, gva, gpa, hpa_page, perms, level, mem, page_map, vctl)
    if level:
        roots[slot, R_SUPER] = 1        # (until Python has indexed the piece: catch_up_fills)
    record(log, st, SHADOW, now, FILL_EVENT, row[L.PC], gpa >> 12, (gva & VA_BITS) & ~0xFFF,
           H_SHADOW_FILL, 0)
    return st[COST_BASE + K_SWITCH] + st[COST_BASE + K_FILL]


@jit
def write_hpa64(mem, hpa, value):
    off = hpa - L.RAM_BASE
    for k in range(8):
        mem[off + k] = (value >> (8 * k)) & 0xFF


@jit
def leaf_level(mem, page_map, vctl, satp, va):
    """The level of the leaf a successful guest walk of ``va`` ends at (2, 1 or 0)."""
    table = (satp & PPN_MASK) << 12
    for level in range(2, 0, -1):
        pte = guest_bytes(mem, page_map, vctl, table + 8 * ((va >> (12 + 9 * level)) & 511), 8)
        if pte & (PTE_R | PTE_X):
            return level
        table = ((pte >> 10) & PPN_MASK) << 12
    return 0


@jit
def log_fill(fills, st, r, gva, gpa, hpa_page, perms, level, mem, page_map, vctl):
    """What Python needs to index the new leaf (shadow._remember): the guest PTEs read."""
    f = fills[st[S_FILLS]]
    f[F_TAG], f[F_GVA_PAGE], f[F_GPA_PAGE] = r[R_TAG], (gva & VA_BITS) >> 12, gpa >> 12
    f[F_HPA_PAGE], f[F_PERMS], f[F_LEVEL], f[F_NPTES] = hpa_page, perms, level, 0
    if r[R_KIND] == KIND_SV39:
        table = (r[R_SATP] & PPN_MASK) << 12
        for lv in range(2, level - 1, -1):
            pte_gpa = table + 8 * ((gva >> (12 + 9 * lv)) & 511)
            f[F_PTE0 + f[F_NPTES]] = pte_gpa
            f[F_NPTES] += 1
            table = ((guest_bytes(mem, page_map, vctl, pte_gpa, 8) >> 10) & PPN_MASK) << 12
    st[S_FILLS] += 1


@jit
def handle_trap(mem, page_map, rows, vdev, vio, vctl, notlb, rvc, st, roots, supers, log, fills,
                cause, tval, pc, now):
    """exits.dispatch for the exits handled here: the cost charged, or -1 (nothing changed:
    Python handles it)."""
    row = rows[st[S_ID]]
    if cause == L.CAUSE_ILLEGAL:
        insn = tval & 0xFFFFFFFF
        kind = emulate_system(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, pc,
                              now)
        if kind < 0:
            return -1
        cost = st[COST_BASE + K_SWITCH] + st[COST_BASE + K_CSR + kind]   # K_* follow H_*
        record(log, st, EXIT, now, cause, pc, insn, tval, kind, cost)
        return cost
    if cause == L.CAUSE_ECALL_U and row[L.PRIV] == L.PRIV_S and st[S_SBI_FROM_HV]:
        if not sbi_set_timer(rows, st, pc):
            return -1
        cost = st[COST_BASE + K_SWITCH] + st[COST_BASE + K_SBI]
        record(log, st, EXIT, now, L.CAUSE_ECALL_S, pc, ECALL, tval, H_SBI, cost)
        return cost
    word = device_access(mem, page_map, rows, vdev, vio, vctl, rvc, st, roots, log, cause, tval,
                         pc, now)
    if word >= 0:
        cost = st[COST_BASE + K_SWITCH] + st[COST_BASE + K_MMIO]
        record(log, st, EXIT, now, cause, pc, word, tval, H_MMIO, cost)
        return cost
    cost = fill(mem, page_map, vctl, st, roots, fills, cause, tval, pc, row, log, now)
    if cost >= 0:
        record(log, st, EXIT, now, cause, pc, 0, tval, H_FILL, cost)
    return cost


@jit
def inject(rows, vdev, vctl, st, log, dev, ctl):
    """VCpu.inject: deliver the highest-priority pending, enabled virtual interrupt."""
    now = now_ns(dev, ctl)
    update_lines(rows, vdev, vctl, st, now)
    row = rows[st[S_ID]]
    irq = pending_interrupt(row)
    if irq < 0:
        return
    row[L.WAITING] = 0
    take_trap(row, vctl, irq, 0, True)
    row[L.RES_ADDR] = -1
    cost = st[COST_BASE + K_REFLECT]
    record(log, st, INJECT, now, INTERRUPT_FLAG | irq, row[L.PC], 0, 0, H_INTERRUPT, cost)
    charge(dev, cost)


# === the loop =======================================================================================
@jit
def yields(code, ctl, st):
    """Exits after which Python gets its turn at once: a wfi (the guest has nothing to do:
    the scheduler decides, as after the Python handler, so a vCPU idling in a wfi loop does
    not spin through its slice while another has work); a store to the UART (its output
    goes to the console, where vm.run looks for what it waits for); and every exit while
    Python asks for that (typed input waiting to be fed, a tohost word to watch)."""
    if st[S_ONE_EXIT] or st[S_OUTPUT]:
        st[S_OUTPUT] = 0
        return True
    return (code == L.EXIT_TRAP and ctl[L.C_TRAP_CAUSE] == L.CAUSE_ILLEGAL
            and ctl[L.C_TRAP_TVAL] & 0xFFFFFFFF == WFI)


@jit
def run_guest(cpu, mem, tlb, dev, io, ctl, rvc, st, limit):
    """VCpu._run_real: the machine's run loop in hypervisor mode; (exit code, steps)."""
    ctl[L.C_FLAGS] = L.F_TRAP_EXIT
    ctl[L.C_CUR_HART] = st[S_HART]
    ctl[L.C_BUDGET] = limit
    code = machine_run(cpu, mem, tlb, dev, io, ctl, rvc)
    return code, limit - ctl[L.C_BUDGET]


@jit
def prepare(rows, vdev, vctl, cpu, tlb, st, roots, log, dev, ctl, left):
    """Everything VCpu.run does before a run: inject, deadline, enter.  The run's
    instruction limit, or -1 where Python must go on (after the injection)."""
    inject(rows, vdev, vctl, st, log, dev, ctl)
    row = rows[st[S_ID]]
    if row[L.WAITING]:
        return -1
    now = now_ns(dev, ctl)
    deadline = next_deadline(rows, vdev, st)
    if not enter(cpu, tlb, row, st, roots, log, now):
        return -1
    st[S_NOW], st[S_DEADLINE] = now, deadline
    limit = min(left, deadline - now) if deadline > now else left
    return max(1, limit)


@jit
def fast_run(cpu, mem, tlb, dev, io, ctl, rvc, rows, vdev, vio, vctl, page_map, notlb, st,
             roots, supers, log, fills, limit, budget):
    """Run the entered guest and handle hot exits until one needs Python, the budget
    (``budget`` instructions in all) is spent, or the log is nearly full.

    Returns (code, steps): a machine EXIT_* code for Python to handle as VCpu.run does
    (EXIT_TRAP: the trap in ctl[C_TRAP_*], registers already on the row), HANDLED, or RESUME.
    """
    done = 0
    row = rows[st[S_ID]]
    while True:
        code, steps = run_guest(cpu, mem, tlb, dev, io, ctl, rvc, st, limit)
        leave(cpu, row, st)
        done += steps
        now = now_ns(dev, ctl)
        if code == L.EXIT_TRAP:
            cost = handle_trap(mem, page_map, rows, vdev, vio, vctl, notlb, rvc, st, roots,
                               supers, log, fills, ctl[L.C_TRAP_CAUSE], ctl[L.C_TRAP_TVAL],
                               ctl[L.C_TRAP_PC], now)
            if cost < 0:
                return code, done
        elif code == L.EXIT_BUDGET and st[S_DEADLINE] > st[S_NOW] and now >= st[S_DEADLINE]:
            cost = st[COST_BASE + K_SWITCH] + st[COST_BASE + K_TIMER]
            record(log, st, EXIT, now, INTERRUPT_FLAG | st[S_DEADLINE_IRQ], row[L.PC], 0, 0,
                   H_TIMER, cost)
        else:
            return code, done
        charge(dev, cost)
        if done >= budget or st[S_LOG_N] + LOG_ROOM > log.shape[0] or yields(code, ctl, st):
            return HANDLED, done
        limit = prepare(rows, vdev, vctl, cpu, tlb, st, roots, log, dev, ctl, budget - done)
        if limit < 0:
            return RESUME, done


# === the Python side ================================================================================
def new_state(vm, vcpu_id: int, hart: int, costs: dict) -> np.ndarray:
    """A vCPU's hvstate row: its ids, and the handler ids and costs its records carry."""
    st = np.zeros(STATE_WORDS, dtype=np.int64)
    st[S_ID], st[S_VM], st[S_HART], st[S_ROOT] = vcpu_id, vm.id, hart, -1
    for i, name in enumerate(HANDLERS):
        st[H_BASE + i] = vm.trace.handler_id(name)
    for i, name in enumerate(COST_NAMES):
        st[COST_BASE + i] = costs[name]
    return st


def last_exit(block: np.ndarray, trace, priv: int) -> Exit:
    """The Exit vcpu.run() reports for the last exit the fast path handled in ``block``."""
    rows = block[block[:, G_KIND] == EXIT]
    r = [int(v) for v in rows[-1]]
    handler = trace.names[r[G_HANDLER]]
    mask = (1 << 64) - 1
    return Exit("timer" if handler == "timer" else "trap", r[G_CAUSE], r[G_TVAL] & mask,
                r[G_PC] & mask, r[G_INSN], handler, r[G_COST], priv)
