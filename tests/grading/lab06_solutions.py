"""Instructor's solutions for lab 06, right and subtly wrong (the grading tests use them)."""
from vmlab.grading.lab06_run import TLB_SETS, G_LEAF, leaf, pointer
from vmlab.isa.paging import PTE_PPN_SHIFT, PTE_U, PTE_V


def two_stage_refs(vs_leaf_level, g_leaf_tables, g_leaf_data, loads, final_g=True,
                   tables_level=None, tlb=True):
    """Each VS table read is a G-stage walk of the tables' mapping, then one G-stage walk of
    the data's GPA; only loads the direct-mapped TLB misses walk."""
    g_tables = 3 - (g_leaf_tables if tables_level is None else tables_level)
    per_walk = (3 - vs_leaf_level) * (g_tables + 1) + ((3 - g_leaf_data) if final_g else 0)
    sets, walks = {}, 0
    for gva in loads:
        vpn = gva >> 12
        if not tlb or sets.get(vpn % TLB_SETS) != vpn:
            walks += 1
            sets[vpn % TLB_SETS] = vpn
    return walks * per_walk


def refs_no_final_g(*a):
    return two_stage_refs(*a, final_g=False)


def refs_one_g_level(v, gt, gd, loads):
    return two_stage_refs(v, gd, gd, loads)


def refs_no_tlb(*a):
    return two_stage_refs(*a, tlb=False)


def make_fill(shift=2, root_bits=11, flags=G_LEAF):
    def gfill(req):
        gpa = req.htval << shift
        hpa = req.hpa_of(gpa)
        if hpa is None:
            return False
        table = req.root
        for level, bits in ((2, root_bits), (1, 9)):
            index = (gpa >> (12 + 9 * level)) & ((1 << bits) - 1)
            pte = req.read_pte(table, index)
            if not pte & PTE_V:
                pte = pointer(req.new_table())
                req.write_pte(table, index, pte)
            table = (pte >> PTE_PPN_SHIFT) << 12
        req.write_pte(table, (gpa >> 12) & 0x1FF, leaf(hpa, flags))
        return True
    return gfill


gfill = make_fill()
