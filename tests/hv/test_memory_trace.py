"""Host frames, guest-physical memory and the trace: the bookkeeping the hypervisor stands on."""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.hv.memory import PAGE, FrameAllocator, GuestMemory, OutOfFrames
from vmlab.hv.trace import EXIT, INJECT, SHADOW, Trace

BASE = 0x8000_0000


def make(frames=16):
    ram = np.full(frames * PAGE, 0xAA, dtype=np.uint8)  # garbage a previous owner left
    return ram, FrameAllocator(ram, BASE)


def test_frames_are_zeroed_lowest_first_and_exhaust_cleanly():
    ram, fa = make(4)
    hpas = [fa.alloc(owner=1) for _ in range(4)]
    assert hpas == [BASE + i * PAGE for i in range(4)]
    assert not ram.any()
    with pytest.raises(OutOfFrames):
        fa.alloc(owner=1)
    fa.free(hpas[2])
    assert fa.alloc(owner=2) == hpas[2] and list(fa.frames_of(2)) == [hpas[2]]
    with pytest.raises(ValueError):
        fa.free(hpas[0]); fa.free(hpas[0])


def test_guest_pages_get_frames_on_first_touch_only():
    ram, fa = make(8)
    g = GuestMemory(fa, vm_id=1, gpa_base=0x8000_0000, size=64 * PAGE)  # more than the host has
    assert g.resident_pages == 0
    g.write(0x8000_3FFE, b"\x01\x02\x03\x04")                          # straddles two pages
    assert g.resident_pages == 2
    assert g.read(0x8000_3FFE, 4) == b"\x01\x02\x03\x04"
    h1, h2 = g.hpa(0x8000_3FFE), g.hpa(0x8000_4000)
    assert ram[h1 - BASE] == 1 and ram[h2 - BASE + 1] == 4
    assert g.read(0x7FFF_FFFF, 2) is None and g.hpa(0x8000_0000 + 64 * PAGE) is None
    g.write64(0x8000_1008, 0x1122334455667788)
    assert g.read64(0x8000_1008) == 0x1122334455667788 and g.read64(0x8000_1009) is None


def test_two_vms_never_share_a_frame():
    ram, fa = make(8)
    a = GuestMemory(fa, 1, 0x8000_0000, 4 * PAGE)
    b = GuestMemory(fa, 2, 0x8000_0000, 4 * PAGE)
    for g, byte in ((a, b"A"), (b, b"B")):
        for p in range(4):
            g.write(0x8000_0000 + p * PAGE, byte * PAGE)
    assert a.read(0x8000_0000, 4 * PAGE) == b"A" * 4 * PAGE
    assert b.read(0x8000_0000, 4 * PAGE) == b"B" * 4 * PAGE
    assert not set(fa.frames_of(1)) & set(fa.frames_of(2))


def test_trace_records_counts_and_ring():
    t = Trace(capacity=4)
    for i in range(6):
        t.record(EXIT, time=10 * i, cause=2 if i % 2 else 9, pc=0x8020_0000 + 4 * i, handler="csr" if i % 2 else "sbi", cost=5)
    t.record(INJECT, time=70, cause=0x8000_0005, handler="timer")
    assert t.total == 7 and len(t) == 4
    assert t.count(EXIT) == 6 and t.count(EXIT, 2) == 3 and t.count(INJECT) == 1
    assert t.by_cause(EXIT) == {2: 3, 9: 3}
    recent = t.since(5)
    assert list(recent["seq"]) == [5, 6] and recent["kind"][-1] == INJECT
    assert [e.seq for e in t.events()] == [3, 4, 5, 6]          # the oldest were dropped
    assert t.events(6)[0].handler == "timer" and t.handler_cost["csr"] == 15
    assert t.count(SHADOW) == 0 and "7 records" in repr(t)


def test_a_cleared_trace_holds_nothing_old():
    # after clear() the ring still holds the old rows: none may come back, as records or
    # as zeroed ones, and sequence numbers go on from where they were
    t = Trace(capacity=8)
    for i in range(5):
        t.record(EXIT, time=i, cause=2, handler="csr")
    t.clear()
    assert t.total == 5 and len(t) == 0 and len(t.records()) == 0 and t.events() == []
    t.record(EXIT, time=9, cause=9, handler="sbi")
    assert len(t) == 1 and [e.seq for e in t.events()] == [5] and t.events()[0].handler == "sbi"
    for i in range(10):                                       # past capacity again
        t.record(EXIT, time=10 + i, cause=2, handler="csr")
    assert len(t) == 8 and list(t.records()["seq"]) == list(range(8, 16))


def test_block_counting_agrees_with_numpys_way():
    # the compiled tally (a few distinct keys, the common case) and numpy's sort (the
    # fallback past TALLY_KEYS distinct keys) count the same blocks the same way
    import random

    from vmlab.hv.trace import BLOCK_COLUMN, BLOCK_WORDS, TALLY_KEYS
    rng = random.Random(5)
    for distinct in (1, 3, TALLY_KEYS, TALLY_KEYS + 1, 300):
        fast, ref = Trace(), Trace()
        for t in (fast, ref):
            for name in ("csr", "fill", "shadow.fill", "timer"):
                t.handler_id(name)
        causes = [rng.choice([2, 9, 15, 0x8000_0005, 1 << 40]) + i for i in range(distinct)]
        block = np.zeros((700, BLOCK_WORDS), np.int64)
        for r in range(700):
            block[r, BLOCK_COLUMN["kind"]] = rng.randrange(4)
            block[r, BLOCK_COLUMN["cause"]] = causes[r % distinct]
            block[r, BLOCK_COLUMN["handler"]] = rng.randrange(4)
            block[r, BLOCK_COLUMN["cost"]] = rng.randrange(1 << 40)
        fast._count(block)
        ref._count_numpy(block)
        assert fast.counts == ref.counts and fast.handler_counts == ref.handler_counts
        assert fast.handler_cost == ref.handler_cost
        assert sum(fast.counts.values()) == 700


def test_the_ring_gives_back_every_field_as_recorded():
    # rows stored as int64 words come back as RECORD's fields: unsigned pc/tval at the top
    # of the 64-bit space, insn as 32 bits -- stored row by row (a small flush) and as a
    # whole block across the ring's wrap
    from vmlab.hv.trace import BLOCK_WORDS, PENDING
    t = Trace(capacity=16)
    t.record(EXIT, time=1, vm=2, vcpu=3, cause=0x8000_0005, pc=(1 << 64) - 4, insn=0x10500073,
             tval=(1 << 63) + 8, handler="csr", cost=77)
    e = t.events()[0]                                  # (one record: stored row by row)
    assert (e.pc, e.tval, e.insn, e.cause, e.vm, e.vcpu, e.cost, e.handler) == (
        (1 << 64) - 4, (1 << 63) + 8, 0x10500073, 0x8000_0005, 2, 3, 77, "csr")
    block = np.zeros((PENDING + 9, BLOCK_WORDS), np.int64)
    block[:, 0] = np.arange(len(block)) + 100          # time
    block[:, 5] = -2                                   # pc 0xFFFF...FE
    block[:, 8] = t.handler_id("fill")
    t.extend(block[:2])                                # pending, then flushed before ...
    t.extend(block)                                    # ... a whole block, past the ring's end
    r = t.records()
    assert t.total == 3 + len(block) and len(r) == 16
    assert list(r["seq"]) == list(range(t.total - 16, t.total))
    assert list(r["time"]) == list(range(100 + len(block) - 16, 100 + len(block)))
    assert set(r["pc"].tolist()) == {(1 << 64) - 2} and t.handler_counts["fill"] == len(block) + 2
