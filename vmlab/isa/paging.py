"""Sv39's architectural numbers: the page-table entry's flag bits, page and table sizes, satp modes.

The reference walker (``vmlab.sv39``), the machine's MMU and the hypervisor's shadow pager all
read these; nothing else writes them (privileged spec, "Sv39: Page-Based 39-bit Virtual-Memory
System").  satp's fields themselves live with the other CSRs in ``csrs.py``.
"""
from __future__ import annotations

from vmlab.isa.csrs import field_mask, field_shift

#: the eight flag bits at the bottom of every PTE, in bit order
FLAG_NAMES = "VRWXUGAD"
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << i for i in range(len(FLAG_NAMES)))
#: the PPN field of a PTE: 44 bits from bit 10 (satp's PPN field has the same width)
PTE_PPN_SHIFT, PPN_BITS = 10, 44
PPN_MASK = (1 << PPN_BITS) - 1

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
#: three levels of 512-entry tables, each indexed by 9 bits of the virtual address
LEVELS, VPN_BITS = 3, 9

#: satp.MODE values this machine knows: no translation, and Sv39
SATP_MODE_SHIFT = field_shift("satp", "MODE")
#: satp.ASID: its position, and its width as a mask once shifted down
SATP_ASID_SHIFT = field_shift("satp", "ASID")
SATP_ASID_MASK = field_mask("satp", "ASID") >> SATP_ASID_SHIFT
#: satp.PPN: the root table's physical page number
SATP_PPN_MASK = field_mask("satp", "PPN")
assert SATP_PPN_MASK == PPN_MASK
SATP_MODE_BARE, SATP_MODE_SV39 = 0, 8

# --- the hypervisor extension's G-stage: Sv39x4 (hgatp) --------------------------------------
# A guest-physical address has 41 bits: Sv39's 39 plus two more, which index a root table four
# times as large (2048 entries, 16 KiB, 16 KiB aligned).  Below the root, the tables are Sv39's.
HGATP_MODE_SHIFT = field_shift("hgatp", "MODE")
HGATP_VMID_SHIFT = field_shift("hgatp", "VMID")
HGATP_VMID_MASK = field_mask("hgatp", "VMID") >> HGATP_VMID_SHIFT
HGATP_PPN_MASK = field_mask("hgatp", "PPN")
HGATP_MODE_BARE, HGATP_MODE_SV39X4 = 0, 8
GPA_BITS = 41
#: the root table's index has 11 bits (9 + 2) in Sv39x4
GSTAGE_ROOT_INDEX_BITS = VPN_BITS + 2
