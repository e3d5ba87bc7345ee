"""A vCPU of the hardware-assisted backend: the guest runs on the real hart in VS/VU mode.

Under trap-and-emulate the virtual hart is a row the hypervisor interprets and only the
guest's registers go onto the real hart.  Here the row *is* a whole hart -- every CSR, the
VS copies the guest uses as its own sstatus/satp/stvec..., the hypervisor's hstatus,
hedeleg, hideleg, hgatp -- and the world switch copies it onto the real hart and back.
While it is off the hart, the row holds the guest exactly as it would go on running
(V=1, its privilege, its pc), so the SBI, MMIO and reflect code shared with the shadow
backend read and write its registers the same way.

How an exit reaches Python: the hart's stvec (HS-mode's trap vector) is an address with a
machine breakpoint on it, so the run stops before the first instruction of "HS-mode".
The exit's cause, tval, htval, htinst and sepc are read there, and the hypervisor's sret
(V := hstatus.SPV, pc := sepc) turns the row back into the running guest.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv import hw_exits
from vmlab.hv.exit_types import Exit
from vmlab.hv.vcpu import VCpu, guest_gpa
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64, i64, u64, words
from vmlab.machine.csr import STCE, VS_REDIRECT, reset_csrs
from vmlab.machine.devices import plic_best
from vmlab.machine.loop import run as machine_run
from vmlab.machine.names import csr_number
from vmlab.machine.mmu import CTX_SPACE, CTX_VIRT, CTX_VMID_SHIFT, tlb_flush
from vmlab.machine.rvc import expansion_table
from vmlab.machine.trap import sret

FAR = 1 << 62
NS_PER_TICK = 100
#: the VS interrupts the hypervisor drives through hvip (the guest's SSIP it may clear itself)
DRIVEN = L.MIP_VSTIP | L.MIP_VSEIP


class HwVCpu:
    """One virtual hart of ``vm`` under the hw backend; runs on real hart ``hart``."""

    def __init__(self, vm, vcpu_id: int, hart: int = 0):
        self.vm, self.id, self.hart = vm, vcpu_id, hart
        self.row = vm.rows[vcpu_id]
        self.w = words(self.row)             # its words as unsigned ints (as VCpu.w)
        reset_csrs(self.row)                 # (misa keeps H: this row is the real hart;
        #                                      the guest learns its ISA from its device tree)
        self.row[L.RES_ADDR] = -1
        self.started = False
        self.sbi_timer = MASK64               # SBI set_timer / stimecmp deadline, mtime ticks
        self.tlb_stale = True                 # flush this VMID's translations on entry
        self.instructions = 0
        self.each_exit = False
        self.yield_requested = False
        self.sta_gpa = None
        self.sta_update = False

    # --- the registers, as the shared handlers use them ---------------------------------
    @property
    def priv(self) -> int:
        return int(self.row[L.PRIV])

    @property
    def pc(self) -> int:
        return u64(self.row[L.PC])

    def set_pc(self, gva: int) -> None:
        self.row[L.PC] = i64(gva)

    def reg(self, i: int) -> int:
        return u64(self.row[L.XREG + i])

    def set_reg(self, i: int, value: int) -> None:
        if i:
            self.row[L.XREG + i] = i64(value)

    def csr(self, name_or_number) -> int:
        """A CSR as the guest reads it: its satp, sstatus, stvec ... are the hart's VS
        copies (the machine's own redirect table); stored values, views not applied."""
        num = csr_number(name_or_number) if isinstance(name_or_number, str) else name_or_number
        return u64(self.row[VS_REDIRECT[num]])

    def retire(self, insn: int = 0) -> None:
        """An instruction the hypervisor emulated completed: count it in minstret."""
        if not self.row[L.MCOUNTINHIBIT] & 4:
            self.row[L.MINSTRET] += 1

    def start_in_s(self, pc: int, a1: int) -> None:
        """HSM hart_start: VS-mode, vsatp Bare, its interrupts off, a0 = id, a1 = opaque."""
        self.vm.hw.hand_over(self)
        self.row[L.PC] = i64(pc)
        self.row[L.VSATP] = 0
        self.row[L.VSSTATUS] &= ~L.MS_SIE
        self.set_reg(10, self.id)
        self.set_reg(11, a1)
        self.started = True

    # --- the virtual interrupt lines: hvip ------------------------------------------------
    def update_lines(self) -> None:
        """hvip from the devices: VSEIP from the virtual PLIC's S context of this vCPU,
        VSTIP from the timer deadline (level signals), VSSIP from an SBI IPI (which the
        shared code posts as SSIP: moved to VSSIP, where the guest clears it itself)."""
        vm, row = self.vm, self.row
        now = vm.time()
        vm.devices.dev[L.D_TICKS], vm.devices.ctl[L.C_SLICE_POS] = now, 0
        lines = 0
        if plic_best(vm.devices.dev, 2 * self.id + 1):
            lines |= L.MIP_VSEIP
        if self.sbi_timer < FAR // NS_PER_TICK and now // NS_PER_TICK >= self.sbi_timer:
            lines |= L.MIP_VSTIP
        mip = int(row[L.MIP])
        if mip & L.MIP_SSIP:
            mip = (mip & ~L.MIP_SSIP) | L.MIP_VSSIP
        row[L.MIP] = (mip & ~DRIVEN) | lines
        row[L.MIP] &= ~L.MIP_STIP            # (the shared SBI code clears the S bit)
        own = L.MIP_VSTIP if self._vstimecmp_due(now) else 0
        row[L.HWIP] = (int(row[L.HWIP]) & ~L.MIP_VSTIP) | own    # (as the hart computes it)

    def _vstimecmp(self) -> int:
        """The guest's own timer deadline in its mtime ticks (Sstc: vstimecmp), or FAR."""
        row = self.row
        if not (row[L.HENVCFG] & STCE and row[L.MENVCFG] & STCE):
            return FAR
        return min(u64(row[L.VSTIMECMP]) - u64(row[L.HTIMEDELTA]) & MASK64, FAR)

    def _vstimecmp_due(self, now: int) -> bool:
        return now // NS_PER_TICK >= self._vstimecmp()

    def exit_deadline(self) -> int:
        """Simulated ns at which the run must stop for the host timer: the SBI timer's
        deadline (FAR: none, or its line is already up).  The guest's vstimecmp needs no
        exit: the hart raises VSTIP itself."""
        t = self.sbi_timer
        if t >= FAR // NS_PER_TICK or self.row[L.MIP] & L.MIP_VSTIP:
            return FAR
        return t * NS_PER_TICK

    def next_deadline(self) -> int:
        """Simulated ns of the next timer event of either kind: how far an idle VM may
        skip its clock while every vCPU waits."""
        own = self._vstimecmp()
        own = FAR if own >= FAR // NS_PER_TICK else own * NS_PER_TICK
        return min(self.exit_deadline(), own)

    def pending(self) -> int:
        """VS interrupts pending and enabled (vsie): what wakes a wfi."""
        return int((self.row[L.MIP] | self.row[L.HWIP]) & self.row[L.MIE] & L.MIP_VS_BITS)

    # --- the world switch -----------------------------------------------------------------
    def _enter(self) -> np.ndarray:
        """Put the guest's hart onto the real one; returns the real hart's own state."""
        m, hv = self.vm.machine, self.vm.hv
        host = m.cpu[self.hart].copy()
        if hv.last_on_hart.get(self.hart) is not self or self.tlb_stale:
            # HFENCE.GVMA for this VMID: another vCPU of the VM may have used the same ASIDs
            tlb_flush(m.tlb, self.hart, 0, 0, True, True,
                      CTX_VIRT | (self.vm.hw.vmid << CTX_VMID_SHIFT), CTX_SPACE)
            self.tlb_stale = False
        hv.last_on_hart[self.hart] = self
        m.cpu[self.hart] = self.row
        for pc in self.vm.hw.vectors:          # armed only while a hw guest is on the hart:
            m.add_breakpoint(pc)               # a shadow guest's pc may have any value
        return host

    def _leave(self, host: np.ndarray) -> None:
        m = self.vm.machine
        for pc in self.vm.hw.vectors:
            m.remove_breakpoint(pc)
        self.row[:] = m.cpu[self.hart]
        m.cpu[self.hart] = host

    def _run_real(self, budget: int) -> tuple[int, int]:
        """The machine's run loop, traps taken as the hardware takes them (no F_TRAP_EXIT):
        the ones delegated to VS never leave the guest."""
        m = self.vm.machine
        m.ctl[L.C_FLAGS] = 0
        m.ctl[L.C_CUR_HART] = self.hart
        m.ctl[L.C_BUDGET] = budget
        m.ctl[L.C_SKIP_BP] = 1
        code = machine_run(m.cpu, m.mem, m.tlb, m.dev, m.io, m.ctl, expansion_table())
        return int(code), budget - int(m.ctl[L.C_BUDGET])

    # --- KVM_RUN ----------------------------------------------------------------------------
    def run(self, budget: int = 2_000_000) -> Exit:
        """Run the guest until one exit (handled before returning), the next timer deadline
        (recorded as the host timer's exit) or ``budget`` instructions."""
        vm = self.vm
        if vm.stopped:
            return Exit(vm.stopped[0], pc=self.pc, priv=self.priv)
        if not self.started:
            return Exit("stopped", pc=self.pc, priv=self.priv)
        self.update_lines()
        if self.row[L.WAITING]:
            if not self.pending():
                return Exit("idle", pc=self.pc, priv=self.priv)
            self.row[L.WAITING] = 0
        now, deadline = vm.time(), self.exit_deadline()
        limit = max(1, min(budget, deadline - now) if deadline > now else budget)
        host = self._enter()
        code, steps = self._run_real(limit)
        self._leave(host)
        self.instructions += steps
        ex = self._after_run(code, deadline, steps)
        ex.instructions = steps
        if vm.stopped:
            ex.reason = vm.stopped[0]
        return ex

    def _after_run(self, code: int, deadline: int, steps: int) -> Exit:
        vm = self.vm
        if code == L.EXIT_BREAKPOINT and not self.row[L.VIRT]:
            return hw_exits.dispatch(self, self._take_exit())
        if code == L.EXIT_BREAKPOINT:          # the guest's own pc was the vector's value
            return Exit("budget", pc=self.pc, priv=self.priv)
        if code == L.EXIT_BUDGET and vm.time() >= deadline:
            return hw_exits.timer_exit(self, steps)
        if code == L.EXIT_BUDGET:
            return Exit("budget", pc=self.pc, priv=self.priv)
        raise RuntimeError(f"unexpected machine exit {code} under the hw backend")

    def _take_exit(self) -> hw_exits.HsTrap:
        """Read what HS-mode got, then sret: the row is the running guest again."""
        row = self.row
        if u64(row[L.PC]) != self.vm.hw.exit_vector:
            raise RuntimeError(f"a trap reached M-mode (mcause {u64(row[L.MCAUSE]):#x}, "
                               f"mepc {u64(row[L.MEPC]):#x}): the hw backend's set-up is wrong")
        trap = hw_exits.HsTrap(u64(row[L.SCAUSE]), u64(row[L.STVAL]), u64(row[L.HTVAL]) << 2,
                               u64(row[L.HTINST]), u64(row[L.SEPC]))
        sret(row)
        return trap

    # --- reading guest memory as the guest sees it ------------------------------------------
    def gva_to_gpa(self, gva: int, access: str = "load") -> int | None:
        """Translate with the guest's own tables (vsatp, the reference walker)."""
        return guest_gpa(self.vm.mem, u64(self.row[L.VSATP]), int(self.row[L.VSSTATUS]), gva,
                         access, self.priv)

    read_guest = VCpu.read_guest          # the same read, through this vCPU's gva_to_gpa

    def __repr__(self) -> str:
        return f"<HwVCpu {self.vm.id}.{self.id} V{'US'[min(self.priv, 1)]} pc={self.pc:#x}>"
