"""Every exception cause, interrupts of every kind, delegation to S-mode, wfi, xRET."""
from __future__ import annotations

import pytest

from machine_asm import run_asm
from test_csrs import lower

PC_OF = "1:  auipc s7, 0\n"   # s7 = address of the instruction that follows (the faulting one)


def trap_of(body: str):
    m, syms = run_asm(body)
    return m.reg("s10"), m.reg("s11"), m.reg("s9"), m.reg("gp"), m


def test_fetch_access_fault():
    cause, tval, epc, n, _ = trap_of("li t0, 0x1000\n jalr ra, 0(t0)")
    assert (cause, tval, epc, n) == (1, 0x1000, 0x1000, 1)


@pytest.mark.parametrize("bits,size", [(0x0000, 2),           # all zeros: defined illegal
                                       (0xFFFFFFFF, 4),       # all ones
                                       (0x02208053, 4),       # fadd.d f0, f1, f2 (no D)
                                       (0x00053007, 4),       # fld f0, 0(a0)
                                       (0x2002, 2),           # c.fldsp (no D)
                                       (0x30200073 | (1 << 7), 4)])  # mret with rd != 0
def test_illegal_instruction_reports_its_bits(bits, size):
    word = f".half {bits:#x}" if size == 2 else f".word {bits:#x}"
    cause, tval, epc, n, m = trap_of(f"la s7, 1f\n1: {word}")
    assert (cause, tval, n) == (2, bits, 1)
    assert epc == m.reg("s7")


def test_breakpoint_and_compressed_breakpoint():
    cause, tval, epc, n, m = trap_of("la s7, 1f\n1: ebreak")
    assert (cause, tval, epc) == (3, m.reg("s7"), m.reg("s7"))
    cause, tval, epc, n, m = trap_of("la s7, 1f\n1: c.ebreak")
    assert (cause, epc) == (3, m.reg("s7"))


def test_misaligned_loads_and_stores_are_emulated():
    m, syms = run_asm("""
        la t0, data
        li t1, 0x1122334455667788
        sd t1, 3(t0)
        ld a0, 3(t0)
        lw a1, 5(t0)
        lhu a2, 2(t0)
    """, extra=".balign 8\ndata: .zero 32")
    assert m.reg("gp") == 0
    assert m.reg("a0") == 0x1122334455667788
    assert m.reg("a1") == 0x33445566
    assert m.reg("a2") == 0x8800


def test_misaligned_atomics_trap():
    cause, tval, epc, n, m = trap_of("li t0, 0x80100002\n lr.d a0, (t0)")
    assert (cause, tval) == (4, m.reg("t0"))
    cause, tval, epc, n, m = trap_of("li t0, 0x80100001\n amoadd.w a0, a1, (t0)")
    assert (cause, tval) == (6, m.reg("t0"))


@pytest.mark.parametrize("insn,cause", [("ld a0, 0(t0)", 5), ("sd a0, 0(t0)", 7),
                                        ("amoswap.d a0, a1, (t0)", 7), ("lr.w a0, (t0)", 5)])
def test_access_faults(insn, cause):
    got, tval, *_ = trap_of(f"li t0, 0x40000000\n {insn}")
    assert (got, tval) == (cause, 0x40000000)


def test_ecall_from_each_mode():
    m, _ = run_asm("ecall\n mv a0, s10\n mv a1, s8\n"
                   + lower("nop") + "mv a2, s10\n mv a3, s8\n"
                   + lower("nop", "U") + "mv a4, s10\n mv a5, s8\n")
    assert [m.reg(r) for r in ("a0", "a1", "a2", "a3", "a4", "a5")] == [11, 3, 9, 1, 8, 0]


def test_delegated_exception_goes_to_s_mode():
    m, _ = run_asm("""
        la t0, s_trap
        csrw stvec, t0
        li t0, 1 << 8              # delegate ecall from U
        csrw medeleg, t0
        la t0, u_code
        csrw mepc, t0
        li t0, 0x1800
        csrc mstatus, t0           # MPP = U
        mret
    u_code:
        ecall                      # -> S-mode handler
        .balign 4
    s_trap:
        csrr a0, scause
        csrr a1, sepc
        csrr a2, sstatus
        li a3, 1
        ecall                      # from S, not delegated -> M
    """)
    assert m.reg("a0") == 8 and m.reg("a3") == 1
    assert m.reg("a2") & (1 << 8) == 0          # SPP = U
    assert m.reg("s10") == 9                    # the S-mode ecall went to M


def test_mret_sret_restore_enables_and_privilege():
    m, _ = run_asm("""
        li t0, (1 << 7)            # MPIE = 1, MIE = 0, MPP = U
        csrw mstatus, t0
        la t0, 1f
        csrw mepc, t0
        mret
    1:  ecall
        csrr a0, mstatus
    """)
    # after mret: MIE = old MPIE (1), MPIE = 1, MPP = U; the ecall then trapped to M
    assert m.reg("s8") == 0          # came from U
    assert m.reg("a0") >> 7 & 1 == 1  # MPIE saved the (set) MIE at the ecall


def test_sret_is_illegal_in_u_and_with_tsr():
    m, _ = run_asm(lower("li s10, 0\n sret\n mv a0, s10", "U") + """
        li t0, 1 << 22
        csrs mstatus, t0
    """ + lower("li s10, 0\n sret\n mv a1, s10"))
    assert m.reg("a0") == 2 and m.reg("a1") == 2


def test_wfi_is_illegal_in_u_and_in_s_with_tw():
    m, _ = run_asm(lower("li s10, 0\n wfi\n mv a0, s10", "U") + """
        li t0, 1 << 21
        csrs mstatus, t0
    """ + lower("li s10, 0\n wfi\n mv a1, s10"))
    assert m.reg("a0") == 2 and m.reg("a1") == 2


CLINT_MTIMECMP = 0x2004000
CLINT_MSIP = 0x2000000
CLINT_MTIME = 0x200BFF8


def test_machine_timer_interrupt_wakes_wfi_and_is_taken_at_deadline():
    m, _ = run_asm(f"""
        li t0, {CLINT_MTIME:#x}
        ld s2, 0(t0)
        li t1, {CLINT_MTIMECMP:#x}
        addi t2, s2, 500           # 50 us from now
        sd t2, 0(t1)
        li t0, 0x80
        csrs mie, t0               # MTIE
        csrsi mstatus, 8           # MIE
        wfi
        li t0, {CLINT_MTIME:#x}
        ld s3, 0(t0)
        li t1, {CLINT_MTIMECMP:#x}
        li t2, -1
        sd t2, 0(t1)
    """)
    assert m.reg("gp") == 1 and m.reg("s10") == (1 << 63) | 7
    assert 500 <= m.reg("s3") - m.reg("s2") <= 510
    assert m.counters["idle_ns"] > 0


def test_software_interrupt_through_clint_msip():
    m, _ = run_asm(f"""
        li t0, 8
        csrs mie, t0               # MSIE
        csrsi mstatus, 8
        li t1, {CLINT_MSIP:#x}
        li t2, 1
        sw t2, 0(t1)
        nop
        sw zero, 0(t1)
        csrr a0, mip
    """)
    assert m.reg("s10") == (1 << 63) | 3 and m.reg("gp") >= 1
    assert m.reg("a0") & 8 == 0


def test_vectored_mtvec():
    m, _ = run_asm(f"""
        la t0, vec
        ori t0, t0, 1
        csrw mtvec, t0
        li t0, 8
        csrs mie, t0
        csrsi mstatus, 8
        li t1, {CLINT_MSIP:#x}
        li t2, 1
        sw t2, 0(t1)
        nop
        j pass
        .balign 256
        .option push
        .option norvc               # each vector entry is one 4-byte jump
    vec:
        j bad                       # 0: exceptions
        j bad
        j bad
        j msi                       # 3: machine software interrupt
        .option pop
    bad:
        li a0, 99
        j pass
    msi:
        li a0, 3
        li t1, {CLINT_MSIP:#x}
        sw zero, 0(t1)
        j pass
    """)
    assert m.reg("a0") == 3


def test_supervisor_interrupts_delegated_and_masked_by_privilege():
    """SSIP delegated: taken in S-mode by stvec; in M-mode it waits (M never takes S ints)."""
    m, _ = run_asm("""
        la t0, s_trap
        csrw stvec, t0
        li t0, 0x222
        csrw mideleg, t0
        li t0, 0x2
        csrs mie, t0                # SSIE
        csrs mip, t0                # SSIP pending, but we are in M: not taken
        li a0, 0
        nop
        mv a1, a0
    """ + lower("""
        csrsi sstatus, 2            # SIE: the pending SSIP is taken now
        nop
        nop
    """) + """
        j pass
        .balign 4
    s_trap:
        csrr a0, scause
        li t0, 2
        csrc sip, t0
        sret
    """)
    assert m.reg("a1") == 0
    assert m.reg("a0") == (1 << 63) | 1


def test_s_mode_timer_via_stip_set_by_m_mode():
    """M-mode raises STIP (as OpenSBI does for SBI set_timer); S takes it once SIE is on."""
    m, _ = run_asm("""
        la t0, s_trap
        csrw stvec, t0
        li t0, 0x20
        csrw mideleg, t0
        csrs mie, t0                # STIE
        csrs mip, t0                # STIP
        li a0, 0
    """ + lower("""
        nop
        csrsi sstatus, 2
        nop
    """) + """
        j pass
        .balign 4
    s_trap:
        csrr a0, scause
        csrr a1, sepc
        ecall
        j pass
    """)
    assert m.reg("a0") == (1 << 63) | 5


def test_machine_interrupts_preempt_s_mode_even_with_sie_clear():
    m, _ = run_asm(f"""
        li t0, 8
        csrs mie, t0                # MSIE (not delegated); MIE = 0 but we go to S
        li t1, {CLINT_MSIP:#x}
        li t2, 1
        sw t2, 0(t1)
    """ + lower("""
        nop
        nop
    """) + f"""
        li t1, {CLINT_MSIP:#x}
        sw zero, 0(t1)
    """)
    assert m.reg("s10") in ((1 << 63) | 3, 9)
    assert m.counters["interrupts"].get("machine_software", 0) >= 1


def test_external_interrupt_from_uart_through_plic_to_s_mode():
    """UART RX -> PLIC source 10 -> context 1 (hart 0, S) -> SEIP delegated -> claim/complete."""
    from machine_asm import HARNESS, machine_for
    plic = 0x0C000000
    body = f"""
        la t0, s_trap
        csrw stvec, t0
        li t0, 0x200
        csrw mideleg, t0
        csrs mie, t0
        li t0, {plic + 4 * 10:#x}
        li t1, 1
        sw t1, 0(t0)
        li t0, {plic + 0x2080:#x}
        li t1, 1 << 10
        sw t1, 0(t0)
        li t0, 0x10000001
        li t1, 1
        sb t1, 0(t0)
        li a0, 0
    """ + lower("""
        csrsi sstatus, 2
    2:  beqz a0, 2b
    """)
    extra = """
        .balign 4
    s_trap:
        li t0, 0x0C201004
        lw a0, 0(t0)
        li t1, 0x10000000
        lbu a1, 0(t1)
        sw a0, 0(t0)
        csrr a2, scause
        sret
    """
    m, _ = machine_for(HARNESS.format(body=body, extra=extra))
    r = m.run(instructions=10_000)
    assert r.reason == "budget"
    m.send_input("x")
    r = m.run(instructions=100_000)
    assert r.reason == "halt"
    assert m.reg("a0") == 10 and m.reg("a1") == ord("x")
    assert m.reg("a2") == (1 << 63) | 9
