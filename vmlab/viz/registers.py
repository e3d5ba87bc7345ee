"""The register view: x1..x31, pc and privilege, with what changed since the last look."""
from __future__ import annotations

import traitlets

from vmlab.viz._base import Widget, esm

ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3",
       "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
       "t3", "t4", "t5", "t6"]
PRIV = {0: "U", 1: "S", 3: "M"}


class Registers(Widget):
    """Shows a hart's registers; ``refresh()`` re-reads them and marks the changed ones.

    Works on anything with ``reg(i)``, ``pc`` and ``priv`` -- a Machine, or a hypervisor's
    vCPU -- so the same view shows a bare machine and a virtual CPU.
    """

    _esm = esm("registers")
    regs = traitlets.List([]).tag(sync=True)
    changed = traitlets.List([]).tag(sync=True)
    pc = traitlets.Unicode("").tag(sync=True)
    priv = traitlets.Unicode("").tag(sync=True)
    instret = traitlets.Int(0).tag(sync=True)

    def __init__(self, hart, **kwargs):
        super().__init__(**kwargs)
        self.hart = hart
        self._values: dict[str, int] = {}
        self.refresh()

    def read(self) -> dict[str, int]:
        h = self.hart
        values = {name: h.reg(i) & (2**64 - 1) for i, name in enumerate(ABI) if i}
        values["pc"] = h.pc & (2**64 - 1)
        return values

    def refresh(self) -> None:
        values = self.read()
        changed = [k for k, v in values.items() if self._values.get(k, v) != v]
        self._values = values
        counters = getattr(self.hart, "counters", None)
        with self.hold_sync():
            self.regs = [[k, f"{v:#018x}"] for k, v in values.items() if k != "pc"]
            self.changed = changed
            self.pc = f"{values['pc']:#x}"
            self.priv = PRIV.get(self.hart.priv, str(self.hart.priv))
            if counters is not None:                 # a Machine
                self.instret = counters["instructions"]
            else:                                    # a vCPU counts its own
                self.instret = int(getattr(self.hart, "instructions", 0))
            self.updates += 1
