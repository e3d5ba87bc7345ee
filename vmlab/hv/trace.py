"""The hypervisor's trace: every exit, injection, shadow-paging event and scheduling decision.

This is what the widgets draw and what graders check, so it is a plain, typed record
stream in numpy (cheap to append from the run loop's Python side, cheap to slice and count)
rather than a list of Python objects.  Each record has a sequence number, so a live view
can ask "what happened since the last record I drew?" (:meth:`Trace.since`) without copying
the whole log.

Record kinds:

- ``EXIT``    the guest trapped out to the hypervisor (cause, guest pc, instruction bits,
              tval, which handler ran, what it cost in simulated ns)
- ``INJECT``  the hypervisor delivered a trap or interrupt into the guest
- ``SHADOW``  a shadow page-table event (fill, flush, write-protect fault, root switch, ...)
- ``SCHED``   a vCPU was put on or taken off a physical CPU
"""
from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np

from vmlab.hv.fast_trace import tally
from vmlab.machine.bits import MASK64

EXIT, INJECT, SHADOW, SCHED = 0, 1, 2, 3
KIND_NAMES = ("exit", "inject", "shadow", "sched")

RECORD = np.dtype([
    ("seq", np.int64),       # position in the whole trace (never reused)
    ("time", np.int64),      # simulated time, ns
    ("kind", np.int8),       # EXIT / INJECT / SHADOW / SCHED
    ("vm", np.int16),
    ("vcpu", np.int16),
    ("cause", np.int64),     # trap cause (interrupts: 0x8000_0000 | code) or event code
    ("pc", np.uint64),       # guest pc (virtual)
    ("insn", np.uint32),     # instruction bits (0 when not an instruction's fault)
    ("tval", np.uint64),     # faulting address, or event argument
    ("handler", np.int16),   # index into Trace.names: what handled it
    ("cost", np.int64),      # simulated ns the handling took
])

INTERRUPT_FLAG = 0x8000_0000
SMALL_BATCH = 4          # Trace._store appends batches up to this size row by row
PENDING = 1024           # Trace.record keeps up to this many records aside, then stores them
TALLY_KEYS = 64          # distinct (kind, cause) keys a block is counted for in one pass
#: a field's column in the int64 blocks Trace.extend takes (the fields after seq)
BLOCK_COLUMN = {name: i for i, name in enumerate(RECORD.names[1:])}
BLOCK_WORDS = len(BLOCK_COLUMN)


@dataclass(frozen=True)
class Event:
    """One record, as a Python object (for reprs, tests and small listings)."""

    seq: int
    time: int
    kind: str
    vm: int
    vcpu: int
    cause: int
    pc: int
    insn: int
    tval: int
    handler: str
    cost: int


class Trace:
    """An append-only log of records with a bounded memory footprint.

    ``capacity`` records are kept (the oldest are dropped first, as a ring); counters
    by (kind, cause) and by handler cover the *whole* run, dropped records included.

    :meth:`record` (the Python exit path's one call per record) only appends the record's
    words to a flat array of pending records, and so does :meth:`extend` for a small block
    of the fast path's: writing a few records into the numpy ring costs more than the rest
    of a simple exit's bookkeeping.  The pending records go into the ring in one batch (whole
    rows, counted by one compiled pass) when there are many, and before anything reads the
    trace, so readers never see a difference.
    """

    def __init__(self, capacity: int = 1 << 18):
        self.capacity = capacity
        # the ring: one row of int64 words per record, the fields after seq in RECORD's
        # order (a record's seq is its position: seq % capacity); readers get RECORDs
        self._ring = np.zeros((capacity, BLOCK_WORDS), dtype=np.int64)
        self._next = 0                       # sequence number of the next record in the ring
        self._first = 0                      # the oldest sequence number clear() kept
        self._pending = array("Q")           # records not yet in the ring (record), flat
        self.names: list[str] = []           # handler names, indexed by RECORD.handler
        self._name_ids: dict[str, int] = {}
        self._counts: Counter = Counter()    # (kind, cause) -> count
        self._handler_counts: Counter = Counter()
        self._handler_cost: Counter = Counter()
        self._tally_keys = (np.zeros(TALLY_KEYS, np.int64), np.zeros(TALLY_KEYS, np.int64))

    # --- writing ---------------------------------------------------------------------------
    def handler_id(self, name: str) -> int:
        hid = self._name_ids.get(name)
        if hid is None:
            hid = self._name_ids[name] = len(self.names)
            self.names.append(name)
        return hid

    def record(self, kind: int, time: int, vm: int = 0, vcpu: int = 0, cause: int = 0,
               pc: int = 0, insn: int = 0, tval: int = 0, handler: str = "", cost: int = 0) -> int:
        """Append one record; returns its sequence number.  (Its fields, in extend's order,
        onto a flat array of unsigned words -- pc and tval are unsigned, the rest never
        negative -- which _flush hands to extend as int64 rows: the same bits.)"""
        hid = self._name_ids.get(handler)
        if hid is None:
            hid = self.handler_id(handler)
        pending = self._pending
        fields = (time, kind, vm, vcpu, cause, pc & MASK64, insn & 0xFFFF_FFFF, tval & MASK64,
                  hid, cost)
        try:
            pending.extend(fields)
        except OverflowError:           # (a negative field after all: its bit pattern)
            del pending[len(pending) - len(pending) % BLOCK_WORDS:]
            pending.extend(int(f) & MASK64 for f in fields)
        n = len(pending) // BLOCK_WORDS
        if n >= PENDING:
            self._flush()
            return self._next - 1
        return self._next + n - 1

    def _flush(self) -> None:
        """The pending records into the ring (one batch, as the fast path's go)."""
        if self._pending:
            pending, self._pending = self._pending, array("Q")
            self._store(np.frombuffer(pending, dtype=np.int64).reshape(-1, BLOCK_WORDS))

    def _append(self, r, handler: str) -> int:
        """One record from its fields after seq (RECORD's order, handler as its id; int64
        values, as a block's row holds them)."""
        seq = self._next
        time, kind, vm, vcpu, cause, pc, insn, tval, hid, cost = r
        self._ring[seq % self.capacity] = r
        self._next = seq + 1
        self._counts[(kind, cause)] += 1
        self._handler_counts[handler] += 1
        self._handler_cost[handler] += cost
        return seq

    def extend(self, block: np.ndarray) -> None:
        """Append records written by compiled code (vmlab.hv.fastpath): an int64 array, one
        row per record with the fields from ``time`` on, in RECORD's order; handler ids
        already this trace's.  The same result as calling :meth:`record` for each row."""
        if len(block) < PENDING:            # onto the pending records (as bytes: the same
            # words), stored with them in one batch: a drain of a few records costs ~1 µs
            self._pending.frombytes(np.ascontiguousarray(block, dtype=np.int64).tobytes())
            if len(self._pending) >= PENDING * BLOCK_WORDS:
                self._flush()
            return
        self._flush()                       # (records made before these go first)
        self._store(block)

    def _store(self, block: np.ndarray) -> None:
        """extend's work: the rows into the ring, and into the whole-run counters."""
        n = len(block)
        if n == 0:
            return
        if n <= SMALL_BATCH:                # a few: row by row is cheaper than numpy's set-up
            for r in block.tolist():
                self._append(r, self.names[r[8]])
            return
        # Whole rows into the ring: the block's rows are the ring's (one copy up to the
        # ring's end, one after the wrap).  A packed structured ring took ~80 ns a record
        # here, its fields at unaligned offsets copied column by column; readers pay the
        # conversion instead, for the records they read.
        keep = block[-self.capacity:]
        first = (self._next + n - len(keep)) % self.capacity
        head = min(len(keep), self.capacity - first)       # up to the ring's end, then wrap
        self._ring[first:first + head] = keep[:head]
        self._ring[:len(keep) - head] = keep[head:]
        self._next += n
        self._count(block)

    def _count(self, block: np.ndarray) -> None:
        """The whole-run counters for a batch of records (as extend takes them): one compiled
        pass (vmlab.hv.fast_trace.tally); Python then touches each distinct key once."""
        col = BLOCK_COLUMN
        hcount = np.zeros(len(self.names), dtype=np.int64)
        hcost = np.zeros(len(self.names), dtype=np.int64)
        keys, counts = self._tally_keys
        nkeys = tally(block, col["kind"], col["cause"], col["handler"], col["cost"],
                      keys, counts, hcount, hcost)
        if nkeys < 0:                       # (many distinct causes, or an unknown handler)
            self._count_numpy(block)
            return
        for key, k in zip(keys[:nkeys].tolist(), counts[:nkeys].tolist()):
            self._counts[(key >> 48, key & ((1 << 48) - 1))] += k
        self._add_handlers(hcount, hcost)

    def _count_numpy(self, block: np.ndarray) -> None:
        """_count for any block: numpy sorts it for the distinct keys."""
        col = BLOCK_COLUMN
        keys, counts = np.unique(block[:, col["kind"]] << 48 | block[:, col["cause"]],
                                 return_counts=True)
        for key, k in zip(keys.tolist(), counts.tolist()):
            self._counts[(key >> 48, key & ((1 << 48) - 1))] += k
        handler = block[:, col["handler"]]
        self._add_handlers(np.bincount(handler, minlength=len(self.names)),
                           np.bincount(handler, weights=block[:, col["cost"]],
                                       minlength=len(self.names)))

    def _add_handlers(self, seen: np.ndarray, cost: np.ndarray) -> None:
        for hid in np.flatnonzero(seen).tolist():
            name = self.names[hid]
            self._handler_counts[name] += int(seen[hid])
            self._handler_cost[name] += int(cost[hid])

    # --- reading (each reader first stores what record() left pending) -------------------------
    @property
    def counts(self) -> Counter:
        """(kind, cause) -> records ever written."""
        self._flush()
        return self._counts

    @property
    def handler_counts(self) -> Counter:
        """handler name -> records ever written with it."""
        self._flush()
        return self._handler_counts

    @property
    def handler_cost(self) -> Counter:
        """handler name -> the simulated ns its records cost, in all."""
        self._flush()
        return self._handler_cost

    def __len__(self) -> int:
        """Records still held (at most ``capacity``; none before the last clear)."""
        return min(self.total - self._first, self.capacity)

    @property
    def total(self) -> int:
        """Records ever written."""
        return self._next + len(self._pending) // BLOCK_WORDS

    def since(self, seq: int = 0) -> np.ndarray:
        """Records with sequence number >= ``seq`` that are still held, oldest first (a copy)."""
        self._flush()
        first = max(seq, self._next - self.capacity, self._first)
        if first >= self._next:
            return np.zeros(0, dtype=RECORD)
        seqs = np.arange(first, self._next)
        rows = self._ring[seqs % self.capacity]
        out = np.empty(len(rows), dtype=RECORD)
        out["seq"] = seqs
        for i, name in enumerate(RECORD.names[1:]):
            # (the same bits: int64 words read as the field's type, as a store would cast)
            out[name] = rows[:, i].view(np.uint64) if RECORD[name] == np.uint64 else rows[:, i]
        return out

    def records(self, kind: int | None = None) -> np.ndarray:
        rec = self.since(0)
        return rec if kind is None else rec[rec["kind"] == kind]

    def events(self, seq: int = 0) -> list[Event]:
        return [self._event(r) for r in self.since(seq)]

    def _event(self, r) -> Event:
        return Event(int(r["seq"]), int(r["time"]), KIND_NAMES[r["kind"]], int(r["vm"]),
                     int(r["vcpu"]), int(r["cause"]), int(r["pc"]), int(r["insn"]),
                     int(r["tval"]), self.names[r["handler"]], int(r["cost"]))

    def count(self, kind: int, cause: int | None = None) -> int:
        """How many records of ``kind`` (and ``cause``) were ever written."""
        if cause is not None:
            return self.counts[(kind, cause)]
        return sum(n for (k, _), n in self.counts.items() if k == kind)

    def by_cause(self, kind: int = EXIT) -> dict[int, int]:
        return {c: n for (k, c), n in sorted(self.counts.items()) if k == kind}

    def clear(self) -> None:
        """Forget everything (counters included); sequence numbers keep increasing."""
        first = self.total
        self.__init__(self.capacity)
        self._next = self._first = first

    def __repr__(self) -> str:
        return (f"<Trace {self.total} records ({self.count(EXIT)} exits, {self.count(INJECT)} "
                f"injections, {self.count(SHADOW)} shadow events)>")
