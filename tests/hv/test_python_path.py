"""The Python exit path's shortcuts keep the results they replace.

- Trace.record keeps records aside and stores them in batches: every reader (counts,
  since, events, extend's order) must see exactly what storing them one by one gave.
- VCpu binds the arrays of its per-exit compiled calls once: the bound calls must agree
  with the compiled functions called the ordinary way.
- VCpu.regs reads registers in one go: the same unsigned values as reg().
- mmio.fetch_insn reads four bytes at once when they are in one page: the same words as
  two halfword reads, compressed or not, at a page's end too.
"""
from __future__ import annotations

import numpy as np

from vmlab.asm import assemble
from vmlab.hv import trace as trace_mod
from vmlab.hv.exits import dispatch
from vmlab.hv.mmio import fetch_insn
from vmlab.hv.trace import EXIT, INJECT, SHADOW, Trace
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.system import exec_csr

HIGH = 0xFFFF_FFFF_8000_1000          # a pc with bit 63 set: stored as a negative int64


def _records(n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(dict(kind=int(rng.integers(0, 3)), time=i * 7, vm=int(rng.integers(0, 3)),
                        vcpu=int(rng.integers(0, 2)), cause=int(rng.integers(0, 16)),
                        pc=HIGH + 4 * i if i % 3 else 0x8000_0000 + i,
                        insn=int(rng.integers(0, 1 << 32)),
                        tval=(1 << 64) - 1 - i if i % 5 == 0 else i,
                        handler=("csr", "sbi", "fill", "mmio")[i % 4],
                        cost=int(rng.integers(0, 500))))
    return out


def _one_by_one(records: list[dict], capacity: int) -> Trace:
    """The reference: each record stored in the ring as soon as it is made."""
    t = Trace(capacity)
    for r in records:
        r = dict(r)
        kind = r.pop("kind")
        t.record(kind, **r)
        t._flush()
    return t


def _batched(records: list[dict], capacity: int) -> Trace:
    t = Trace(capacity)
    for r in records:
        r = dict(r)
        kind = r.pop("kind")
        t.record(kind, **r)
    return t


def test_batched_records_read_back_as_one_by_one(monkeypatch):
    monkeypatch.setattr(trace_mod, "PENDING", 37)      # several batches, and a partial one
    records = _records(300)
    for capacity in (1 << 10, 64):                      # with and without the ring wrapping
        ref, got = _one_by_one(records, capacity), _batched(records, capacity)
        assert got.total == ref.total == 300
        assert len(got) == len(ref)
        assert np.array_equal(got.since(0), ref.since(0))
        assert got.counts == ref.counts
        assert got.handler_counts == ref.handler_counts
        assert got.handler_cost == ref.handler_cost
        assert got.events(280) == ref.events(280)
    ev = _batched(records, 1 << 10).events(0)
    assert ev[1].pc == HIGH + 4 and ev[0].tval == (1 << 64) - 1   # unsigned, bit 63 kept


def test_record_returns_sequence_numbers_and_extend_keeps_order():
    t = Trace()
    assert [t.record(EXIT, time=i, pc=i, handler="csr") for i in range(3)] == [0, 1, 2]
    block = np.zeros((2, len(trace_mod.BLOCK_COLUMN)), dtype=np.int64)
    block[:, trace_mod.BLOCK_COLUMN["kind"]] = SHADOW
    block[:, trace_mod.BLOCK_COLUMN["time"]] = (10, 11)
    block[:, trace_mod.BLOCK_COLUMN["handler"]] = t.handler_id("fill")
    t.extend(block)                                     # (the fast path's records)
    assert t.record(INJECT, time=12, handler="exception") == 5
    rec = t.since(0)
    assert rec["seq"].tolist() == [0, 1, 2, 3, 4, 5]
    assert rec["time"].tolist() == [0, 1, 2, 10, 11, 12]
    assert rec["kind"].tolist() == [EXIT] * 3 + [SHADOW] * 2 + [INJECT]
    assert t.count(EXIT) == 3 and t.count(SHADOW) == 2
    t.clear()
    assert t.total == 6 and t.count(EXIT) == 0 and t.record(EXIT, time=0) == 6


def _csr_vm():
    src = r'''
        .text
        .globl _start
_start: li s0, 1000
1:      csrr t1, sscratch
        csrw sscratch, s0
        addi s0, s0, -1
        bnez s0, 1b
        li a7, 0x53525354
        li a6, 0
        li a0, 0
        ecall
'''
    vm = Hypervisor(Machine(ram_size=96 << 20)).create_vm(ram_size=64 << 20, fast_exits=False)
    vm.boot(kernel=assemble(src).elf)
    vm.run(instructions=500)
    return vm


def test_bound_exec_csr_agrees_with_the_compiled_function():
    vm = _csr_vm()
    v = vm.vcpus[0]
    twin = v.row.copy()
    # csrw sscratch, csrr sscratch, csrr mstatus (vS may not: False), csrw sstatus
    for insn, value in ((0x14041073, 0x1234), (0x14002373, 0), (0x30002373, 0),
                        (0x10041073, 1 << 63 | 0x22)):
        v.set_reg(8, value)
        twin[L.XREG + 8] = i64(value)
        ok = v.exec_csr(insn)
        assert ok == exec_csr(twin, vm.devices.dev, vm.devices.ctl, v.id64, np.int64(insn))
        assert np.array_equal(v.row, twin), hex(insn)
    assert ok is True or ok is False


def test_regs_reads_what_reg_reads():
    vm = _csr_vm()
    v = vm.vcpus[0]
    for i, value in enumerate((0, 1, (1 << 64) - 1, 1 << 63, 0x7FFF_FFFF_FFFF_FFFF, 42, 7, 9)):
        v.set_reg(10 + i, value)
    assert v.regs(10, 8) == [v.reg(10 + i) for i in range(8)]
    assert v.regs(10, 8)[2] == (1 << 64) - 1


def test_python_path_exits_still_run_the_guest_to_its_end():
    vm = _csr_vm()
    r = vm.run()
    assert r.reason == "halt"
    assert vm.trace.handler_counts["csr"] == 2000
    assert int(vm.vcpus[0].row[L.SSCRATCH]) == 1       # the last csrw


def test_fetch_insn_reads_whole_and_split_instructions():
    vm = _csr_vm()
    v = vm.vcpus[0]
    base = 0x8030_0000
    words = {base + 0xFF8: b"\x73\x23\x00\x14",       # csrr t1, sscratch (32-bit)
             base + 0xFFC: b"\x01\x45",                # c.li a0, 0 (16-bit)
             base + 0xFFE: b"\x13\x05\x15\x00"}        # addi a0, a0, 1 across the page end
    for gpa, data in words.items():
        vm.mem.write(gpa, data)
    v.row[L.SATP] = 0                                  # (the kernel runs with paging off)
    assert fetch_insn(v, base + 0xFF8) == 0x14002373
    assert fetch_insn(v, base + 0xFFC) == 0x4501
    assert fetch_insn(v, base + 0xFFE) == 0x00150513
    assert fetch_insn(v, 0x1000) is None               # not guest RAM


def test_dispatch_still_records_one_exit_per_call():
    vm = _csr_vm()
    v = vm.vcpus[0]
    before = vm.trace.total
    ex = dispatch(v, L.CAUSE_ILLEGAL, 0x14002373, v.pc)
    assert ex.handler == "csr" and vm.trace.total == before + 1
    last = vm.trace.since(before)[0]
    assert vm.trace.names[last["handler"]] == "csr" and int(last["insn"]) == 0x14002373
