"""The instructor's solutions to lab 09, correct and subtly wrong (for the grading tests)."""
from vmlab import sv39
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X


def shadow_perms(guest_pte, vpriv, sum, mxr, dirty):
    perms = 0
    for access, bit in (("load", PTE_R), ("store", PTE_W), ("fetch", PTE_X)):
        if sv39.permits(guest_pte, access, priv=vpriv, sum=sum, mxr=mxr):
            perms |= bit
    if not dirty or not perms & PTE_R:
        perms &= ~PTE_W
    return perms if guest_pte & PTE_A else 0


def perms_forgets_clean(guest_pte, vpriv, sum, mxr, dirty):
    """Subtly wrong: a clean page gets W (so D would never be set)."""
    return shadow_perms(guest_pte, vpriv, sum, mxr, True)


def perms_ignores_mxr(guest_pte, vpriv, sum, mxr, dirty):
    """Subtly wrong: forgets that MXR makes execute-only pages readable."""
    return shadow_perms(guest_pte, vpriv, sum, False, dirty)


def make_fill(perms=shadow_perms, superpage_offset=True, set_dirty=True):
    """A fill handler on ``perms``; the flags switch off one detail each (subtly wrong)."""
    def fill(req):
        table = sv39.satp_fields(req.satp)[2] << 12
        for level in (2, 1, 0):
            pte_gpa = table + 8 * sv39.vpn(req.gva, level)
            pte = req.read_guest64(pte_gpa)
            if pte is None:
                return req.guest_fault(ACCESS_FAULT[req.access])
            if not pte & PTE_V or (pte & PTE_W and not pte & PTE_R):
                return req.guest_fault(PAGE_FAULT[req.access])
            if pte & (PTE_R | PTE_W | PTE_X):
                break
            table = sv39.pte_ppn(pte) << 12
        else:
            return req.guest_fault(PAGE_FAULT[req.access])
        low = (1 << (9 * level)) - 1
        if not sv39.permits(pte, req.access, priv=req.priv, sum=req.sum, mxr=req.mxr) \
                or sv39.pte_ppn(pte) & low:
            return req.guest_fault(PAGE_FAULT[req.access])
        new = pte | PTE_A | (PTE_D if req.access == "store" and set_dirty else 0)
        req.write_guest64(pte_gpa, new)
        ppn = sv39.pte_ppn(pte) | ((req.gva >> 12) & low if superpage_offset else 0)
        hpa = req.hpa_of(ppn << 12)
        bits = perms(new, req.priv, req.sum, req.mxr, bool(new & PTE_D))
        req.write_shadow(sv39.make_pte(hpa, PTE_V | PTE_U | PTE_A | PTE_D | bits))
    return fill


PAGE_FAULT = {"fetch": sv39.FETCH_PAGE_FAULT, "load": sv39.LOAD_PAGE_FAULT,
              "store": sv39.STORE_PAGE_FAULT}
ACCESS_FAULT = {"fetch": sv39.FETCH_ACCESS_FAULT, "load": sv39.LOAD_ACCESS_FAULT,
                "store": sv39.STORE_ACCESS_FAULT}
fill = make_fill()
