"""The Python exit path's shortcuts keep the results they replace.

- Trace.record keeps records aside and stores them in batches: every reader (counts,
  since, events, extend's order) must see exactly what storing them one by one gave.
- VCpu binds the arrays of its per-exit compiled calls once: the bound calls must agree
  with the compiled functions called the ordinary way.
- VCpu.regs reads registers in one go: the same unsigned values as reg().
- mmio.fetch_insn reads four bytes at once when they are in one page: the same words as
  two halfword reads, compressed or not, at a page's end too.
- bits.words reads and writes state words as unsigned ints: the values u64/i64 give.
- fast_args describes arrays by address and shape: compiled code sees the same memory.
- VM.run lets a lone vCPU go on from one exit to the next (vcpu.run's ``again``), and the
  shadow pager answers a repeated root_for from its memo: runs with and without either
  must be the same, record for record, stopping at the same place.
"""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.asm import assemble
from vmlab.hv import trace as trace_mod
from vmlab.hv.exits import dispatch
from vmlab.hv.mmio import fetch_insn
from vmlab.hv.trace import EXIT, INJECT, SHADOW, Trace
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64, i64, s64, u64, words
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


def _stored(records: list[dict], capacity: int, one_by_one: bool) -> Trace:
    """The records in a trace, kept aside in batches as record does -- or, the reference,
    each stored in the ring as soon as it is made."""
    t = Trace(capacity)
    for r in records:
        r = dict(r)
        kind = r.pop("kind")
        t.record(kind, **r)
        if one_by_one:
            t._flush()
    return t


def test_batched_records_read_back_as_one_by_one(monkeypatch):
    monkeypatch.setattr(trace_mod, "PENDING", 37)      # several batches, and a partial one
    records = _records(300)
    for capacity in (1 << 10, 64):                      # with and without the ring wrapping
        ref, got = _stored(records, capacity, True), _stored(records, capacity, False)
        assert got.total == ref.total == 300
        assert len(got) == len(ref)
        assert np.array_equal(got.since(0), ref.since(0))
        assert got.counts == ref.counts
        assert got.handler_counts == ref.handler_counts
        assert got.handler_cost == ref.handler_cost
        assert got.events(280) == ref.events(280)
    ev = _stored(records, 1 << 10, False).events(0)
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


def test_words_are_the_unsigned_values_and_store_bit_patterns():
    a = np.array([0, -1, 1 << 62, -(1 << 63), 5], dtype=np.int64)
    w, sw = words(a), words(a, signed=True)
    assert w.tolist() == [u64(x) for x in a]
    assert sw.tolist() == [int(x) for x in a]
    w[4] = MASK64
    assert a[4] == -1 and sw[4] == -1
    w[0] = 1 << 63
    assert a[0] == -(1 << 63)
    for bad in (-1, 1 << 64):                       # out of range: refused, nothing written
        with pytest.raises((ValueError, OverflowError)):
            w[2] = bad
    assert a[2] == 1 << 62
    assert [s64(v) for v in (0, MASK64, 1 << 63, (1 << 63) - 1, -5, 1 << 64)] == \
        [int(i64(v)) for v in (0, MASK64, 1 << 63, (1 << 63) - 1, -5, 1 << 64)]


def test_a_table_describes_arrays_the_compiled_side_sees():
    from vmlab.hv import fast_args
    from vmlab.hv.fast_run import exec_csr_t
    vm = _csr_vm()
    v = vm.vcpus[0]
    twin, dev, ctl = v.row.copy(), vm.devices.dev.copy(), vm.devices.ctl.copy()
    t = fast_args.table(v.row, vm.devices.dev, vm.devices.ctl)
    assert t[0, fast_args.ADDRESS] == v.row.ctypes.data and t[0, fast_args.SHAPE] == len(v.row)
    for insn, value in ((0x14041073, (1 << 64) - 2), (0x14002373, 0), (0x30002373, 0)):
        v.set_reg(8, value)
        twin[L.XREG + 8] = i64(value)
        assert exec_csr_t(t, v.id64, np.int64(insn)) == exec_csr(twin, dev, ctl, v.id64,
                                                                 np.int64(insn))
        assert np.array_equal(v.row, twin), hex(insn)   # (written through the table)
    with pytest.raises(ValueError, match="argument 1"):
        fast_args.table(v.row, np.zeros((4, 4), dtype=np.int64)[:, 1])   # a column: refused


def _teachos_run(tmp_path, name, patch=None, fast=False, **run):
    teachos = pytest.importorskip("vmlab.guests.teachos").build()
    disk = tmp_path / f"{name}.img"
    disk.write_bytes(b"Hello from sector 0 of the disk!\n".ljust(8 * 512, b"\0"))
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk,
                                                            fast_exits=fast)
    if patch:
        patch(vm)
    vm.boot(kernel=teachos.elf)
    r = vm.run(**run)
    rec = vm.trace.records()
    return {"result": (r.reason, r.instructions, r.pc, getattr(r, "matched", None)),
            "console": vm.console_bytes, "rows": vm.rows.tolist(), "time": vm.time(),
            "trace": rec[[f for f in rec.dtype.names if f != "seq"]].tolist(),
            "shadow": dict(vm.shadow.counters), "sbi": dict(vm.sbi_calls)}


def _one_exit_per_call(vm):
    vm._again = lambda *args: None                  # (VM.run's loop after every exit)


def _no_root_memo(vm):
    pager = vm.shadow
    pager.root_for = lambda vcpu: pager._root(vcpu).satp     # (the look-up every time)


@pytest.mark.parametrize("reason, run", [
    ("halt", dict(instructions=200_000_000)),
    ("output", dict(instructions=200_000_000, until_output="disk")),     # mid-boot
    ("budget", dict(instructions=1_234_567))])
@pytest.mark.parametrize("fast", [False, True], ids=["python", "fast"])
def test_chained_exits_and_the_root_memo_change_nothing(tmp_path, reason, run, fast):
    ref = _teachos_run(tmp_path, "ref", lambda vm: (_one_exit_per_call(vm), _no_root_memo(vm)),
                       fast, **run)
    got = _teachos_run(tmp_path, "got", None, fast, **run)
    assert ref["result"][0] == reason
    assert ref["shadow"]["root_switches"] > 1                    # (several trees in use)
    for key in ref:
        assert got[key] == ref[key], key


TICKING_FAULTS = r"""
        .text
        .globl _start
_start: la t0, tick
        csrw stvec, t0
        li t0, 0x20                 # STIE
        csrw sie, t0
        li s5, 0                    # ticks taken
        call arm
        csrsi sstatus, 2            # SIE
        li s1, 0x80400000           # fresh pages: each first store exits to Python
        li s2, 4096
        li s0, 1500
1:      sd zero, 0(s1)
        add s1, s1, s2
        addi s0, s0, -1
        bnez s0, 1b
        li a7, 0x53525354           # SBI system reset: shutdown
        li a6, 0
        li a0, 0
        ecall
arm:    rdtime a0
        addi a0, a0, 40             # 4 us on: a tick every few faults
        li a7, 0x54494D45
        li a6, 0
        ecall
        ret
        .align 2
tick:   addi s5, s5, 1
        call arm
        sret
"""


@pytest.mark.parametrize("fast", [False, True], ids=["python", "fast"])
def test_an_interrupt_due_after_a_python_exit_is_taken_at_once(fast):
    """Page faults on fresh pages go through Python on both paths; a timer interrupt falls
    due between them.  Going on from exit to exit inside vcpu.run must inject it exactly
    where a new call would (before the next entry), not later."""
    runs = []
    for patch in (_one_exit_per_call, None):
        vm = Hypervisor(Machine(ram_size=96 << 20)).create_vm(ram_size=64 << 20,
                                                              fast_exits=fast)
        if patch:
            patch(vm)
        vm.boot(kernel=assemble(TICKING_FAULTS).elf)
        r = vm.run(instructions=5_000_000)
        rec = vm.trace.records()
        runs.append(((r.reason, r.instructions), vm.rows.tolist(), vm.time(),
                     rec[[f for f in rec.dtype.names if f != "seq"]].tolist()))
    assert runs[0][0][0] == "halt"
    assert runs[0][1][0][L.XREG + 21] > 50             # s5: the ticks were taken
    assert runs[1] == runs[0]
