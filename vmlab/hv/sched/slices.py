"""The schedule as slices, read back from the host's trace (what the timeline draws).

A slice is one vCPU's stretch on one pCPU, from its switch-in record to the record that
took it off (switch-out, block, yield, halt) -- or to ``end`` if it is still running.
Marks are the instants in between worth showing: wakes, deadline misses, co-stops.
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.hv.sched import events as E
from vmlab.hv.trace import SCHED

OFF = (E.SW_OUT, E.BLOCK, E.YIELD, E.HALT)


@dataclass(frozen=True)
class Slice:
    pcpu: int
    start: int          # ns
    end: int
    vm: int
    vcpu: int
    why: str            # the policy's reason for the switch-in
    left: str           # what ended it ("" while it runs)


@dataclass(frozen=True)
class Mark:
    time: int
    vm: int
    vcpu: int
    kind: str           # a name from events.NAMES
    detail: str


def slices(trace, end: int | None = None) -> list[Slice]:
    """Every slice in the trace, in the order they started."""
    open_: dict[tuple, tuple] = {}          # (vm, vcpu) -> (pcpu, start, why)
    done: list[Slice] = []
    names = trace.names
    for r in trace.records(SCHED):
        key, cause = (int(r["vm"]), int(r["vcpu"])), int(r["cause"])
        if cause == E.SW_IN:
            open_[key] = (int(r["tval"]), int(r["time"]), names[r["handler"]])
        elif cause in OFF and key in open_:
            pcpu, start, why = open_.pop(key)
            done.append(Slice(pcpu, start, int(r["time"]), *key, why, E.NAMES[cause]))
    last = end if end is not None else max((s.end for s in done), default=0)
    for key, (pcpu, start, why) in open_.items():
        done.append(Slice(pcpu, start, max(last, start), *key, why, ""))
    return sorted(done, key=lambda s: (s.start, s.pcpu))


def marks(trace) -> list[Mark]:
    names = trace.names
    return [Mark(int(r["time"]), int(r["vm"]), int(r["vcpu"]), E.NAMES[int(r["cause"])],
                 names[r["handler"]])
            for r in trace.records(SCHED) if int(r["cause"]) in (E.WAKE, E.MISS, E.COSTOP)]
