"""vmlab.hv: the trap-and-emulate hypervisor.

The guest runs deprivileged (real U-mode) on the machine; every privileged act traps out
of the machine's run loop as an exit, and the hypervisor emulates it on the vCPU's virtual
state, or reflects it into the guest as the hardware would have.  Modules:

- ``memory``  host frames and each VM's gpa -> hpa page map
- ``trace``   the typed log of exits, injections and shadow-paging events
"""
