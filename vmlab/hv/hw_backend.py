"""The hw backend of a VM: what a hypervisor on the H extension sets up once per VM.

``Hypervisor.create_vm(backend="hw")`` gives the VM one of these (``vm.hw``).  It owns

- the VM's **G-stage** (:class:`vmlab.hv.hwassist.GStage`, Sv39x4, tagged with the VM's
  VMID): filled on demand from the same GPA -> HPA map the shadow backend composes its
  shadow tables from -- one entry per guest page serves every guest mapping of it;
- the **exit vector**: HS-mode's stvec, an address with a machine breakpoint, where the run
  stops when the hart sends a trap to HS-mode (and a second one on mtvec, which nothing
  should ever reach);
- the hand-over: each vCPU's hart row set up as a hypervisor leaves a hart before its sret
  into the guest (:meth:`HwBackend.hand_over`).

There are no shadow tables: ``vm.shadow`` is a :class:`NoShadow`, which says so and answers
the few calls the shared code makes (SBI remote fences become a flush of the VM's VMID).
"""
from __future__ import annotations

from collections import Counter

from vmlab.hv.hw_vcpu import HwVCpu
from vmlab.hv.hwassist import GStage
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.csr import STCE
from vmlab.machine.mmu import CTX_SPACE, CTX_VIRT, CTX_VMID_SHIFT, tlb_flush
from vmlab.isa.csrs import field_mask

#: HS-mode's trap vector and M-mode's: host addresses the run stops at (breakpoints); no
#: code is ever fetched there.  Page 0: no guest executes at virtual address 0x100.
EXIT_VECTOR, M_VECTOR = 0x100, 0x200
#: what the guest kernel handles itself, as OpenSBI delegates to a kernel on a bare hart:
#: misaligned/access faults, illegal instruction, breakpoint, ecall from U, page faults
HEDELEG_GUEST = 0xB1FF
#: medeleg: everything but ecall from M goes to HS (and from there to VS if hedeleg says)
MEDELEG_ALL = HEDELEG_GUEST | (1 << L.CAUSE_ECALL_VS) | (1 << L.CAUSE_ECALL_S) | sum(
    1 << c for c in (L.CAUSE_FETCH_GUEST_PAGE, L.CAUSE_LOAD_GUEST_PAGE, L.CAUSE_VIRTUAL,
                     L.CAUSE_STORE_GUEST_PAGE))
MS_FS = field_mask("mstatus", "FS")


class NoShadow:
    """``vm.shadow`` under hw: there are no shadow page tables -- the hart walks the guest's
    own tables over the G-stage.  Empty where the widgets look (roots, counters)."""

    strategy = "none (two-stage translation by the hart)"
    write_protect = False
    device_ranges = ()

    def __init__(self, backend: "HwBackend"):
        self.backend = backend
        self.roots: dict = {}
        self.counters: Counter = Counter()

    def sfence(self, vcpu, gva=None, asid=None) -> None:
        """An SBI remote sfence.vma: HFENCE.VVMA on the target's next entry."""
        vcpu.tlb_stale = True

    def after_pt_write(self, vcpu, gpa: int) -> None:
        """The hypervisor wrote a guest PTE for it (paravirtual MMU_UPDATE): the hart may
        hold the old translation, so HFENCE.VVMA before the guest runs again."""
        vcpu.tlb_stale = True

    def invalidate_gpa(self, gpa: int) -> None:
        """The page's host frame changed (swap, sharing, balloon): drop its G-stage entry."""
        self.backend.unmap(gpa)

    def reset(self) -> None:
        """(Reboot: the G-stage stays valid, RAM and its map are kept.)"""

    def __repr__(self) -> str:
        return "<NoShadow: the hw backend has no shadow page tables>"


class HwBackend:
    """The H-extension hypervisor's state for one VM (its VMID, G-stage, exit vector)."""

    def __init__(self, vm):
        self.vm, self.vmid = vm, vm.id + 1
        self.gstage = GStage(vm.machine, vm.frames, vm.mem, self.vmid)
        self.exit_vector = EXIT_VECTOR
        for pc in (EXIT_VECTOR, M_VECTOR):
            vm.machine.add_breakpoint(pc)
        self.shadow = NoShadow(self)

    def new_vcpu(self, vcpu_id: int) -> HwVCpu:
        return HwVCpu(self.vm, vcpu_id)

    def hand_over(self, v: HwVCpu) -> None:
        """The vCPU's hart as HS-mode leaves it for the guest kernel: VS-mode (V=1, S),
        traps to HS at the exit vector, the guest's own traps delegated to it, its
        interrupts (VS*) to it through hideleg, wfi trapping (VTW), counters readable,
        Sstc's stimecmp on (a virtual instruction: emulated), FP on at the HS level."""
        r = v.row
        r[L.PRIV], r[L.VIRT] = L.PRIV_S, 1
        r[L.STVEC], r[L.MTVEC] = EXIT_VECTOR, M_VECTOR
        r[L.MEDELEG], r[L.HEDELEG], r[L.HIDELEG] = MEDELEG_ALL, HEDELEG_GUEST, L.MIP_VS_BITS
        r[L.MIDELEG] = L.MIP_VS_BITS
        r[L.HSTATUS] |= L.HS_SPV | L.HS_SPVP | L.HS_VTW
        r[L.HGATP] = i64(self.gstage.hgatp)
        r[L.MCOUNTEREN] = r[L.HCOUNTEREN] = 7
        r[L.MENVCFG] = STCE
        r[L.MSTATUS] |= MS_FS
        r[L.MIE] = 0                           # the guest's vsie starts off

    def unmap(self, gpa: int) -> None:
        if self.gstage.unmap(gpa):
            hart = 0
            m = self.vm.machine
            tlb_flush(m.tlb, hart, 0, 0, True, True, CTX_VIRT | (self.vmid << CTX_VMID_SHIFT),
                      CTX_SPACE)
