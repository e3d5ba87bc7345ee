"""What the compiled fast path shares with the Python objects: the layout of its arrays.

Compiled code cannot hold Python objects, so everything the fast path needs to know about a
vCPU, and everything it must tell Python afterwards, sits in numpy int64 arrays whose word
positions are named here:

- ``hvstate``: one row per vCPU (:data:`STATE_WORDS`): the SBI timer, "real TLB stale", the
  shadow root in use, counters Python drains after each call, and the handler ids and costs
  the records carry (copied from vmlab.hv.exit_types.COSTS, so one table rules both paths);
- ``roots``: a mirror of the shadow pager's root cache (ShadowPaging.mirror, one row per
  cached tree at a slot that stays its own), and ``supers``, its superpage index;
- ``log``: records in the trace's own field order (Trace.extend), and ``fills``: the leaves
  the fast path put into shadow trees, for the pager's bookkeeping (catch_up_fills).
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.exit_types import Exit
from vmlab.hv.trace import EXIT
from vmlab.isa.paging import LEVELS, PAGE_SHIFT, VPN_BITS
from vmlab.machine.bits import u64

# --- hvstate: the vCPU's hypervisor-side words -------------------------------------------------
(S_ID, S_VM, S_HART, S_SBI_TIMER, S_TLB_STALE, S_DEADLINE_IRQ, S_ROOT, S_ENTERS, S_LOG_N,
 S_SBI_TIME, S_SBI_FROM_HV, S_NOW, S_DEADLINE, S_WRITE_PROTECT, S_SFENCES, S_FLUSHES,
 S_MMIO_FAULTS, S_DEV_ACCESSES, S_ONE_EXIT, S_DEVICE_HOOK, S_AD_UPDATES, S_YIELD,
 S_FILLS, S_TABLE_ROOM, S_SBI_IPI, S_SBI_RFENCE, S_SBI_DBCN, S_TRANSLATED) = range(28)
# (S_YIELD: Python gets its turn after this exit -- console output, another vCPU woken;
#  S_TRANSLATED: the VM has a binary translator, whose scanned pages are in ``bt_pages``)
#: SBI extensions the fast path serves and counts, with the hvstate word of each count
SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFENCE, SBI_EXT_DBCN = 0x54494D45, 0x735049, 0x52464E43, \
    0x4442434E
SBI_LEGACY_SET_TIMER, SBI_LEGACY_PUTCHAR = 0x00, 0x01
SBI_COUNTS = ((SBI_EXT_TIME, S_SBI_TIME), (SBI_EXT_IPI, S_SBI_IPI),
              (SBI_EXT_RFENCE, S_SBI_RFENCE), (SBI_EXT_DBCN, S_SBI_DBCN))
#: the counters Python adds up and zeroes after every call (VCpu._drain)
DRAINED = (S_LOG_N, S_ENTERS, S_SFENCES, S_FLUSHES, S_MMIO_FAULTS, S_DEV_ACCESSES,
           S_AD_UPDATES, S_FILLS) + tuple(word for _, word in SBI_COUNTS)
H_BASE = 32                       # hvstate[H_BASE + H_*]: the trace's handler id
COST_BASE = 48                    # hvstate[COST_BASE + K_*]: modelled cost in ns
STATE_WORDS = 64

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
# the pager's event codes (vmlab.hv.shadow; a test checks they agree)
ROOT_SWITCH_EVENT, SFENCE_EVENT, MMIO_EVENT, FILL_EVENT = 9, 7, 4, 1
# --- the fill log: the leaves the fast path put into shadow trees, for Python's bookkeeping ---
(F_TAG, F_GVA_PAGE, F_GPA_PAGE, F_HPA_PAGE, F_PERMS, F_LEVEL, F_NPTES, F_PTE0, F_PTE1,
 F_PTE2, F_SLOT) = range(11)
FILL_WORDS = 11                   # F_SLOT: host address of the shadow PTE written
VA_BITS = (1 << (PAGE_SHIFT + LEVELS * VPN_BITS)) - 1    # Sv39: the low 39 bits

# --- the record log: the trace's fields after seq (Trace.extend), as int64 ---------------------
(G_TIME, G_KIND, G_VM, G_VCPU, G_CAUSE, G_PC, G_INSN, G_TVAL, G_HANDLER, G_COST) = range(10)
LOG_WORDS = 10
LOG_RECORDS = 16384               # records one call may append (then it returns to be drained)
LOG_ROOM = 8                      # records one round of the loop may append at most

# --- what fast_run returns (besides the machine's own EXIT_* codes) -----------------------------
HANDLED = 100     # it handled at least one exit and stopped (budget, log full): nothing pending
RESUME = 101      # it injected for the next entry but cannot enter: Python goes on from there

FAR = 1 << 62                     # "no deadline", as VCpu uses it
TIMER_LIMIT = FAR // 100          # SBI timer values at or past this mean "none"


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
    last = len(block) - 1
    while last > 0 and block[last, G_KIND] != EXIT:   # (the exit is last or nearly)
        last -= 1
    r = block[last].tolist()
    handler = trace.names[r[G_HANDLER]]
    return Exit("timer" if handler == "timer" else "trap", r[G_CAUSE], u64(r[G_TVAL]),
                u64(r[G_PC]), r[G_INSN], handler, r[G_COST], priv)
