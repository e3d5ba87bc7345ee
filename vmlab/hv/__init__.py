"""vmlab.hv: the hypervisor -- trap-and-emulate (shadow paging) or hardware-assisted.

The guest runs deprivileged (real U-mode) on the machine; every privileged act traps out
of the machine's run loop as an exit, and the hypervisor emulates it on the vCPU's virtual
state, or reflects it into the guest as the hardware would have.  Modules:

- ``vm``        Hypervisor (owns the machine's RAM as frames) and VM (memory, devices, vCPUs)
- ``vcpu``      the virtual hart, the world switch, ``vcpu.run(budget) -> Exit``
- ``exit_types`` the Exit record, the modelled costs, and reflect (shared by the handlers)
- ``exits``     the table of exit handlers and dispatch (the readable reference)
- ``fastpath``  the same handlers for the hot exits, compiled: one loop that leaves only for
                the rest (``create_vm(fast_exits=False)`` keeps every exit in Python)
- ``csr_emul``  csr*, sret, mret, wfi, sfence.vma on the virtual hart
- ``sbi``       SBI v2.0 for kernels started in virtual S-mode
- ``mmio``      trapped device accesses: fetch, decode, emulate, step
- ``devices``   a VM's own UART/CLINT/PLIC/test/virtio models
- ``shadow``    shadow page tables (gva -> hpa) built from the guest's tables
- ``memory``    host frames and each VM's gpa -> hpa page map
- ``hostmem``, ``swap``, ``sharing``, ``balloon``, ``reclaim``
                overcommit: a host pool smaller than the guests, swap, page sharing, the
                virtio balloon, and the policy that chooses between them
- ``trace``     the typed log of exits, injections and shadow-paging events
- ``paravirt``  per-VM paravirtual switches (MMU_UPDATE: batched page-table updates)
- ``hwassist``, ``hw_backend``, ``hw_vcpu``, ``hw_exits``
                the hardware-assisted backend (``create_vm(backend="hw")``): the guest runs in
                VS/VU on the H extension; only G-stage faults, SBI ecalls and virtual
                instructions exit
- ``translate`` binary translation for a hart with the Popek-Goldberg quirk
- ``sched``     many VMs on few physical CPUs: the Host, vCPU scheduling policies, metrics
                and a libvirt-style management API

Quick start::

    from vmlab.hv import Hypervisor
    vm = Hypervisor().create_vm(ram_size=64 << 20)
    vm.boot(kernel="kernel.elf")
    vm.run(instructions=10_000_000)
"""
from __future__ import annotations

__all__ = ["Hypervisor", "VM", "VCpu", "Exit", "RootKey", "DIRECT"]


def __getattr__(name):
    # Imported lazily: the VM pulls in the compiled machine.
    if name in ("Hypervisor", "VM"):
        from vmlab.hv import vm
        return getattr(vm, name)
    if name == "VCpu":
        from vmlab.hv.vcpu import VCpu
        return VCpu
    if name == "Exit":
        from vmlab.hv.exit_types import Exit
        return Exit
    if name in ("RootKey", "DIRECT"):          # shadow-tree keys, by name (for the widgets)
        from vmlab.hv import shadow
        return getattr(shadow, name)
    raise AttributeError(name)
