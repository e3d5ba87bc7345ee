"""vmlab.viz: widgets that watch a guest run, and draw what it does.

Every widget reads a *model* -- a Machine through its public API, a hypervisor trace or
VM, a page-table root -- when ``refresh()`` is called, and never writes machine state
itself.  :class:`RunControl` runs a guest on a background thread and refreshes its views a
few times a second, so watching costs the guest only a few percent of its speed.

- :class:`Registers`, :class:`Console`, :class:`TrapLog` (+ :class:`TrapRecorder`)
- :class:`WalkView`: one translation drawn, level by level (animated, steppable); it can
  follow the guest's newest page fault while the guest runs
- :class:`PageTableTree`: the Sv39 tree drawn as tables and arrows; collapsible,
  searchable, summarised where big
- :class:`GuestVsShadow`: gva -> gpa -> hpa and the hypervisor's shadow gva -> hpa
- :class:`TlbView`: the machine's TLB sets, hits and misses, what a flush removed
- :class:`TwoStageWalkView`: a guest's two-stage (VS over G) translation, every memory
  reference numbered in the hardware's order -- the 15-reference picture -- beside the
  shadow walk of the same address
- :class:`ExitBreakdown`: exits per technique as stacked bars (a segment per handler, with
  counts and modelled cycles), from traces or a ``vmlab nanobench`` report
- :class:`RunControl`, :class:`Dashboard`, :class:`FilterTable`
- predict-then-reveal: :class:`WalkView` and :class:`ExitCounts` with ``predict=True`` hide
  the answer until the student has given theirs (``answer()``, or the field in the widget)

The pictures are data: Python lays out boxes, arrows and labels (:mod:`vmlab.viz.scene`),
tests check them against the reference walker, and ``js/scene.js`` draws them as SVG.

One visual language (the colours live in :mod:`vmlab.viz.style`, the rest in
``js/vmlab.css``; later widgets use the same roles rather than new colours):

=================  =========================================================================
address fields     VPN[2] orange, VPN[1] green, VPN[0] blue, offset grey -- the field, the
                   arrow it sends into its table and the slot it selects share the colour
entries            pointer to a table: sand; leaf: pale green; invalid (V=0): grey text on
                   grey; a superpage's leaf has an orange outline; PTE flag cells are lit
                   blue when set (V R W X U G A D, always in that order)
faults             red outline, a cross and the word "fault", with the walker's reason
                   (never colour alone)
shadow paging      guest's map (gva -> gpa) orange arrows, hypervisor's map (gpa -> hpa)
                   green, shadow (gva -> hpa) blue; filled: solid pale blue, not yet:
                   dashed white; narrowed permissions: amber with the reason in words
two-stage walks    the same roles: VS stage (the guest's tables) orange, G stage (the
                   hypervisor's) green, the shadow walk beside them blue; each memory
                   reference numbered #1..#15 in the order the hardware makes it
privilege          U green, S blue, M purple (``style.PRIV``)
kinds of exit      ecall/SBI blue, CSR/privileged instruction purple, page fault orange,
                   MMIO teal, interrupt grey (``style.EXIT``)
VMs                one colour each, ``style.vm_colour(vm.id)``, as a stripe by the title
change             what changed since the last refresh flashes yellow once
fonts              the notebook's code font (monospace) for every number and label
legend             under each picture, only the roles that picture uses
=================  =========================================================================

Without a browser (a terminal, ``nbconvert --to text``) each picture widget shows itself
as text: its ``text()``, also what ``text/plain`` carries.
"""
from __future__ import annotations

from vmlab.viz._base import Throttle, machine_read64
from vmlab.viz.console import Console
from vmlab.viz.dashboard import Dashboard
from vmlab.viz.exitchart import ExitBreakdown
from vmlab.viz.exitcounts import ExitCounts
from vmlab.viz.pagetable import PageTableTree
from vmlab.viz.walk import WalkView
from vmlab.viz.walk2 import TwoStageWalkView
from vmlab.viz.registers import Registers
from vmlab.viz.runcontrol import RunControl
from vmlab.viz.shadow import GuestVsShadow
from vmlab.viz.table import FilterTable
from vmlab.viz.tlb import TlbView
from vmlab.viz.traps import TrapLog, TrapRecorder

__all__ = ["Registers", "Console", "TrapLog", "TrapRecorder", "PageTableTree", "WalkView",
           "RunControl", "Dashboard", "FilterTable", "GuestVsShadow", "TlbView", "ExitCounts", "Throttle", "machine_read64",
           "TwoStageWalkView", "ExitBreakdown"]
