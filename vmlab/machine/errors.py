"""Errors raised by the machine's Python side."""
from __future__ import annotations


class MachineError(Exception):
    """Something the machine cannot do (a bad image, an impossible configuration)."""


class BusError(MachineError):
    """A device tried to reach a physical address that no RAM backs (e.g. a bad DMA address)."""
