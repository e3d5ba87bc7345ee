"""The compiled SBI calls (vmlab.hv.fast_sbi) against the Python ones (vmlab.hv.sbi).

- one call at a time: the same ecall handed to ``exits.dispatch`` and to the compiled
  ``handle_trap`` leaves the same vCPU rows, console, counts and trace -- for valid and
  invalid hart masks, buffers at the edges of guest RAM, and every value corner;
- whole guests, both ways: a one-vCPU guest with paging on that prints through every
  console call, sends itself IPIs and fences its own pages (exactly the same trace); two
  vCPUs that ping-pong IPIs and fence each other (the same console, registers and per-vCPU
  SBI sequence: how their runs interleave is the one thing the paths may differ in);
- teachos built with its paravirtual console (legacy putchar) both ways.
"""
from __future__ import annotations

import numpy as np
import pytest
from hv_guest import boot, guest
from test_fast_exits import _pair, _same, assert_same, both_ways, teachos_both_ways
from test_high_addresses import CORNERS

from vmlab.hv import exits, fastpath, sbi
from vmlab.hv.csr_emul import NO_TLB
from vmlab.hv.vcpu import NO_BT_PAGES
from vmlab.hv.trace import EXIT, INJECT
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.rvc import expansion_table

M64 = (1 << 64) - 1


def _fast(v, pc) -> int:
    """The compiled handler for an ecall at ``pc`` on ``v`` (-1: left to Python)."""
    vm = v.vm
    v.hvstate[fastpath.S_SBI_FROM_HV] = vm.sbi_from_hv
    v.hvstate[fastpath.S_WRITE_PROTECT] = vm.shadow.write_protect
    v.hvstate[fastpath.S_ROOT] = vm.shadow.slot_in_use(v)
    cost = fastpath.handle_trap(vm.machine.mem, vm.mem.page_map, vm.rows, vm.devices.dev,
                                vm.devices.io, vm.devices.ctl, NO_TLB, expansion_table(),
                                v.hvstate, vm.shadow.mirror, vm.shadow.super_index, v._log,
                                v._fills, NO_BT_PAGES, L.CAUSE_ECALL_U, 0, i64(pc), vm.time())
    v._drain()
    if cost > 0:
        vm.charge(int(cost))
    return int(cost)


def _call(pair, pc, eid, fid, *args):
    """The same SBI call on both vCPUs of ``pair``; the fast one's result (-1: Python's)."""
    ref, fast = pair
    for v in pair:
        v.set_reg(17, eid)
        v.set_reg(16, fid)
        for i, a in enumerate(args):
            v.set_reg(10 + i, a)
    exits.dispatch(ref, L.CAUSE_ECALL_U, 0, pc)
    before = fast.vm.rows.copy()
    cost = _fast(fast, pc)
    if cost < 0:                        # left to Python untouched: Python does it, as run()
        assert np.array_equal(before, fast.vm.rows)
        exits.dispatch(fast, L.CAUSE_ECALL_U, 0, pc)
    return cost


def _same_console(ref, fast):
    for v in (ref, fast):
        v.vm.devices.drain()
    assert ref.vm.devices.out == fast.vm.devices.out


@pytest.mark.parametrize("pc", CORNERS[::2])
def test_console_calls_at_every_pc(pc):
    pair = _pair()
    ref, fast = pair
    base = L.RAM_BASE + 0x4000
    for v in pair:
        v.vm.mem.write(base, b"hello, console")
    assert _call(pair, pc, sbi.LEGACY_PUTCHAR, 0, ord("a") | (pc & ~0xFF)) > 0
    assert _call(pair, pc, sbi.EXT_DBCN, 2, ord("b")) > 0
    assert _call(pair, pc, sbi.EXT_DBCN, 0, 14, base, 0) > 0
    assert fast.reg(10) == 0 and fast.reg(11) == 14
    end = L.RAM_BASE + (8 << 20)             # (the pair's guest RAM ends here)
    for n, gpa, hi in ((1, end - 1, 0), (2, end - 1, 0), (0, end, 0), (1, 0x1000, 0),
                       (1, M64, 0), (M64, base, 0), (1, base, 1)):
        _call(pair, pc, sbi.EXT_DBCN, 0, n, gpa, hi)
        _same(ref, fast)
    assert _call(pair, pc, sbi.EXT_DBCN, 1, 4, base, 0) == -1     # a read: Python's
    _same(ref, fast)
    _same_console(ref, fast)
    assert fast.vm.devices.out.startswith(b"abhello, console")


@pytest.mark.parametrize("mask, base", [(1, 0), (1, M64), (0, 0), (2, 0), (1, 1), (1, M64 - 1),
                                        (1 << 63, 0), (M64, 0), (0, M64 - 5)])
def test_ipi_and_rfence_hart_masks(mask, base):
    pair = _pair()
    ref, fast = pair
    for fid in (0, 1, 2):
        r = _call(pair, L.RAM_BASE, sbi.EXT_RFENCE, fid, mask, base, 0x5000, 0x1000, 3)
        _same(ref, fast)
        assert r > 0 or fid > 0          # (remote sfence.vma may be Python's)
    assert _call(pair, L.RAM_BASE, sbi.EXT_IPI, 0, mask, base) > 0
    _same(ref, fast)


def test_remote_sfence_is_left_to_python_when_it_would_drop_or_reach_another_vcpu():
    pair = _pair(vcpus=2)
    ref, fast = pair
    calls = [(sbi.EXT_RFENCE, 1, 2, 0, 0x5000, 0x1000),      # hart 1: another vCPU's trees
             (sbi.EXT_RFENCE, 1, 1, 0, 0x5000, 0),           # size 0: the whole space
             (sbi.EXT_RFENCE, 3, 1, 0, 0, 0),                # a hypervisor fence: not offered
             (sbi.EXT_IPI, 1, 1, 0), (sbi.EXT_DBCN, 1, 1, L.RAM_BASE, 0)]
    for eid, fid, *args in calls:
        assert _call(pair, L.RAM_BASE, eid, fid, *args) == -1
    _same(ref, fast)


def test_ipi_to_another_vcpu_sets_its_ssip_and_yields():
    ref, fast = _pair(vcpus=2)
    assert _call((ref, fast), L.RAM_BASE, sbi.EXT_IPI, 0, 2, 0) > 0
    for v in (ref, fast):
        assert v.vm.rows[1, L.MIP] & L.MIP_SSIP and not v.vm.rows[0, L.MIP] & L.MIP_SSIP
    assert np.array_equal(ref.vm.rows, fast.vm.rows)
    assert fast.hvstate[fastpath.S_YIELD] == 1


# ---- whole guests, both ways ---------------------------------------------------------------------

#: an identity map of the first 2 MiB of RAM in 4 KiB pages (root -> l1 -> l0), paging on
PAGING_ON = r'''
        la t0, l0
        li t1, 0x80000          # PPN of 0x8000_0000
        li t2, 512
1:      slli t3, t1, 10
        ori t3, t3, 0xCF        # V R W X A D
        sd t3, 0(t0)
        addi t0, t0, 8
        addi t1, t1, 1
        addi t2, t2, -1
        bnez t2, 1b
        la t0, l1
        la t1, l0
        srli t1, t1, 2
        ori t1, t1, 1
        sd t1, 0(t0)            # l1[0] -> l0
        la t0, root
        la t1, l1
        srli t1, t1, 2
        ori t1, t1, 1
        sd t1, 16(t0)           # root[2] (VA 0x8000_0000) -> l1
        srli t0, t0, 12
        li t1, 8
        slli t1, t1, 60
        or t0, t0, t1
        csrw satp, t0
        sfence.vma
'''
TABLES = ".balign 4096\nroot: .space 4096\nl1: .space 4096\nl0: .space 4096\n" \
         "page1: .space 4096\npage2: .space 4096\n"
SBI_CALL = "li a7, {eid}\n li a6, {fid}\n ecall\n"
IPI, RFENCE, DBCN = sbi.EXT_IPI, sbi.EXT_RFENCE, sbi.EXT_DBCN

SELF_BODY = PAGING_ON + r'''
        la t0, trap
        csrw stvec, t0
        la a0, hello
        call puts                       # legacy putchar
        li a0, 6
        la a1, dmsg
        li a2, 0
        ''' + SBI_CALL.format(eid=DBCN, fid=0) + r'''
        mv s2, a1                       # 6
        li a0, 0x21
        ''' + SBI_CALL.format(eid=DBCN, fid=2) + r'''
        li a0, 4
        li a1, 0x10
        li a2, 0
        ''' + SBI_CALL.format(eid=DBCN, fid=0) + r'''
        mv s3, a0                       # -3: not guest RAM
        csrsi sie, 2
        csrsi sstatus, 2
        li s1, 20
ipis:   li s0, 0
        li a0, 1
        andi a1, s1, 1
        neg a1, a1                      # base 0 or -1 (all harts)
        ''' + SBI_CALL.format(eid=IPI, fid=0) + r'''
1:      beqz s0, 1b
        addi s1, s1, -1
        bnez s1, ipis
        li a0, 2
        li a1, 0
        ''' + SBI_CALL.format(eid=IPI, fid=0) + r'''
        mv s4, a0                       # -3: hart 1 does not exist
        li a0, 1
        li a1, 0
        ''' + SBI_CALL.format(eid=RFENCE, fid=0) + r'''
        la s5, page1
        sd s5, 0(s5)                    # a shadow leaf for page1
        li s1, 20
fences: li a0, 1
        li a1, 0
        andi t0, s1, 1
        slli t0, t0, 12
        add a2, s5, t0                  # page1 (a leaf to drop: Python), page2 (none)
        li a3, 4096
        li a4, 0
        andi a6, s1, 2
        srli a6, a6, 1
        addi a6, a6, 1                  # sfence.vma, sfence.vma.asid
        li a7, 0x52464E43
        ecall
        ld t1, 0(s5)                    # (page1 again: the next fence has a leaf to drop)
        addi s1, s1, -1
        bnez s1, fences
        li a0, 1
        li a1, 0
        li a3, 0                        # the whole address space: Python
        ''' + SBI_CALL.format(eid=RFENCE, fid=1) + r'''
        la a0, bye
        call puts
        li a1, 0
        j shutdown
        .balign 4
trap:   li s0, 1
        csrci sip, 2
        sret
'''
SELF_DATA = 'hello: .asciz "hi from putchar\\n"\ndmsg: .ascii "dbcn!\\n"\n' \
            'bye: .asciz "done\\n"\n' + TABLES


def _start_guest(elf, vcpus=1):
    def start(fast):
        _, vm = boot(elf, vcpus=vcpus, fast_exits=fast)
        return vm
    return start


def test_console_ipi_and_rfence_to_self_both_ways():
    def drive(vm):
        r = vm.run(instructions=2_000_000)
        assert (r.reason, r.exit_code) == ("halt", 0)

    fast, slow, handled = both_ways(_start_guest(guest(SELF_BODY, SELF_DATA)), drive)
    assert_same(fast, slow)
    assert fast["console"] == b"hi from putchar\ndbcn!\n!done\n"
    assert handled["sbi"] > 50 and handled["shadow.sfence"] >= 20
    rows = np.array(fast["rows"])
    assert rows[0, L.XREG + 18] == 6 and rows[0, L.XREG + 19] == -3 and rows[0, L.XREG + 20] == -3
    assert fast["sbi_calls"][IPI] == 21 and fast["sbi_calls"][RFENCE] == 22


SMP_BODY = r'''
        bnez a0, second
        la t0, trap
        csrw stvec, t0
        csrsi sie, 2
        li a7, 0x48534D                 # hart_start(1, second, 0)
        li a6, 0
        li a0, 1
        la a1, second
        li a2, 0
        ecall
        li s1, 8
ping:   li s0, 0
        li a0, 1
        li a1, 1                        # hart 1
        ''' + SBI_CALL.format(eid=IPI, fid=0) + r'''
1:      csrsi sstatus, 2                # (take a pending SSIP here...)
        csrci sstatus, 2
        bnez s0, 2f                     # (...then wait for one with interrupts off)
        wfi
        j 1b
2:      li a0, 2
        li a1, 0                        # hart 1's trees: Python
        li a2, 0x80100000
        li a3, 4096
        ''' + SBI_CALL.format(eid=RFENCE, fid=1) + r'''
        li a0, 0
        li a1, -1                       # everyone: fence.i
        ''' + SBI_CALL.format(eid=RFENCE, fid=0) + r'''
        addi s1, s1, -1
        bnez s1, ping
        la a0, bye
        call puts
        li a1, 0
        j shutdown
second: la t0, trap
        csrw stvec, t0
        csrsi sie, 2
        li s1, 0
3:      csrsi sstatus, 2
        csrci sstatus, 2
        bnez s0, 4f
        wfi
        j 3b
4:      li s0, 0
        addi s1, s1, 1
        li a0, 0x2E                     # '.'
        ''' + SBI_CALL.format(eid=DBCN, fid=2) + r'''
        li a0, 1
        li a1, 0                        # hart 0
        ''' + SBI_CALL.format(eid=IPI, fid=0) + r'''
        j 3b
        .balign 4
trap:   li s0, 1
        csrci sip, 2
        sret
'''


def _per_vcpu_sbi(vm) -> list:
    """Each vCPU's SBI exits and injections in order, without times (which depend on how
    the vCPUs' runs interleave)."""
    rec = vm.trace.records()
    sbi_id = vm.trace.handler_id("sbi")
    out = []
    for v in vm.vcpus:
        mine = rec[(rec["vcpu"] == v.id) & (((rec["kind"] == EXIT) & (rec["handler"] == sbi_id))
                                            | (rec["kind"] == INJECT))]
        out.append(mine[["kind", "cause", "pc", "handler", "cost"]].tolist())
    return out


def test_ipi_ping_pong_and_rfence_between_two_vcpus_both_ways():
    results = []
    for fast in (True, False):
        _, vm = boot(guest(SMP_BODY, 'bye: .asciz "\\npong x8\\n"'), vcpus=2, fast_exits=fast)
        r = vm.run(instructions=5_000_000)
        assert (r.reason, r.exit_code) == ("halt", 0)
        results.append((vm.console_bytes, vm.rows[:, L.XREG:L.XREG + 32].tolist(),
                        dict(vm.sbi_calls), _per_vcpu_sbi(vm), vm.trace.handler_counts))
    (con, regs, calls, seq, handled), slow = results[0], results[1]
    assert (con, calls, seq) == slow[:1] + slow[2:4]
    assert [r[8:10] for r in regs] == [r[8:10] for r in slow[1]]     # s0, s1 of each vCPU
    assert con == b"........\npong x8\n" and regs[1][9] == 8
    assert calls[IPI] == 16 and calls[RFENCE] == 16 and calls[DBCN] == 8
    assert handled["sbi"] >= 24              # the fast path served the IPIs and console itself


def test_teachos_with_the_paravirtual_console_both_ways(tmp_path):
    fast, slow, handled = teachos_both_ways(tmp_path, pv_console=True)
    assert_same(fast, slow)
    # (its paravirtual console is one legacy putchar per byte, an SBI exit each)
    assert b"the disk says: Hello from sector 0" in fast["console"]
    assert handled["sbi"] > len(fast["console"])
