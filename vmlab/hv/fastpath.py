"""The compiled fast path: the hot exits handled without leaving compiled code.

KVM handles its common exits inside the kernel and returns to user space only for the rest.
vmlab does the same: :func:`~vmlab.hv.fast_run.fast_run` is one compiled function that runs
the guest (the machine's own run loop in hypervisor mode) and, when the guest traps, asks
"can I finish this exit here?".  If yes, it does exactly what the Python handler would have
done -- on the same vCPU row, with the machine's own compiled CSR and trap code -- appends
the same trace records, charges the same modelled cost, and enters the guest again.  If no,
it returns, and :meth:`vmlab.hv.vcpu.VCpu.run` hands the exit to the Python handlers
(vmlab.hv.exits), which stay the readable reference.

The pieces, each the compiled twin of the Python code named in brackets:

====================  =============================================================
``fast_state``        the arrays' layouts: hvstate, the roots mirror, the logs
``fast_vhart``        clock, interrupt lines, deadlines, records   [VCpu]
``fast_guest``        guest memory and the guest's Sv39 walk        [vmlab.sv39.walk]
``fast_csr``          csr*, sret, mret, wfi                         [csr_emul]
``fast_shadow``       roots, sfence.vma with nothing to drop, fills [shadow.ShadowPaging]
``fast_mmio``         loads and stores to the UART and the CLINT    [mmio.emulate]
``fast_sbi``          SBI set_timer                                 [sbi]
``fast_run``          the world switch, one exit, the loop          [VCpu.run, exits]
``fast_jit``          ``@jit`` with a cache that notices edits in any of them
====================  =============================================================

Everything else -- a reflected trap, an sfence.vma that drops leaves, any other SBI call or
device, a shadow root not built yet, a vCPU going idle -- returns to Python *before*
anything was changed for it, so Python handles it exactly as if the fast path did not exist.
Guest values are int64 bit patterns throughout (as in the machine), every array index is a
checked small number, and the loop ends when its instruction budget is spent.

This module gathers the names other modules use, so that they need not know the split.
"""
from __future__ import annotations

from vmlab.hv.fast_guest import guest_walk  # noqa: F401
from vmlab.hv.fast_run import fast_run, handle_trap  # noqa: F401
from vmlab.hv.fast_state import *  # noqa: F401,F403
