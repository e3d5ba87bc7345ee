"""The register view: x1..x31, pc and privilege, with what changed since the last look."""
from __future__ import annotations

import traitlets

from vmlab.viz._base import Widget, esm

ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3",
       "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
       "t3", "t4", "t5", "t6"]
PRIV = {0: "U", 1: "S", 3: "M"}
#: a vCPU's virtual S-mode CSRs, shown under its registers (the trap-and-emulate state)
VIRTUAL_CSRS = ("sstatus", "sie", "sip", "stvec", "sscratch", "sepc", "scause", "stval", "satp")


class Registers(Widget):
    """Shows a hart's registers; ``refresh()`` re-reads them and marks the changed ones.

    Works on anything with ``reg(i)``, ``pc`` and ``priv`` -- a Machine, or a hypervisor's
    vCPU -- so the same view shows a bare machine and a virtual CPU.  For a vCPU it also
    shows the *virtual* CSRs the hypervisor emulates (``csrs``), read as the guest reads them.
    """

    _esm = esm("registers")
    regs = traitlets.List([]).tag(sync=True)
    changed = traitlets.List([]).tag(sync=True)
    pc = traitlets.Unicode("").tag(sync=True)
    priv = traitlets.Unicode("").tag(sync=True)
    instret = traitlets.Int(0).tag(sync=True)
    csrs = traitlets.List([]).tag(sync=True)

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

    def virtual_csrs(self) -> dict[str, int]:
        """A vCPU's virtual S-mode CSRs ({} for a bare machine, whose CSRs are real)."""
        h = self.hart
        if not hasattr(h, "vm") or not callable(getattr(h, "csr", None)):
            return {}
        return {name: h.csr(name) & (2**64 - 1) for name in VIRTUAL_CSRS}

    def refresh(self) -> None:
        values = self.read()
        csrs = self.virtual_csrs()
        changed_csrs = [k for k, v in csrs.items() if k in self._values and self._values[k] != v]
        changed = [k for k, v in values.items() if self._values.get(k, v) != v]
        self._values = {**values, **csrs}
        counters = getattr(self.hart, "counters", None)
        with self.hold_sync():
            self.regs = [[k, f"{v:#018x}"] for k, v in values.items() if k != "pc"]
            self.changed = changed + changed_csrs
            self.csrs = [[k, f"{v:#018x}"] for k, v in csrs.items()]
            self.pc = f"{values['pc']:#x}"
            self.priv = PRIV.get(self.hart.priv, str(self.hart.priv))
            if counters is not None:                 # a Machine
                self.instret = counters["instructions"]
            else:                                    # a vCPU counts its own
                self.instret = int(getattr(self.hart, "instructions", 0))
            self.updates += 1
