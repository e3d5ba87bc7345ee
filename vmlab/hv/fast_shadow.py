"""Shadow paging in compiled code: finding a built root, sfence.vma with nothing to drop, and
filling a shadow leaf for a page the guest maps.

The shadow pager (vmlab.hv.shadow) stays the owner of the trees: it builds roots, allocates
table frames, drops leaves and keeps the indexes that make sfence and write-protect work.
What is done here only ever *adds* to what is already there -- a leaf into an empty slot of
existing tables -- and logs it (the fill log, with the slot it wrote) so that Python can index
it exactly as its own fill would, when it needs to (ShadowPaging.catch_up_fills, settle).  Anything that would need more returns -1 before
changing anything.
"""
from __future__ import annotations

from vmlab.hv.fast_guest import (ACC_FETCH, ACC_LOAD, ACC_STORE, guest_bytes, guest_walk,
                                 leaf_level, leaf_permits, pte_index, pte_table, read_hpa64,
                                 set_guest64, writable_ram, write_hpa64)
from vmlab.hv.fast_jit import jit
from vmlab.hv.fast_state import (COST_BASE, F_GPA_PAGE, F_GVA_PAGE, F_HPA_PAGE, F_LEVEL,
                                 F_NPTES, F_PERMS, F_PTE0, F_SLOT, F_TAG, FILL_EVENT, H_SFENCE,
                                 H_SHADOW_FILL, H_SHADOW_SFENCE, K_FILL, K_SWITCH, KIND_DIRECT,
                                 KIND_MPRV, KIND_SV39, R_KIND, R_MXR, R_PRIV, R_REAL_SATP,
                                 R_SATP, R_SUM, R_SUPER, R_TAG, R_VALID, S_AD_UPDATES, S_FILLS,
                                 S_FLUSHES, S_ID, S_ROOT, S_SFENCES, S_TABLE_ROOM, S_TRANSLATED,
                                 S_WRITE_PROTECT, SFENCE_EVENT, VA_BITS, X_GROUP, X_LEVEL,
                                 X_MEMBERS, X_SLOT)
from vmlab.hv.fast_vhart import record, retire, update_lines
from vmlab.hv.memory import ACCESSED, READ_ONLY
from vmlab.hv.memory import FLAGS as PAGE_FLAGS
from vmlab.hv.trace import SHADOW
from vmlab.isa.paging import (PAGE_SHIFT, PPN_MASK, PTE_A, PTE_D, PTE_PPN_SHIFT, PTE_R,
                              PTE_U, PTE_V, PTE_W, PTE_X, SATP_ASID_MASK, SATP_ASID_SHIFT,
                              SATP_MODE_SHIFT, SATP_MODE_SV39, VPN_BITS)
from vmlab.machine import layout as L
from vmlab.machine.system import exec_priv

PAGE_MASK = (1 << PAGE_SHIFT) - 1


# === which tree (ShadowPaging.key_for / root_for) ==========================================
@jit
def root_kind(row):
    """The kind of tree the context needs, and the privilege its permissions are for."""
    satp, priv, status = row[L.SATP], row[L.PRIV], row[L.MSTATUS]
    if (satp >> SATP_MODE_SHIFT) & 0xF != SATP_MODE_SV39:
        return KIND_DIRECT, priv
    if priv != L.PRIV_M:
        return KIND_SV39, priv
    mpp = (status >> L.MS_MPP_SHIFT) & 3              # vM with MPRV: loads/stores as MPP
    if (status & L.MS_MPRV) == 0 or mpp == L.PRIV_M:
        return KIND_DIRECT, mpp
    return KIND_MPRV, mpp


@jit(inline="always")
def find_root(roots, row):
    """The mirror row of the tree this context needs, or -1 (Python must build it)."""
    kind, priv = root_kind(row)
    status = row[L.MSTATUS]
    s = 1 if priv == L.PRIV_S else 0
    sum_ = 1 if s == 1 and (status & L.MS_SUM) != 0 else 0
    mxr = 1 if (status & L.MS_MXR) != 0 else 0
    for i in range(roots.shape[0]):
        r = roots[i]
        if r[R_VALID] == 0 or r[R_KIND] != kind:
            continue
        if kind == KIND_DIRECT or (r[R_SATP] == row[L.SATP] and r[R_PRIV] == s
                                   and r[R_SUM] == sum_ and r[R_MXR] == mxr):
            return i
    return -1


# === sfence.vma with nothing to drop (csr_emul.emulate_sfence) ===============================
@jit
def shadow_has_leaf(mem, real_satp, gva):
    """Does the shadow tree behind ``real_satp`` hold a leaf for ``gva``?  (A walk of the
    tree as the real MMU would do it; unsure counts as yes.)"""
    table = (real_satp & PPN_MASK) << PAGE_SHIFT
    va = gva & VA_BITS
    for level in range(2, -1, -1):
        pte = read_hpa64(mem, table + pte_index(va, level))
        if pte == -1 or level == 0:
            return pte != 0
        if pte & PTE_V == 0:
            return False
        table = pte_table(pte)
    return True


@jit
def holds_superpage_piece(supers, slot, page):
    """Does tree ``slot`` hold a piece of a guest superpage around guest page ``page``?"""
    for x in range(supers.shape[0]):
        s = supers[x]
        if (s[X_SLOT] == slot and s[X_MEMBERS] > 0
                and s[X_GROUP] == page >> (VPN_BITS * s[X_LEVEL])):
            return True
    return False


@jit
def sfence_would_drop(mem, roots, supers, gva, asid, one_asid):
    """ShadowPaging.sfence's question: is there any shadow leaf to drop for ``gva``, or a
    piece of a guest superpage around it (ShadowPaging._drop_covering)?"""
    page = (gva & VA_BITS) >> PAGE_SHIFT
    for i in range(roots.shape[0]):
        r = roots[i]
        if r[R_VALID] == 0 or r[R_KIND] == KIND_DIRECT:
            continue
        if one_asid and ((r[R_SATP] >> SATP_ASID_SHIFT) & SATP_ASID_MASK) != asid:
            continue
        if (r[R_SUPER] or shadow_has_leaf(mem, r[R_REAL_SATP], gva)
                or holds_superpage_piece(supers, i, page)):
            return True
    return False


@jit
def sfence(mem, rows, vdev, vctl, notlb, st, roots, supers, log, insn, now):
    """csr_emul.emulate_sfence when there is nothing to drop from the shadow tables (or
    under write-protect, where sfence drops nothing): H_SFENCE, or -1 (untouched)."""
    row = rows[st[S_ID]]
    rs1, rs2 = (insn >> 15) & 31, (insn >> 20) & 31
    gva, asid = row[L.XREG + rs1], row[L.XREG + rs2] & SATP_ASID_MASK
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


# === shadow fills of present guest mappings (ShadowPaging.handle_fault -> _fill) =============
@jit
def shadow_perms(pte, priv_s, sum_, mxr):
    """shadow_build.shadow_perms: the R/W/X a shadow leaf may carry for guest leaf ``pte``
    (no W before the guest's D is set, so the first store still exits to set it)."""
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


@jit(inline="always")
def empty_shadow_slot(mem, real_satp, gva):
    """Host address of the level-0 shadow PTE for ``gva`` if its tables exist and it is
    empty; -1 otherwise (new table frames, or replacing a leaf: Python's work)."""
    table = (real_satp & PPN_MASK) << PAGE_SHIFT
    va = gva & VA_BITS
    for level in range(2, 0, -1):
        pte = read_hpa64(mem, table + pte_index(va, level))
        if pte == -1 or pte & PTE_V == 0:
            return -1
        table = pte_table(pte)
    slot = table + pte_index(va, 0)
    return slot if read_hpa64(mem, slot) == 0 else -1


@jit
def access_of(cause):
    """The access a page-fault cause was for (-1: not a page fault)."""
    if cause == L.CAUSE_FETCH_PAGE:
        return ACC_FETCH
    if cause == L.CAUSE_LOAD_PAGE:
        return ACC_LOAD
    if cause == L.CAUSE_STORE_PAGE:
        return ACC_STORE
    return -1


@jit(inline="always")
def guest_mapping(mem, page_map, vctl, r, gva, access):
    """What the guest maps at ``gva`` for the tree ``r``: (ok, gpa, leaf PTE's gpa, the
    A/D-updated PTE or -1 if unchanged, shadow perms, leaf level)."""
    if r[R_KIND] == KIND_DIRECT:
        return True, gva, 0, -1, PTE_R | PTE_W | PTE_X, 0
    if r[R_KIND] != KIND_SV39:
        return False, 0, 0, -1, 0, 0
    priv_s, sum_, mxr = r[R_PRIV] != 0, r[R_SUM] != 0, r[R_MXR] != 0
    ok, gpa, pte_gpa, pte = guest_walk(mem, page_map, vctl, r[R_SATP], gva, access, priv_s,
                                       sum_, mxr)
    if not ok:
        return False, 0, 0, -1, 0, 0
    updated = pte | PTE_A | (PTE_D if access == ACC_STORE else 0)
    new = updated if updated != pte else -1
    perms = shadow_perms(updated, priv_s, sum_, mxr)
    return True, gpa, pte_gpa, new, perms, leaf_level(mem, page_map, vctl, r[R_SATP], gva)


@jit
def translated_perms(bt_pages, page, access, perms):
    """TranslatingShadow._place: X only through the translator's scan (a fetch fault, which
    is Python's), no W on a scanned page (a store there is Python's too); -1: Python."""
    scanned = 0 <= page < bt_pages.size and bt_pages[page] != 0
    if access == ACC_FETCH or (scanned and access == ACC_STORE):
        return -1
    return perms & ~PTE_W if scanned else perms & ~PTE_X


@jit(inline="always")
def fill(mem, page_map, vctl, st, roots, fills, bt_pages, cause, gva, pc, row, log, now):
    """A fault on a page the guest maps (or, without paging, on guest RAM) whose shadow leaf
    can go into existing tables: install it; the cost, or -1 (nothing touched)."""
    slot, access = st[S_ROOT], access_of(cause)
    if st[S_WRITE_PROTECT] or st[S_TABLE_ROOM] < 2 or slot < 0 or access < 0:
        return -1                   # (too few table frames left: Python recycles first)
    r = roots[slot]
    ok, gpa, pte_gpa, new, perms, level = guest_mapping(mem, page_map, vctl, r, gva, access)
    off = gpa - vctl[L.C_RAM_BASE]
    if not ok or off < 0 or off >= vctl[L.C_RAM_SIZE] or page_map[off >> PAGE_SHIFT] < 0:
        return -1                                   # not RAM, or a page to back: Python
    if st[S_TRANSLATED]:
        perms = translated_perms(bt_pages, off >> PAGE_SHIFT, access, perms)
        if perms < 0:
            return -1
    entry = page_map[off >> PAGE_SHIFT]
    if entry & READ_ONLY:           # a shared frame: mapped without W; a store breaks the
        if access == ACC_STORE:     # share, which is the memory manager's (Python)
            return -1
        perms &= ~PTE_W
    if new != -1 and not writable_ram(page_map, vctl, pte_gpa):
        return -1
    shadow_slot = empty_shadow_slot(mem, r[R_REAL_SATP], gva)
    if shadow_slot < 0:
        return -1
    if new != -1:                                   # the walk sets A (and D), as hardware
        set_guest64(mem, page_map, vctl, pte_gpa, new)
        st[S_AD_UPDATES] += 1
    page_map[off >> PAGE_SHIFT] = entry | ACCESSED  # the clock pager's reference bit
    hpa_page = (entry & ~PAGE_FLAGS) >> PAGE_SHIFT
    write_hpa64(mem, shadow_slot,
                hpa_page << PTE_PPN_SHIFT | PTE_V | perms | PTE_U | PTE_A | PTE_D)
    log_fill(fills, st, r, gva, gpa, hpa_page, perms, level, shadow_slot, mem, page_map, vctl)
    if level:
        roots[slot, R_SUPER] = 1        # (until Python has indexed the piece: catch_up_fills)
    record(log, st, SHADOW, now, FILL_EVENT, row[L.PC], gpa >> PAGE_SHIFT,
           (gva & VA_BITS) & ~PAGE_MASK, H_SHADOW_FILL, 0)
    return st[COST_BASE + K_SWITCH] + st[COST_BASE + K_FILL]


@jit(inline="always")
def log_fill(fills, st, r, gva, gpa, hpa_page, perms, level, shadow_slot, mem, page_map, vctl):
    """What Python needs to index the new leaf (shadow._remember): the guest PTEs read, and
    the shadow PTE's address (so that it need not walk the tree again to find it)."""
    f = fills[st[S_FILLS]]
    f[F_TAG], f[F_GVA_PAGE], f[F_SLOT] = r[R_TAG], (gva & VA_BITS) >> PAGE_SHIFT, shadow_slot
    f[F_GPA_PAGE], f[F_HPA_PAGE] = gpa >> PAGE_SHIFT, hpa_page
    f[F_PERMS], f[F_LEVEL], f[F_NPTES] = perms, level, 0
    if r[R_KIND] == KIND_SV39:
        table = (r[R_SATP] & PPN_MASK) << PAGE_SHIFT
        for lv in range(2, level - 1, -1):
            pte_gpa = table + pte_index(gva, lv)
            f[F_PTE0 + f[F_NPTES]] = pte_gpa
            f[F_NPTES] += 1
            table = pte_table(guest_bytes(mem, page_map, vctl, pte_gpa, 8))
    st[S_FILLS] += 1
