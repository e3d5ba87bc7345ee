"""Codes of the SCHED trace records (``cause``); ``tval`` is the pCPU (-1: none)."""

SW_IN, SW_OUT, WAKE, BLOCK, YIELD, HALT, MISS, COSTOP, COSTART = range(9)
NAMES = ("switch-in", "switch-out", "wake", "block", "yield", "halt", "deadline-miss", "co-stop",
         "co-start")
