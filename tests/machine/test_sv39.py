"""Sv39: 4 KiB pages and superpages, A/D updates, permission faults, SUM/MXR, sfence.vma.

Memory map of these tests (physical = virtual where identity-mapped)::

    0x8000_0000  code and harness      VA 0x8000_0000 -> identity, one 2 MiB S-mode page
    0x8010_0000  page tables           (inside the identity page, so S-mode can edit PTEs)
    0x8030_0000  data page P1          VA 0x4000_0000 + i*4K -> test pages, 4 KiB leaves
    0x8030_1000  data page P2
    VA 0xC000_0000 -> PA 0x8000_0000   one 1 GiB leaf (gigapage)
"""
from __future__ import annotations

import pytest

from machine_asm import HARNESS, machine_for

V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
ROOT, L1_CODE, L1_DATA, L0_DATA = 0x80100000, 0x80101000, 0x80102000, 0x80103000
P1, P2 = 0x80300000, 0x80301000
VA_DATA = 0x40000000


def pte(pa: int, flags: int) -> int:
    return ((pa >> 12) << 10) | flags


def table_ptr(pa: int) -> int:
    return pte(pa, V)


def setup_tables(m, data_flags=(V | R | W | A | D), data_pa=P1, extra=(), code_user=False):
    def put(addr, value):
        m.write_mem(addr, value.to_bytes(8, "little"))
    put(ROOT + 2 * 8, table_ptr(L1_CODE))
    put(L1_CODE + 0 * 8, pte(0x80000000, V | R | W | X | A | D | (U if code_user else 0)))
    put(ROOT + 1 * 8, table_ptr(L1_DATA))
    put(L1_DATA + 0 * 8, table_ptr(L0_DATA))
    put(L0_DATA + 0 * 8, pte(data_pa, data_flags))
    put(ROOT + 3 * 8, pte(0x80000000, V | R | W | A | D))              # 1 GiB gigapage
    for index, value in extra:
        put(L0_DATA + index * 8, value)


def read_pte(m, index=0, table=L0_DATA):
    return int.from_bytes(m.read_mem(table + 8 * index, 8), "little")


SATP = (8 << 60) | (ROOT >> 12)


def paged(code: str, mode: str = "S", asid: int = 0, mstatus_bits: int = 0) -> str:
    """Turn on Sv39 and run ``code`` in S (or U) mode; ``ecall`` returns to M.

    The last trap's mcause/mtval/mode before that ecall are left in s2/s3/s4.
    """
    mpp = 0x800 if mode == "S" else 0
    return f"""
        li t0, {SATP | (asid << 44):#x}
        csrw satp, t0
        sfence.vma
        li t0, {mstatus_bits:#x}
        csrs mstatus, t0
        la t0, 2f
        csrw mepc, t0
        li t0, 0x1800
        csrc mstatus, t0
        li t0, {mpp:#x}
        csrs mstatus, t0
        mret
    2:
{code}
        mv s2, s10                      # the last trap's cause, tval and mode, kept
        mv s3, s11                      # from being overwritten by the ecall below
        mv s4, s8
        ecall
        csrw satp, zero
    """


def run_paged(code, budget=100_000, **kw):
    tables = kw.pop("tables", {})
    m, syms = machine_for(HARNESS.format(body=paged(code, **kw), extra=""))
    setup_tables(m, **tables)
    m.write_mem(P1, (0x1111111111111111).to_bytes(8, "little"))
    m.write_mem(P2, (0x2222222222222222).to_bytes(8, "little"))
    r = m.run(instructions=budget)
    assert r.reason == "halt", r
    return m


def test_load_through_4k_page_sets_accessed_only():
    m = run_paged(f"li t1, {VA_DATA:#x}\n ld a0, 0(t1)",
                  tables={"data_flags": V | R | W})
    assert m.reg("a0") == 0x1111111111111111
    assert read_pte(m) & (A | D) == A


def test_store_sets_accessed_and_dirty():
    m = run_paged(f"li t1, {VA_DATA:#x}\n li t2, 5\n sd t2, 8(t1)",
                  tables={"data_flags": V | R | W})
    assert read_pte(m) & (A | D) == A | D
    assert int.from_bytes(m.read_mem(P1 + 8, 8), "little") == 5


def test_gigapage_and_megapage_translate():
    m = run_paged("""
        li t1, 0xC0300000
        ld a0, 0(t1)                # gigapage: VA 0xC030_0000 -> PA 0x8030_0000
        auipc a1, 0                 # running from the 2 MiB page
    """)
    assert m.reg("a0") == 0x1111111111111111
    assert 0x80000000 <= m.reg("a1") < 0x80200000
    assert m.counters["tlb_misses"] >= 2


@pytest.mark.parametrize("code,flags,cause", [
    ("ld a0, 0(t1)", 0, 13),                      # invalid PTE
    ("sd a0, 0(t1)", V | R | A | D, 15),          # read-only page
    ("ld a0, 0(t1)", V | W | A | D, 13),          # W without R is reserved
    ("ld a0, 0(t1)", V | R | U | A, 13),          # user page from S without SUM
    ("ld a0, 0(t1)", V | X | A, 13),              # execute-only without MXR
    ("jalr ra, 0(t1)", V | R | W | A | D, 12),    # no X
    ("lr.d a0, (t1)", 0, 13),
    ("amoadd.d a0, a1, (t1)", V | R | A, 15),
])
def test_permission_faults_report_cause_and_address(code, flags, cause):
    m = run_paged(f"li t1, {VA_DATA + 0x10:#x}\n {code}", tables={"data_flags": flags})
    assert m.reg("s2") == cause
    assert m.reg("s3") == VA_DATA + 0x10
    assert m.reg("s4") == 1                       # taken from S-mode


def test_sum_lets_s_mode_read_user_pages():
    m = run_paged(f"li t1, {VA_DATA:#x}\n ld a0, 0(t1)", mstatus_bits=1 << 18,
                  tables={"data_flags": V | R | U | A})
    assert m.reg("a0") == 0x1111111111111111 and m.reg("gp") == 1   # only the final ecall


def test_mxr_makes_execute_only_pages_readable():
    m = run_paged(f"li t1, {VA_DATA:#x}\n ld a0, 0(t1)", mstatus_bits=1 << 19,
                  tables={"data_flags": V | X | A})
    assert m.reg("a0") == 0x1111111111111111


def test_user_mode_cannot_touch_supervisor_pages():
    m = run_paged(f"li t1, {VA_DATA:#x}\n ld a0, 0(t1)", mode="U",
                  tables={"code_user": True})
    assert (m.reg("s2"), m.reg("s3"), m.reg("s4")) == (13, VA_DATA, 0)


def test_s_mode_cannot_execute_user_pages():
    m, _ = machine_for(HARNESS.format(body=paged("nop"), extra=""))
    setup_tables(m, code_user=True)
    m.run(instructions=1000)                      # faults forever: each retry faults again
    assert m.reg("s10") == 12 and m.reg("s8") == 1


def test_non_canonical_address_faults():
    m = run_paged("li t1, 0x0000004000000000\n ld a0, 0(t1)")
    assert m.reg("s2") == 13 and m.reg("s3") == 0x4000000000


def test_misaligned_superpage_faults():
    """A 2 MiB leaf whose PPN is not 2 MiB aligned is a page fault."""
    m, _ = machine_for(HARNESS.format(body=paged(f"li t1, {VA_DATA:#x}\n ld a0, 0(t1)"), extra=""))
    setup_tables(m)
    m.write_mem(L1_DATA, pte(0x80301000, V | R | A).to_bytes(8, "little"))
    assert m.run(instructions=100_000).reason == "halt"
    assert m.reg("s2") == 13 and m.reg("s3") == VA_DATA


def test_page_crossing_misaligned_load_faults_on_second_page():
    m = run_paged(f"li t1, {VA_DATA + 0xFFC:#x}\n ld a0, 0(t1)")   # page 2 is unmapped
    assert m.reg("s2") == 13 and m.reg("s3") == VA_DATA + 0x1000


def test_page_crossing_misaligned_load_joins_two_pages():
    m = run_paged(f"li t1, {VA_DATA + 0xFFC:#x}\n ld a0, 0(t1)",
                  tables={"extra": [(1, pte(P2, V | R | A))]})
    assert m.reg("a0") == 0x2222222200000000 and m.reg("gp") == 1


STALE = f"""
        li t1, {VA_DATA:#x}
        ld a0, 0(t1)                    # fills the TLB: P1
        li t2, {L0_DATA:#x}
        li t3, {pte(P2, V | R | W | A | D):#x}
        sd t3, 0(t2)                    # remap VA -> P2, no sfence yet
        ld a1, 0(t1)                    # still P1: the TLB is not coherent by itself
"""


def test_tlb_keeps_stale_entry_until_sfence_by_address():
    m = run_paged(STALE + f"""
        li t4, {VA_DATA + 0x5000:#x}
        sfence.vma t4, zero             # another page: no effect
        ld a2, 0(t1)
        sfence.vma t1, zero             # this page
        ld a3, 0(t1)
    """)
    one, two = 0x1111111111111111, 0x2222222222222222
    assert [m.reg(r) for r in ("a0", "a1", "a2", "a3")] == [one, one, one, two]


def test_sfence_by_asid_flushes_only_that_asid():
    m = run_paged(STALE + """
        li t4, 2
        sfence.vma zero, t4             # other ASID: no effect
        ld a2, 0(t1)
        li t4, 1
        sfence.vma zero, t4             # our ASID
        ld a3, 0(t1)
    """, asid=1)
    one, two = 0x1111111111111111, 0x2222222222222222
    assert [m.reg(r) for r in ("a0", "a1", "a2", "a3")] == [one, one, one, two]


def test_global_mappings_survive_an_asid_flush():
    m = run_paged(STALE + """
        li t4, 1
        sfence.vma zero, t4             # G entries are not flushed by ASID
        ld a2, 0(t1)
        sfence.vma                      # everything
        ld a3, 0(t1)
    """, asid=1, tables={"data_flags": V | R | W | A | D | G})
    one, two = 0x1111111111111111, 0x2222222222222222
    assert [m.reg(r) for r in ("a2", "a3")] == [one, two]


def test_asids_keep_separate_translations():
    """A satp write does not flush: entries are tagged with their ASID."""
    m = run_paged(STALE + f"""
        li t4, {SATP | (2 << 44):#x}
        csrw satp, t4                   # ASID 2: no entry yet, walks the new PTE
        ld a2, 0(t1)
        li t4, {SATP | (1 << 44):#x}
        csrw satp, t4                   # back to ASID 1
        ld a3, 0(t1)
    """, asid=1)
    two = 0x2222222222222222
    # ASID 2 missed and walked the new PTE; that refill took the VA's one direct-mapped slot,
    # so ASID 1 walks again too.
    assert [m.reg(r) for r in ("a2", "a3")] == [two, two]


def test_mprv_translates_m_mode_loads_with_mpp():
    body = f"""
        li t0, {SATP:#x}
        csrw satp, t0
        li t0, 0x1800
        csrc mstatus, t0
        li t0, 0x800 | (1 << 17)        # MPP = S, MPRV
        csrs mstatus, t0
        li t1, {VA_DATA:#x}
        ld a0, 0(t1)                    # translated as an S-mode load
        li t0, 1 << 17
        csrc mstatus, t0
        csrw satp, zero
    """
    m, _ = machine_for(HARNESS.format(body=body, extra=""))
    setup_tables(m)
    m.write_mem(P1, (0x1111111111111111).to_bytes(8, "little"))
    assert m.run(instructions=10_000).reason == "halt"
    assert m.reg("a0") == 0x1111111111111111
