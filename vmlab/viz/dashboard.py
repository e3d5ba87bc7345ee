"""One live view of a machine: run control, registers, console and trap log together."""
from __future__ import annotations

import ipywidgets

from vmlab.viz.console import Console
from vmlab.viz.registers import Registers
from vmlab.viz.runcontrol import RunControl
from vmlab.viz.traps import TrapLog, TrapRecorder


class Dashboard(ipywidgets.VBox):
    """``Dashboard(machine)``: everything a student watches while a bare-metal guest runs.

    The parts stay reachable (``.control``, ``.registers``, ``.console``, ``.traps``,
    ``.recorder``) so a lab can drive the run from Python: ``dash.control.run(10_000_000,
    background=False)`` runs in the cell and the views update as it goes.
    """

    def __init__(self, machine, *, on_reset=None, rate: float = 5.0, **kwargs):
        self.machine = machine
        self.recorder = TrapRecorder(machine)
        self.registers = Registers(machine)
        self.console = Console(machine)
        self.traps = TrapLog(self.recorder.trace)
        self.control = RunControl(machine, [self.registers, self.console, self.traps],
                                  recorder=self.recorder, on_reset=on_reset, rate=rate)
        super().__init__([self.control, self.registers, self.console, self.traps], **kwargs)

    def run(self, instructions: int | None = None, *, background: bool = False):
        return self.control.run(instructions, background=background)

    def __repr__(self) -> str:
        return "<vmlab Dashboard>"
