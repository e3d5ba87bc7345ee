"""Every CSR the machine implements: reset values, WARL masks, views, access rules."""
from __future__ import annotations

import pytest

from machine_asm import U64, run_asm

MSTATUS_WRITABLE = 0x7E79AA | (3 << 38)  # SIE MIE SPIE MPIE SPP MPP FS MPRV SUM MXR TVM TW TSR, GVA MPV
FS = 3 << 13
SD = 1 << 63                  # read-only: FS is Dirty
UXL_SXL = (2 << 32) | (2 << 34)


def test_misa_reports_rv64imafdchsu():
    m, _ = run_asm("csrr a0, misa\n li t0, -1\n csrw misa, t0\n csrr a1, misa")
    exts = {chr(ord("A") + i) for i in range(26) if m.reg("a0") >> i & 1}
    assert exts == set("ACDFHIMSU")
    assert m.reg("a0") >> 62 == 2 and m.reg("a1") == m.reg("a0")


def test_mstatus_warl():
    m, _ = run_asm("""
        li t0, -1
        csrw mstatus, t0
        csrr a0, mstatus
        li t0, 0x800           # MPP 3 -> 2 (reserved): keeps the old MPP (3)
        csrc mstatus, t0
        csrr a1, mstatus
        csrw mstatus, zero
        li t0, 0x1000
        csrs mstatus, t0
        csrr a2, mstatus       # MPP was 0, 2 is illegal: stays 0
        csrr a3, sstatus
    """)
    assert m.reg("a0") == MSTATUS_WRITABLE | UXL_SXL | SD
    assert (m.reg("a1") >> 11) & 3 == 3
    assert (m.reg("a2") >> 11) & 3 == 0
    assert m.reg("a3") == (2 << 32)          # UXL only; FS (written 0), XS, SD zero


def test_sstatus_is_a_view_of_mstatus():
    m, _ = run_asm("""
        csrw mstatus, zero
        li t0, -1
        csrw sstatus, t0
        csrr a0, mstatus
        csrr a1, sstatus
    """)
    s_bits = (1 << 1) | (1 << 5) | (1 << 8) | (1 << 18) | (1 << 19)
    assert m.reg("a0") == s_bits | FS | SD | UXL_SXL
    assert m.reg("a1") == s_bits | FS | SD | (2 << 32)


def test_delegation_and_interrupt_enable_masks():
    m, _ = run_asm("""
        li t0, -1
        csrw medeleg, t0
        csrr a0, medeleg
        csrw mideleg, t0
        csrr a1, mideleg
        csrw mie, t0
        csrr a2, mie
        csrr a3, sie
        csrw mideleg, zero
        csrr a4, sie
        li t0, 0x20
        csrw mideleg, t0        # only STIP delegated: sie shows STIE only
        csrr a5, sie
    """)
    assert m.reg("a0") == 0xF0B7FF            # with H: ecall from VS, the guest faults 20-23
    assert m.reg("a1") == 0x222 | 0x444       # with H: the VS interrupts, read-only one
    assert m.reg("a2") == 0xAAA | 0x444
    assert m.reg("a3") == 0x222
    assert m.reg("a4") == 0
    assert m.reg("a5") == 0x20


def test_mip_sip_writable_bits():
    m, _ = run_asm("""
        li t0, -1
        csrw mip, t0
        csrr a0, mip
        csrw mip, zero
        li t0, 0x222
        csrw mideleg, t0
        li t0, -1
        csrw sip, t0
        csrr a1, sip
        csrr a2, mip
    """)
    assert m.reg("a0") == 0x222 | 0x4         # SSIP STIP SEIP (and H's VSSIP); M bits from devices
    assert m.reg("a1") == 0x2                 # only SSIP through sip
    assert m.reg("a2") == 0x2


@pytest.mark.parametrize("csr", ["mtvec", "stvec"])
def test_tvec_modes(csr):
    m, _ = run_asm(f"""
        csrr s2, {csr}
        li t0, 0x80001001
        csrw {csr}, t0
        csrr a0, {csr}
        li t0, 0x80002002      # mode 2 is reserved: the mode stays 1
        csrw {csr}, t0
        csrr a1, {csr}
        csrw {csr}, s2
    """)
    assert m.reg("a0") == 0x80001001
    assert m.reg("a1") == 0x80002001


def test_epc_scratch_cause_tval_are_read_write():
    body = []
    for i, csr in enumerate(["mepc", "sepc", "mscratch", "sscratch", "mcause", "scause",
                             "mtval", "stval"]):
        body.append(f"li t0, 0x123456789abcdef\n csrw {csr}, t0\n csrr s{i + 2}, {csr}")
    m, _ = run_asm("\n".join(body))
    assert m.reg("s2") == 0x123456789abcdee and m.reg("s3") == 0x123456789abcdee  # IALIGN=16
    for i in range(4, 10):
        assert m.reg(f"s{i}") == 0x123456789abcdef


def test_satp_accepts_bare_and_sv39_only():
    m, _ = run_asm("""
        li t0, 0x8000000000080123
        csrw satp, t0
        csrr a0, satp
        li t0, 0x9000000000000456   # Sv48: not supported, the write is ignored
        csrw satp, t0
        csrr a1, satp
        csrw satp, zero
        csrr a2, satp
    """)
    assert m.reg("a0") == 0x8000000000080123
    assert m.reg("a1") == 0x8000000000080123
    assert m.reg("a2") == 0


def test_envcfg_and_counteren_masks():
    m, _ = run_asm("""
        li t0, -1
        csrw menvcfg, t0
        csrr a0, menvcfg
        csrw senvcfg, t0
        csrr a1, senvcfg
        csrw mcounteren, t0
        csrr a2, mcounteren
        csrw scounteren, t0
        csrr a3, scounteren
    """)
    assert m.reg("a0") == (1 << 63) | 1
    assert m.reg("a1") == 1
    assert m.reg("a2") == 7 and m.reg("a3") == 7


def test_machine_information_registers_are_read_only():
    m, _ = run_asm("""
        csrr a0, mhartid
        csrr a1, mvendorid
        csrr a2, marchid
        csrr a3, mimpid
        csrr a4, mconfigptr
        csrw mhartid, zero        # read-only: illegal instruction
        mv a5, s10
        mv a6, s11
    """)
    assert [m.reg(f"a{i}") for i in range(5)] == [0, 0, 0, 0, 0]
    assert m.reg("a5") == 2
    assert m.reg("a6") == 0xF1401073        # mtval holds the instruction bits


def test_mhartid_per_hart():
    m, _ = run_asm("csrr a0, mhartid", harts=2)
    assert m.harts[1].reg("a0") in (0, 1)


def test_counters_count_and_are_writable():
    m, _ = run_asm("""
        csrr a0, minstret
        nop
        nop
        csrr a1, minstret
        csrr a2, instret
        csrr a3, mcycle
        csrr a4, cycle
        csrr a5, time
        li t0, 1000
        csrw minstret, t0
        csrr a6, minstret
    """)
    assert m.reg("a1") - m.reg("a0") == 3
    assert m.reg("a2") == m.reg("a1") + 1
    assert m.reg("a4") >= m.reg("a3")
    assert m.reg("a6") == 1000                # the csrw's own increment is suppressed


def test_pmp_registers_are_warl_storage():
    m, _ = run_asm("""
        li t0, -1
        csrw pmpaddr0, t0
        csrr a0, pmpaddr0
        csrw pmpaddr63, t0
        csrr a1, pmpaddr63
        csrw pmpcfg0, t0
        csrr a2, pmpcfg0
        csrw pmpcfg14, t0
        csrr a3, pmpcfg14
        csrr a4, pmpcfg1          # odd pmpcfg registers do not exist on RV64
        mv a5, s10
    """)
    assert m.reg("a0") == (1 << 54) - 1 and m.reg("a1") == (1 << 54) - 1
    assert m.reg("a2") == 0x9F9F9F9F9F9F9F9F and m.reg("a3") == 0x9F9F9F9F9F9F9F9F
    assert m.reg("a5") == 2


@pytest.mark.parametrize("word", [0x00302573,   # csrr a0, fcsr (FS is Off at reset)
                                  0x7C002573,   # csrr a0, 0x7c0 (custom, absent)
                                  0xB0302573,   # csrr a0, mhpmcounter3 (absent)
                                  0xC0302573])  # csrr a0, hpmcounter3 (absent)
def test_unimplemented_csrs_trap_precisely(word):
    m, _ = run_asm(f"""
        li a0, 77
        .word {word:#x}
        mv a1, s10
        mv a2, s11
    """)
    assert m.reg("a0") == 77                 # rd not written
    assert m.reg("a1") == 2 and m.reg("a2") == word


SMODE = """
    la t0, s_code{n}
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0
    li t0, {mpp}
    csrs mstatus, t0
    mret
s_code{n}:
{code}
    ecall                       # back to M (cause 8 or 9), then on to pass
"""


_labels = iter(range(1_000_000))


def lower(code: str, mode: str = "S") -> str:
    """Run ``code`` in S- or U-mode, then come back to M-mode with an ecall."""
    return SMODE.format(mpp=0x800 if mode == "S" else 0, code=code, n=next(_labels))


def test_counter_access_from_s_and_u_follows_counteren():
    body = """
        csrw mcounteren, zero
        csrw scounteren, zero
    """ + lower("""
        li s10, 0
        rdtime a0                   # mcounteren.TM = 0: illegal in S
        mv a1, s10
    """) + """
        li t0, 7
        csrw mcounteren, t0
    """ + lower("""
        li s10, 0
        rdtime a2                   # allowed now
        mv a3, s10
    """) + lower("""
        li s10, 0
        rdcycle a4                  # U: scounteren.CY = 0 -> illegal
        mv a5, s10
    """, "U")
    m, _ = run_asm(body)
    assert m.reg("a1") == 2 and m.reg("a3") == 0 and m.reg("a5") == 2


def test_s_mode_cannot_touch_m_csrs_and_satp_under_tvm():
    body = lower("""
        li s10, 0
        csrr a0, mstatus
        mv a1, s10
        li s10, 0
        csrr a2, satp
        mv a3, s10
    """) + """
        li t0, 0x100000             # TVM
        csrs mstatus, t0
    """ + lower("""
        li s10, 0
        csrr a4, satp
        mv a5, s10
        li s10, 0
        sfence.vma
        mv a6, s10
    """)
    m, _ = run_asm(body)
    assert m.reg("a1") == 2 and m.reg("a3") == 0
    assert m.reg("a5") == 2 and m.reg("a6") == 2


def test_stimecmp_needs_stce_and_drives_stip():
    body = """
        li t0, 2
        csrw mcounteren, t0
    """ + lower("""
        li s10, 0
        csrr a0, stimecmp           # STCE = 0: illegal in S
        mv a1, s10
    """) + """
        li t0, 1
        slli t0, t0, 63
        csrs menvcfg, t0
        csrw stimecmp, zero         # deadline in the past: STIP pending
        csrr a2, mip
        li t0, -1
        csrw stimecmp, t0
        csrr a3, mip
    """ + lower("""
        li s10, 0
        csrr a4, stimecmp
        mv a5, s10
    """)
    m, _ = run_asm(body)
    assert m.reg("a1") == 2
    assert m.reg("a2") & 0x20 and not m.reg("a3") & 0x20
    assert m.reg("a5") == 0 and m.reg("a4") == U64


def test_python_csr_access_by_name_and_number():
    m, _ = run_asm("li t0, 0x55\n csrw mscratch, t0")
    assert m.csr("mscratch") == 0x55 == m.csr(0x340)
    m.set_csr("mstatus", U64)
    assert m.csr("mstatus") == MSTATUS_WRITABLE | UXL_SXL | SD


def test_mcountinhibit_stops_cycle_and_instret():
    m, _ = run_asm("""
        li t0, -1
        csrw mcountinhibit, t0
        csrr a0, mcountinhibit
        csrr a1, minstret
        nop
        nop
        csrr a2, minstret
        csrw mcountinhibit, zero
        csrr a3, minstret
        csrr a4, minstret
    """)
    assert m.reg("a0") == 5                   # CY and IR
    assert m.reg("a2") == m.reg("a1")
    assert m.reg("a4") == m.reg("a3") + 1


def test_trigger_csrs_exist_without_triggers():
    """As riscv-tests' breakpoint test expects of a hart with no triggers: tselect reads 0,
    tdata1 reads back 0 (type 0, no trigger) whatever is written."""
    m, _ = run_asm("""
        csrw tselect, zero
        csrr a0, tselect
        li t0, (2 << 60) | (1 << 6) | (1 << 2)
        csrw tdata1, t0
        csrr a1, tdata1
        csrr a2, tinfo
        mv a3, gp
    """)
    assert (m.reg("a0"), m.reg("a1"), m.reg("a2"), m.reg("a3")) == (0, 0, 1, 0)


def test_written_counter_is_what_the_next_instruction_reads():
    m, _ = run_asm("""
        csrwi minstret, 0
        csrr a0, minstret
        li t0, 500
        csrw mcycle, t0
        csrr a1, mcycle
    """)
    assert (m.reg("a0"), m.reg("a1")) == (0, 500)
