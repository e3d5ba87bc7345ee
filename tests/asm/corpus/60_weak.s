# Undefined weak symbols: la gives 0, and a call or tail of one jumps to address 0, as
# GNU ld makes them (optional hooks, as in riscv-tests).
.weak hook
_start: la a0, hook
 beqz a0, 1f
 call hook
 tail hook
 jump hook, t2
1: ret
