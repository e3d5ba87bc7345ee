"""Instruction fetch: the hot loop's fetch window must never change what runs.

The window (hart.py) lets most instructions skip the page and breakpoint checks; these
tests pin the cases it hands back to the slow path -- a breakpoint on the page being run,
a 32-bit instruction straddling two pages, a compressed one in a page's last halfword --
and code that rewrites itself on the page it runs from.
"""
from __future__ import annotations

from machine_asm import HARNESS, machine_for

from vmlab.machine import Machine

RAM = 0x8000_0000


def _i_type(op, rd, f3, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def test_a_breakpoint_inside_a_running_loop_stops_every_iteration():
    m, syms = machine_for(HARNESS.format(body="""
        li s2, 0
        li s3, 10
    loop:
        addi s2, s2, 1
    body:
        addi s4, s2, 0
        blt s2, s3, loop
    """, extra=""))
    m.add_breakpoint(syms["body"])
    seen = []
    for _ in range(10):
        r = m.run(instructions=100_000)
        assert (r.reason, m.pc) == ("breakpoint", syms["body"])
        seen.append(m.reg("s2"))
    assert seen == list(range(1, 11))
    m.remove_breakpoint(syms["body"])
    assert m.run(instructions=100_000).reason == "halt"
    assert m.reg("s4") == 10


def test_a_breakpoint_set_while_the_page_was_running_is_seen():
    m, syms = machine_for(HARNESS.format(body="""
        li s2, 0
    loop:
        addi s2, s2, 1
    body:
        j loop
    """, extra=""))
    assert m.run(instructions=1000).reason == "budget"
    m.add_breakpoint(syms["body"])
    r = m.run(instructions=1000)
    assert (r.reason, m.pc) == ("breakpoint", syms["body"])


def test_instructions_at_the_end_of_a_page():
    m = Machine(ram_size=1 << 20)
    page = RAM + 0x2000
    code = (0x4505).to_bytes(2, "little")                             # c.li a0, 1
    code += _i_type(0x13, 10, 0, 10, 5).to_bytes(4, "little")         # addi a0, a0, 5: straddles
    code += (0x0505).to_bytes(2, "little")                            # c.addi a0, 1
    m.write_mem(page - 2, code)
    m.write_mem(page + 0xFFE, (0x0505).to_bytes(2, "little"))         # c.addi a0, 1 at 0x...FFE
    m.write_mem(page + 0x1000, (0x0505).to_bytes(2, "little"))        # c.addi a0, 1
    m.pc = page - 2
    r = m.run(instructions=3)
    assert r.instructions == 3 and m.reg("a0") == 7 and m.pc == page + 6
    m.pc = page + 0xFFE
    m.run(instructions=2)
    assert m.reg("a0") == 9 and m.pc == page + 0x1002


def test_code_rewritten_on_its_own_page_runs_the_new_instruction():
    new = _i_type(0x13, 18, 0, 18, 100)                               # addi s2, s2, 100
    m, syms = machine_for(HARNESS.format(body=f"""
        .option norvc                   # the patched instruction must be 4 bytes
        li s2, 0
        li s3, 0
    again:
    patch:
        addi s2, s2, 1
        bnez s3, done
        li s3, 1
        la t0, patch
        li t1, {new}
        sw t1, 0(t0)
        fence.i
        j again
    done:
    """, extra=""))
    assert m.run(instructions=10_000).reason == "halt"
    assert m.reg("s2") == 101
