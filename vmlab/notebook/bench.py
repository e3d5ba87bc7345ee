"""Benchmarks of the notebook side: ``python -m vmlab.notebook.bench``.

Two numbers, both measured inside a real kernel (started with jupyter_client, so widget
updates are real messages to a real front-end channel):

1. **first guest run** -- after Binder-style setup (``python -m vmlab.notebook.warm`` has
   filled the numba cache), a *fresh* kernel loads the extension and runs lab 00's guest
   cell: ``%vm load hello``, a Dashboard, the run.  Target: under 2 s.
2. **widget overhead** -- the same busy guest loop run for the same number of instructions,
   bare (``Machine.run``) and under a Dashboard (trap recorder, registers, console and trap
   log refreshed by the run control's throttle), in pairs, ``--repeat`` times.  Target: at
   most 5% slower, the median of the pairs' ratios, on wall and on CPU time (the machine
   may be shared: CPU time is what the views really take from the guest).

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
from statistics import median

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
def clocks():
    return time.perf_counter(), time.process_time()
def since(t):
    now = clocks()
    return now[0] - t[0], now[1] - t[1]
def bare():
    m = fresh()
    t = clocks()
    done = 0
    while done < N:
        done += m.run(instructions=min(2_000_000, N - done)).instructions
    return since(t)
def watched():
    m = fresh()
    d = Dashboard(m)
    display(d)
    t = clocks()
    d.run(N)
    return since(t), d.control.updates
bare()                                   # warm both paths once
watched()
rows = []
for _ in range({repeat}):
    b = bare()
    w, updates = watched()
    rows.append((b[0], w[0], updates, b[1], w[1]))
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
    p.add_argument("--repeat", type=int, default=5)
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
    _report(a.instructions, rows)
    return 0


def _report(n: int, rows: list) -> None:
    """Each pair's MIPS, then the overhead: the median of the pairs' ratios, on wall and on
    CPU time.

    A pair runs back to back, so whatever else loads the machine weighs on both about
    alike; its ratio is the fair comparison.  CPU time (``time.process_time``, every thread
    of the kernel) is what the views take from the guest; wall time also counts what other
    processes took meanwhile."""
    for b, w, updates, bc, wc in rows:
        print(f"  bare {n / b / 1e6:7.1f} MIPS ({n / bc / 1e6:5.1f} on CPU)   watched {n / w / 1e6:7.1f}"
              f" MIPS ({n / wc / 1e6:5.1f} on CPU)   {wc / bc - 1:+6.1%} on CPU"
              f"   ({updates} view refreshes)")
    for what, bi, wi in (("wall", 0, 1), ("CPU", 3, 4)):
        overhead = median(r[wi] / r[bi] for r in rows) - 1
        print(f"  overhead on {what + ' time':9} (median of {len(rows)} pairs): {overhead * 100:+.1f}%"
              f"  target <= 5%: {'ok' if overhead <= 0.05 else 'MISSED'}")


if __name__ == "__main__":
    raise SystemExit(main())
