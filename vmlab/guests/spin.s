# spin.s -- a CPU-bound guest for the scheduling lab: it counts, forever.
#
# It starts in virtual S-mode with the hypervisor as its firmware and never makes a
# privileged move, so it never exits on its own: only the scheduler takes its pCPU away.
# counter[hart] (a doubleword per vCPU, a0 = hart id at entry) says how far each got --
# 4 instructions per step.  It runs the same as a kernel in vS or as firmware in vM.

        .text
        .globl _start
_start:
        la      t0, counter
        andi    a0, a0, 7
        slli    a0, a0, 3
        add     t0, t0, a0
1:      ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        j       1b

        .data
        .balign 8
        .globl counter
counter: .dword 0, 0, 0, 0, 0, 0, 0, 0
