"""Benchmarks of the notebook side: ``python -m vmlab.notebook.bench``.

Two numbers, both measured inside a real kernel (started with jupyter_client, so widget
updates are real messages to a real front-end channel):

1. **first guest run** -- after Binder-style setup (``python -m vmlab.notebook.warm`` has
   filled the numba cache), a *fresh* kernel loads the extension and runs lab 00's guest
   cell: ``%vm load hello``, a Dashboard, the run.  Target: under 2 s.
2. **widget overhead** -- the same busy guest loop run for the same number of instructions,
   bare (``Machine.run``) and under a Dashboard (trap recorder, registers, console and trap
   log refreshed by the run control's throttle).  Target: at most 5% slower.

This is a script, not a test: timings depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FIRST_RUN = r'''
import time, json
t0 = time.perf_counter()
%load_ext vmlab
t1 = time.perf_counter()
from vmlab.viz import Dashboard
%vm load hello
dash = Dashboard(vm)
display(dash)
result = dash.run(10_000_000)
t2 = time.perf_counter()
print("BENCH" + json.dumps({"load_ext": t1 - t0, "first_run": t2 - t1, "reason": result.reason}))
'''

OVERHEAD = r'''
import time, json
from vmlab.asm import assemble
from vmlab.notebook.session import Session
from vmlab.viz import Dashboard
LOOP = "_start: li t0, 1 << 40\n1: addi t0, t0, -1\n bnez t0, 1b\n ecall\n"
N = {n}
def fresh():
    s = Session()
    p = assemble(LOOP)
    s.load(p)
    s.machine.pc = p.entry
    return s.machine
def bare():
    m = fresh()
    t = time.perf_counter()
    done = 0
    while done < N:
        done += m.run(instructions=min(2_000_000, N - done)).instructions
    return time.perf_counter() - t
def watched():
    m = fresh()
    d = Dashboard(m)
    display(d)
    t = time.perf_counter()
    d.run(N)
    return time.perf_counter() - t, d.control.updates
bare()                                   # warm both paths once
watched()
rows = []
for _ in range({repeat}):
    b = bare()
    w, updates = watched()
    rows.append((b, w, updates))
print("BENCH" + json.dumps(rows))
'''


def _kernel():
    from jupyter_client.manager import start_new_kernel
    return start_new_kernel(kernel_name="python3", startup_timeout=120,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))))


def _run(kc, code: str, timeout: float = 600) -> dict | list:
    """Execute and return the JSON the cell printed after BENCH."""
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=_collect)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"benchmark cell failed: {reply['content']}")
    text = "".join(_collect.out)
    _collect.out.clear()
    return json.loads(text[text.index("BENCH") + 5:].splitlines()[0])


def _collect(msg):
    if msg["msg_type"] == "stream":
        _collect.out.append(msg["content"]["text"])


_collect.out = []


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vmlab.notebook.bench", description=__doc__.splitlines()[0])
    p.add_argument("--instructions", type=int, default=400_000_000,
                   help="guest instructions per overhead run (default 400M)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-warm", action="store_true", help="skip the Binder-style warm-up")
    a = p.parse_args(argv)

    if not a.no_warm:
        subprocess.run([sys.executable, "-m", "vmlab.notebook.warm"], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    print("\nfirst guest run in a fresh kernel (lab 00's guest cell)")
    t = time.perf_counter()
    km, kc = _kernel()
    start = time.perf_counter() - t
    try:
        first = _run(kc, FIRST_RUN)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(f"  kernel start       {start:6.2f} s")
    print(f"  %load_ext vmlab    {first['load_ext']:6.2f} s")
    print(f"  first guest run    {first['first_run']:6.2f} s  ({first['reason']})  target < 2 s: "
          f"{'ok' if first['first_run'] < 2 else 'MISSED'}")

    print(f"\nwidget overhead: {a.instructions:,} guest instructions, bare vs under a Dashboard")
    km, kc = _kernel()
    try:
        rows = _run(kc, OVERHEAD.format(n=a.instructions, repeat=a.repeat))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    best_b = min(r[0] for r in rows)
    best_w = min(r[1] for r in rows)
    for b, w, updates in rows:
        print(f"  bare {a.instructions / b / 1e6:7.1f} MIPS   watched {a.instructions / w / 1e6:7.1f} MIPS"
              f"   ({updates} view refreshes)")
    overhead = best_w / best_b - 1
    print(f"  overhead (best of {a.repeat} each): {overhead * 100:+.1f}%  target <= 5%: "
          f"{'ok' if overhead <= 0.05 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
