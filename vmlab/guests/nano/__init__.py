"""Nanobenchmark guests: Adams & Agesen's set, adapted to RISC-V, one tiny kernel each.

Every benchmark is the same small S-mode kernel with a different inner loop.  It runs

- **bare**, on the machine: ``_start`` is a minimal M-mode firmware (PMP open, traps
  delegated to S, counters and stimecmp allowed) that drops into ``s_start``; its M-mode
  trap handler is a tiny SBI (legacy putchar, TIME, SRST, and our MMU_UPDATE);
- **as a guest**, started in virtual S-mode at ``s_start`` with the hypervisor as its SBI.

``s_start`` turns on Sv39 (memory map below), then runs the benchmark's loop ``n`` times
and powers off through SBI SRST.  The loop counter is ``s0``; ``t0``/``t1`` belong to the
trap handler, which skips the trapping instruction (``sepc += 4``) -- enough for every
trap these loops take.  Measuring a loop of ``n`` and one of 0 and subtracting cancels
the boot and the set-up exactly::

    gva                          what                        guest PTE
    0x0000_0000 .. 0x3FFF_FFFF   devices (UART, CLINT, test)  1 GiB leaf, RW
    0x4000_0000                  the user page (u_code)       4 KiB, R X U
    0x4000_1000 .. 0x401F_F000   511 data pages at DATA_GPA   4 KiB each, RW
    0x5000_0000                  nothing: a load here faults   (no entry)
    0x8000_0000 .. 0xBFFF_FFFF   the kernel, identity         1 GiB leaf, RWX

Divide by zero does not trap on RISC-V (the quotient is all ones, the spec's answer, so
no exception handler is ever involved): the ``divzero`` row shows that; the fault
round trip is ``illegal``, an undefined instruction (custom-0 opcode) the kernel skips.
"""
from __future__ import annotations

from dataclasses import dataclass

#: the virt board's devices (as vmlab.machine.memmap has them: guests sit below the machine
#: layer, so they say the numbers again, and a test checks they agree)
TEST_BASE, CLINT_BASE, UART_BASE = 0x10_0000, 0x200_0000, 0x1000_0000

#: our SBI extension for batched page-table updates (in the firmware-specific EID range
#: 0x0A00_0000..0x0AFF_FFFF the SBI spec sets aside): a0 = gva of (pte address, value)
#: pairs, a1 = how many.  The firmware writes them and flushes the TLB.
EXT_MMU_UPDATE = 0x0A00_4D55
EXT_TIME, EXT_SRST, LEGACY_PUTCHAR = 0x54494D45, 0x53525354, 0x01
DONE = 0x444F4E45            # a7 of the user loop's last ecall: "back to the kernel"
USER_GVA, DATA_GVA, HOLE_GVA = 0x4000_0000, 0x4000_1000, 0x5000_0000
DATA_GPA = 0x8040_0000
DATA_PAGES = 511
MTIMECMP = CLINT_BASE + 0x4000
BATCH = 8                    # PTEs per round in the batched page-table benchmarks


@dataclass(frozen=True)
class Bench:
    """One nanobenchmark: ``body`` runs once per iteration (in U-mode if ``user``)."""

    name: str
    what: str
    body: str
    setup: str = ""
    user: bool = False
    group: str = "classic"      # "classic" (Adams & Agesen), "pv" (a paravirtual switch), "tlb"


def _ptemod_batch(hypercall: bool) -> str:
    """Change BATCH PTEs, then touch their pages: by stores + one sfence, or one hypercall."""
    update = ("sd t3, 0(a2)" if not hypercall
              else "sd a2, 0(a3)\n    sd t3, 8(a3)\n    addi a3, a3, 16")
    flush = ("sfence.vma zero, zero" if not hypercall else
             f"la a0, hcall_buf\n    li a1, {BATCH}\n    li a7, {EXT_MMU_UPDATE}\n    li a6, 0\n"
             "    ecall\n    li a7, 0")
    return f"""
    li a4, {BATCH}
    mv a2, s6
    la a3, hcall_buf
3:  ld t3, 0(a2)
    xor t3, t3, s8
    {update}
    addi a2, a2, 8
    addi a4, a4, -1
    bnez a4, 3b
    {flush}
    li a4, {BATCH}
    mv a5, s7
4:  ld t2, 0(a5)
    add a5, a5, s2
    addi a4, a4, -1
    bnez a4, 4b"""


#: touch the pages once before the loop, so every iteration sees the same steady state
_TOUCH_BATCH = f"""
    li a4, {BATCH}
    mv a5, s7
6:  ld t2, 0(a5)
    add a5, a5, s2
    addi a4, a4, -1
    bnez a4, 6b"""

BENCHES = {b.name: b for b in (
    Bench("syscall", "ecall from U to the kernel and sret back", "ecall", user=True),
    Bench("mmio", "load a UART register (LSR)", "lbu t2, 5(s3)"),
    Bench("csrwr", "write sie (the interrupt mask: x86's cr8wr)", "csrw sie, zero"),
    Bench("callret", "call a leaf function and return", "call leaf"),
    Bench("pgfault", "load from an unmapped page; the kernel skips it", "ld t2, 0(s4)"),
    Bench("divzero", "divide by zero (RISC-V does not trap: all ones)", "div t2, s5, zero"),
    Bench("illegal", "undefined instruction; the kernel skips it", ".4byte 0x0000000b"),
    Bench("ptemod", "change a PTE, sfence.vma that page, touch it",
          "xor t3, t3, s8\n    sd t3, 0(s6)\n    sfence.vma s7, zero\n    ld t2, 0(s7)",
          setup="ld t3, 0(s6)\n    ld t2, 0(s7)"),     # steady state: tables known
    Bench("console-uart", "one byte to the console: store to the 16550's THR",
          "sb s9, 0(s3)", group="pv"),
    Bench("console-sbi", "one byte to the console: SBI putchar",
          f"li a7, {LEGACY_PUTCHAR}\n    mv a0, s9\n    ecall\n    li a7, 0", group="pv"),
    Bench("timer-clint", "arm the timer: store to the CLINT's mtimecmp", "sd s10, 0(s11)",
          group="pv"),
    Bench("timer-sstc", "arm the timer: write stimecmp (Sstc)", "csrw stimecmp, s10",
          group="pv"),
    Bench("timer-sbi", "arm the timer: SBI set_timer",
          f"li a7, {EXT_TIME}\n    li a6, 0\n    mv a0, s10\n    ecall\n    li a7, 0", group="pv"),
    Bench("ptemod-batch", f"change {BATCH} PTEs, one sfence.vma, touch the pages",
          _ptemod_batch(False), setup=_TOUCH_BATCH, group="pv"),
    Bench("ptemod-hcall", f"change {BATCH} PTEs by one MMU_UPDATE hypercall, touch the pages",
          _ptemod_batch(True), setup=_TOUCH_BATCH, group="pv"),
    Bench("tlb", f"touch {DATA_PAGES} pages in turn (every load misses the TLB)",
          "mv a5, s7\n    li a4, %d\n5:  ld t2, 0(a5)\n    add a5, a5, s2\n"
          "    addi a4, a4, -1\n    bnez a4, 5b" % DATA_PAGES,
          setup="mv a5, s7\n    li a4, %d\n6:  ld t2, 0(a5)\n    add a5, a5, s2\n"
          "    addi a4, a4, -1\n    bnez a4, 6b" % DATA_PAGES, group="tlb"),
)}

FIRMWARE = rf"""
    .option norvc
    .text
    .globl _start
_start:                                 # ---- bare only: a minimal M-mode firmware ----
    la      t0, m_trap
    csrw    mtvec, t0
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    li      t0, 0xB1FF                  # every exception but ecall from S/M goes to S
    csrw    medeleg, t0
    li      t0, 7
    csrw    mcounteren, t0
    li      t0, 1
    slli    t0, t0, 63                  # menvcfg.STCE: S may write stimecmp
    csrw    menvcfg, t0
    li      t0, 0x1800
    csrc    mstatus, t0
    li      t0, 0x800                   # MPP = S
    csrs    mstatus, t0
    la      t0, s_start
    csrw    mepc, t0
    mret

m_trap:                                 # the firmware's SBI: ecall from S lands here
    li      t0, {EXT_SRST}
    beq     a7, t0, m_off
    li      t0, {LEGACY_PUTCHAR}
    beq     a7, t0, m_putc
    li      t0, {EXT_TIME}
    beq     a7, t0, m_timer
    li      t0, {EXT_MMU_UPDATE}
    beq     a7, t0, m_mmu
    li      a0, -2                      # not supported
    j       m_ret
m_putc:
    li      t0, {UART_BASE}
    sb      a0, 0(t0)
    li      a0, 0
    j       m_ret
m_timer:
    li      t0, {MTIMECMP}
    sd      a0, 0(t0)
    li      a0, 0
    j       m_ret
m_mmu:                                  # pairs (pte address, value): kernel gva == pa here
    beqz    a1, 2f
1:  ld      t0, 0(a0)
    ld      t1, 8(a0)
    sd      t1, 0(t0)
    addi    a0, a0, 16
    addi    a1, a1, -1
    bnez    a1, 1b
2:  sfence.vma
    li      a0, 0
m_ret:
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    mret
m_off:
    li      t0, {TEST_BASE}
    li      t1, 0x5555
    sw      t1, 0(t0)
3:  j       3b
"""

KERNEL = rf"""
s_start:                                # ---- S-mode: bare, or a guest's first instruction ----
    la      t0, s_trap
    csrw    stvec, t0
    la      t0, pt_root
    li      t1, 0x200000cf              # root[2]: 1 GiB at 0x8000_0000, V R W X A D
    sd      t1, 16(t0)
    li      t1, 0xc7                    # root[0]: 1 GiB of devices at 0, V R W A D
    sd      t1, 0(t0)
    la      t1, pt_l1                   # root[1] -> l1 -> l0 (gva 0x4000_0000..)
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, 1
    sd      t1, 8(t0)
    la      t2, pt_l0
    srli    t1, t2, 12
    slli    t1, t1, 10
    ori     t1, t1, 1
    la      t0, pt_l1
    sd      t1, 0(t0)
    la      t1, u_code                  # l0[0]: the user page, V R X U A D
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, 0xdb
    sd      t1, 0(t2)
    li      t1, {(DATA_GPA >> 12 << 10) | 0xc7}     # l0[1..]: data pages, V R W A D
    li      t3, {DATA_PAGES}
    li      t4, 0x400
1:  addi    t2, t2, 8
    add     t1, t1, t4
    sd      t1, 0(t2)
    addi    t3, t3, -1
    bnez    t3, 1b
    la      t0, pt_root
    srli    t0, t0, 12
    li      t1, 8
    slli    t1, t1, 60
    or      t0, t0, t1
    csrw    satp, t0
    sfence.vma
    li      s0, {{n}}
    li      s2, 4096
    li      s3, {UART_BASE}
    li      s4, {HOLE_GVA}
    li      s5, 7
    la      s6, pt_l0
    addi    s6, s6, 8                   # &l0[1]: the PTE of the first data page
    li      s7, {DATA_GVA}
    li      s8, 0x400                   # PTE ppn + 1: flip between two frames
    li      s9, 46                      # '.'
    li      s10, -1                     # a timer deadline that never comes
    li      s11, {MTIMECMP}
    li      a7, 0
    {{setup}}
    {{loop}}

finish:
    li      a7, {EXT_SRST}
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
2:  j       2b

s_trap:                                 # skip the trapping instruction; DONE: user loop over
    li      t1, {DONE}
    beq     a7, t1, finish
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    sret

leaf:
    ret

    .balign 4096
u_code:                                 # mapped at gva {USER_GVA:#x}, U-mode
    {{user_loop}}
    .balign 4096

    .bss
    .balign 4096
pt_root:    .space 4096
pt_l1:      .space 4096
pt_l0:      .space 4096
hcall_buf:  .space {16 * BATCH}
"""

_S_LOOP = """
7:  beqz    s0, 8f
    {body}
    addi    s0, s0, -1
    j       7b
8:  j       finish"""

_U_ENTER = f"""
    li      t0, {USER_GVA}
    csrw    sepc, t0
    li      t0, 0x100                   # sstatus.SPP = U
    csrc    sstatus, t0
    sret"""

_U_LOOP = f"""
7:  beqz    s0, 8f
    {{body}}
    addi    s0, s0, -1
    j       7b
8:  li      a7, {DONE}
    ecall"""


def source(name: str, n: int) -> str:
    """The assembly of benchmark ``name`` with its loop run ``n`` times."""
    b = BENCHES[name]
    loop = _U_ENTER if b.user else _S_LOOP.format(body=b.body)
    user = _U_LOOP.format(body=b.body) if b.user else "9:  j 9b"
    return FIRMWARE + KERNEL.format(n=int(n), setup=b.setup, loop=loop, user_loop=user)


def build(name: str, n: int):
    """Assemble benchmark ``name`` (a :class:`vmlab.asm.Program`; ``s_start`` is the guest's
    entry, ``_start`` the bare machine's)."""
    from vmlab.asm import assemble
    if name not in BENCHES:
        raise ValueError(f"no nanobenchmark {name!r}: the benchmarks are {', '.join(BENCHES)}")
    return assemble(source(name, n), filename=f"nano-{name}.s")
