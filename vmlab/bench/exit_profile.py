"""``python -m vmlab.bench.exit_profile``: where an exit's CPU time goes, by compiled function.

``vmlab bench --hv`` says how many exits per second; this says what each one spends its time
on.  A child process runs one exit benchmark of vmlab.bench.hv (a guest loop that exits at
every iteration) over and over; ``perf record`` samples it for a few seconds; the samples are
added up by function.  numba's compiled code has no perf map, so perf sees bare addresses:
``gdb`` attached to the child names them (it sees the objects numba loaded, with their
functions' qualified names).  The result is the table the README's account of the per-exit
costs comes from (reference counting at 46 % before compiled code was built without it).

Needs ``perf`` and ``gdb`` (Debian: linux-perf, gdb) and permission to attach to a process
of one's own (perf_event_paranoid <= 1 or root); a development tool, not part of the lab.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: the child: warm up (compile or load), say "ready", then run the benchmark until killed --
#: one endless run (so that the samples are of exits, not of building VMs), except for the
#: page-fault kinds, whose pages run out: they run again and again in fresh VMs, and the
#: child tells perf (through its control fifo, argv[3]; acknowledged on argv[4]) to sample
#: only while a guest runs -- building a VM and backing its pages took 90 % of the samples
CHILD = """
import sys
from vmlab.bench import hv
from vmlab.hv.vm import VM
kind, fast = sys.argv[1], sys.argv[2] == "1"
body, handler = hv.EXIT_KINDS[kind]
hv.EXIT_KINDS = {kind: (body, handler)}
hv.exit_rates(50, fast)
print("ready", flush=True)
if kind in hv.BACKED or kind == "page fault":
    ctl, ack = open(sys.argv[3], "w"), open(sys.argv[4])
    unsampled = VM.run
    def tell(command):
        try:
            ctl.write(command + "\\n")
            ctl.flush()
            ack.readline()
        except OSError:             # perf is done: run on until killed (gdb attaches)
            pass
    def sampled(self, *args, **kwargs):
        tell("enable")
        try:
            return unsampled(self, *args, **kwargs)
        finally:
            tell("disable")
    VM.run = sampled
    while True:
        hv.exit_rates(20_000, fast)
hv._exit_run(kind, body, handler, 1 << 40, fast, ram_size=64 << 20)
"""
#: the kinds whose runs are sampled one by one (the others: one endless run)
RUN_BY_RUN = ("page fault", "fill backed")
TOP_ADDRESSES = 5000              # distinct sample addresses named (the rest: "other")


class ProfileError(Exception):
    """perf or gdb missing or refused: the one line to print."""


def profile(kind: str = "csr", fast: bool = True, seconds: float = 3.0) -> list:
    """[(share in %, function)] of the CPU samples of ``kind``'s benchmark, largest first."""
    for tool in ("perf", "gdb"):
        if shutil.which(tool) is None:
            raise ProfileError(f"{tool} is not installed (Debian: linux-perf, gdb)")
    with tempfile.TemporaryDirectory() as tmp:
        fifos = (Path(tmp) / "control", Path(tmp) / "ack")
        for fifo in fifos:
            os.mkfifo(fifo)
        child = subprocess.Popen([sys.executable, "-c", CHILD, kind, "1" if fast else "0",
                                  *map(str, fifos)], stdout=subprocess.PIPE, text=True)
        try:
            if child.stdout.readline().strip() != "ready":
                raise ProfileError(f"the benchmark of {kind!r} did not start")
            ips = _sample(child.pid, Path(tmp) / "perf.data", seconds,
                          fifos if kind in RUN_BY_RUN else None)
            names = _name(child.pid, [ip for ip, _ in ips.most_common(TOP_ADDRESSES)])
        finally:
            child.kill()
            child.wait()
    by_function = Counter()
    for ip, count in ips.items():
        by_function[names.get(ip, "other")] += count
    total = sum(by_function.values()) or 1
    return [(100 * n / total, name) for name, n in by_function.most_common()]


def _sample(pid: int, data: Path, seconds: float, fifos=None) -> Counter:
    """perf's samples of process ``pid``: {instruction address: count}.  With ``fifos``
    (control, ack), sampling starts disabled and the process switches it on and off."""
    control = ["-D", "-1", "--control", f"fifo:{fifos[0]},{fifos[1]}"] if fifos else []
    rec = subprocess.run(["perf", "record", "-q", "-F", "4000", *control, "-o", str(data),
                          "-p", str(pid), "--", "sleep", str(seconds)],
                         capture_output=True, text=True)
    if rec.returncode != 0 or not data.exists():
        raise ProfileError(f"perf record failed: {(rec.stderr.strip() or 'no data').splitlines()[-1]}")
    out = subprocess.run(["perf", "script", "-F", "ip", "-i", str(data)], capture_output=True,
                         text=True).stdout
    return Counter(int(line, 16) for line in out.split() if line)


def _name(pid: int, addresses: list) -> dict:
    """{address: function name} as gdb attached to ``pid`` knows them (numba's and C's)."""
    with tempfile.NamedTemporaryFile("w", suffix=".gdb") as script:
        script.write("".join(f"info symbol {a:#x}\n" for a in addresses))
        script.flush()
        out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-x", script.name],
                             capture_output=True, text=True).stdout
    answers = [line for line in out.splitlines()
               if " in section " in line or line.startswith("No symbol matches")]
    if len(answers) != len(addresses):
        raise ProfileError("gdb could not attach to the benchmark (ptrace permission?)")
    return {a: _short(line) for a, line in zip(addresses, answers)}


def _short(answer: str) -> str:
    """``vmlab::hv::fast_run::fast_run[abi:...](Array<...>) + 12 in section ...`` ->
    ``hv.fast_run.fast_run``; C functions keep their names; unknown code is "other"."""
    if answer.startswith("No symbol"):
        return "kernel" if "0xffffffff" in answer else "other"
    name = re.sub(r" \+ \d+$", "", answer.split(" in section ")[0])
    name = name.split("[abi:")[0].split("(")[0]
    return name.replace("vmlab::", "").replace("::", ".")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmlab.bench.exit_profile",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="csr", help="an exit kind of vmlab bench --hv "
                                                      "(default: csr)")
    parser.add_argument("--python", action="store_true", help="the Python exit path")
    parser.add_argument("--seconds", type=float, default=3.0, help="sampling time (default 3)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    args = parser.parse_args(argv)
    from vmlab.bench.hv import EXIT_KINDS
    if args.kind not in EXIT_KINDS:
        print(f"vmlab: unknown exit kind {args.kind!r} (one of: {', '.join(EXIT_KINDS)})",
              file=sys.stderr)
        return 1
    try:
        rows = profile(args.kind, not args.python, args.seconds)
    except ProfileError as exc:
        print(f"vmlab: {exc}", file=sys.stderr)
        return 1
    path = "Python" if args.python else "fast"
    print(f"CPU samples of the {args.kind!r} exit benchmark ({path} path), by function:")
    for share, name in rows[:args.top]:
        print(f"  {share:6.2f} %  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
