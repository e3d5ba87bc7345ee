"""The console rings between the UART model and Python: output the guest wrote, input typed.

The compiled UART model writes transmitted bytes into an output ring in ``io`` and reads
received bytes from an input ring after it; the head/tail counters live in ``ctl`` and only
ever grow (the ring index is the counter modulo the ring size).  These two functions are the
Python side of both rings, shared by the bare machine and by the hypervisor's per-VM UART.
"""
from __future__ import annotations

from vmlab.machine import layout as L
from vmlab.machine.devices import uart_update


def drain_output(io, ctl) -> bytes:
    """Everything in the output ring since the last call (and mark it consumed)."""
    head, tail = int(ctl[L.C_OUT_HEAD]), int(ctl[L.C_OUT_TAIL])
    if head == tail:
        return b""
    a, b = tail & (L.OUT_BYTES - 1), head & (L.OUT_BYTES - 1)
    data = io[a:b].tobytes() if a < b else io[a:L.OUT_BYTES].tobytes() + io[:b].tobytes()
    ctl[L.C_OUT_TAIL] = head
    return data


def feed_input(io, ctl, dev, pending: bytearray) -> None:
    """Move typed bytes from ``pending`` into the input ring as far as it has room (what does
    not fit stays in ``pending``), then let the UART raise its receive interrupt."""
    head, tail = int(ctl[L.C_IN_HEAD]), int(ctl[L.C_IN_TAIL])
    take = pending[:L.IN_BYTES - (head - tail)]
    for b in take:
        io[L.OUT_BYTES + (head & (L.IN_BYTES - 1))] = b
        head += 1
    del pending[:len(take)]
    ctl[L.C_IN_HEAD] = head
    uart_update(dev, ctl)
