"""vmlab.viz: widgets that watch a guest run.

Every widget reads a *model* -- a Machine through its public API, a hypervisor trace, a
page-table root -- when ``refresh()`` is called, and never writes machine state itself.
:class:`RunControl` runs a guest on a background thread and refreshes its views a few times
a second, so watching costs the guest only a few percent of its speed.

- :class:`Registers`, :class:`Console`, :class:`TrapLog` (+ :class:`TrapRecorder`)
- :class:`PageTableTree`, :class:`WalkView` (both on :mod:`vmlab.sv39`)
- :class:`RunControl`, :class:`Dashboard`, :class:`FilterTable`
- :class:`GuestVsShadow` (guest tables beside the hypervisor's shadow tables)
"""
from __future__ import annotations

from vmlab.viz._base import Throttle, machine_read64
from vmlab.viz.console import Console
from vmlab.viz.dashboard import Dashboard
from vmlab.viz.pagetable import PageTableTree
from vmlab.viz.walk import WalkView
from vmlab.viz.registers import Registers
from vmlab.viz.runcontrol import RunControl
from vmlab.viz.shadow import GuestVsShadow
from vmlab.viz.table import FilterTable
from vmlab.viz.tlb import TlbView
from vmlab.viz.traps import TrapLog, TrapRecorder

__all__ = ["Registers", "Console", "TrapLog", "TrapRecorder", "PageTableTree", "WalkView",
           "RunControl", "Dashboard", "FilterTable", "GuestVsShadow", "TlbView", "Throttle", "machine_read64"]
