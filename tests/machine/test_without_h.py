"""A hart without the hypervisor extension (misa.H clear: ``Machine(h_extension=False)``, and
every vCPU of the shadow hypervisor) behaves as a hart built without H: the H CSRs, HLV/HSV
and the HFENCEs are illegal instructions, and the bits only H makes writable stay zero.
The same programs on a hart with H show that each check could fail."""
from __future__ import annotations

import pytest

from machine_asm import HARNESS
from vmlab.asm import assemble
from vmlab.machine import Machine
from vmlab.machine.csr import MISA_H

ILLEGAL = 2


def run(body: str, h: bool) -> Machine:
    program = assemble(HARNESS.format(body=body, extra=""), march="rv64imach")
    m = Machine(ram_size=4 << 20, h_extension=h)
    entry = m.load_elf(program.elf)
    m.harts[0].pc = entry
    assert m.run(instructions=100_000).reason == "halt"
    return m


@pytest.mark.parametrize("insn", ["csrr a0, hstatus", "csrw vsatp, zero", "csrr a0, mtinst",
                                  "hlv.w a0, (sp)", "hsv.d zero, (sp)", "hfence.gvma",
                                  "hfence.vvma"])
def test_h_instructions_are_illegal_without_h(insn):
    body = f"    li sp, 0x80100000\n    {insn}\n"             # (a data page, for HLV/HSV)
    without, with_h = run(body, h=False).harts[0], run(body, h=True).harts[0]
    assert (without.reg("gp"), without.reg("s10")) == (1, ILLEGAL)
    assert with_h.reg("gp") == 0                       # M-mode may, on a hart with H


def test_only_h_makes_these_bits_writable():
    body = """
    li t0, -1
    csrw medeleg, t0
    csrr s1, medeleg
    li t0, (3 << 38)            # mstatus.GVA and MPV
    csrs mstatus, t0
    csrr s2, mstatus
    li t0, 0x444                # VSSIE VSTIE VSEIE
    csrs mie, t0
    csrr s3, mie
    csrr s4, misa
"""
    without, with_h = run(body, h=False).harts[0], run(body, h=True).harts[0]
    assert without.reg("s1") == 0xB3FF and with_h.reg("s1") == 0xF0B7FF
    assert (without.reg("s2") >> 38) & 3 == 0 and (with_h.reg("s2") >> 38) & 3 == 3
    assert without.reg("s3") & 0x444 == 0 and with_h.reg("s3") & 0x444 == 0x444
    assert without.reg("s4") & MISA_H == 0 and with_h.reg("s4") & MISA_H
    isa = {h: Machine(h_extension=h).device_tree().find("/cpus/cpu@0").string("riscv,isa")
           .split("_")[0] for h in (False, True)}
    assert isa == {False: "rv64imafdc", True: "rv64imafdch"}


def test_the_h_causes_are_counted_apart_from_causes_4_to_7():
    """A guest-page fault (21) from HLV with an empty G-stage root: counted as itself, not in
    the slot of cause 5 (the counters of causes 16-23 live apart from those of 0-15)."""
    body = """
    la t0, groot
    srli t0, t0, 12
    li t1, 8 << 60              # hgatp: Sv39x4, VMID 0
    or t0, t0, t1
    csrw hgatp, t0
    li sp, 0x80100000
    hlv.w a0, (sp)
"""
    extra = """
    .balign 16384
groot: .space 16384
"""
    program = assemble(HARNESS.format(body=body, extra=extra), march="rv64imach")
    m = Machine(ram_size=4 << 20)
    m.harts[0].pc = m.load_elf(program.elf)
    assert m.run(instructions=100_000).reason == "halt"
    assert m.harts[0].reg("s10") == 21
    assert m.counters["exceptions"] == {"load_guest_page_fault": 1}
