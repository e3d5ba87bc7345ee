"""``vmlab nanobench``: Adams & Agesen's nanobenchmarks on RISC-V, bare and virtualized.

Adams and Agesen (ASPLOS 2006) compared software and hardware virtualization with a table
of tiny operations -- a system call, an I/O port read, a control-register write, call/ret,
a page fault, a divide by zero, a PTE update -- each timed natively and under each VMM.
This is that table for our machine: every row is a guest from :mod:`vmlab.guests.nano`,
every column a way of running it:

- ``bare``          the machine itself (the guest's own tiny firmware in M-mode)
- ``sfence``        trap-and-emulate, shadow pages kept coherent on sfence.vma
- ``write-protect`` trap-and-emulate, shadow pages kept coherent by write-protecting the
                    guest's page tables
- ``hw``            hardware-assisted (the H extension, ``create_vm(backend="hw")``): the
                    guest kernel in VS-mode, its programs in VU, two-stage translation

Each cell is measured by running the guest's loop ``n`` times and 0 times and dividing
the difference by ``n``: exits per operation (and which handlers), simulated cycles per
operation, and host microseconds per operation.

**The cost model** (simulated time; one cycle = one ns at 1 GHz): every retired guest
instruction costs one cycle -- a single-issue in-order core that never stalls, as the
machine's clock assumes -- and a trap taken by the hardware itself costs nothing more.
Each exit to the hypervisor adds ``COSTS["switch"]`` plus its handler's cost
(vmlab.hv.exit_types.COSTS), charged to the guest's clock.  The switch cost, 300 cycles,
is the order of a VM exit and entry on current hardware (a few hundred to a thousand
cycles), so it shows a hypervisor's real trade-offs: an exit costs as much as hundreds of
instructions, and batching many pokes into one exit pays off.  The host microseconds are
measured, not modelled: they include our Python exit handlers.

Under ``hw`` an exit is charged the same way (the same switch cost: the hypervisor saves
and restores the guest's registers as under shadow), but far fewer operations exit: the
hart delegates the guest's own traps to it (hedeleg/hideleg), its CSRs are the hart's VS
CSRs and its page-table stores need no coherence -- the hart walks them itself.  What is
left: SBI calls, device accesses, G-stage fills (``COSTS["g-fill"]``, once per guest
page), and stimecmp writes (the hart has no vstimecmp).

A second table counts memory references per page walk on a TLB-miss-heavy loop (511
pages in turn, 4 KiB each): an Sv39 walk reads three PTEs, bare and under shadow paging
(the real MMU walks the shadow table, also Sv39).  A two-stage walk (Sv39 over Sv39x4)
reads up to 15: each of the guest's three PTE addresses and the final one is a
guest-physical address the hart translates through the G-stage (three reads each).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from vmlab.errors import UserError
from vmlab.guests import nano

TECHNIQUES = ("bare", "sfence", "write-protect", "hw")
MEASURED = TECHNIQUES
GUEST_RAM, HOST_RAM = 16 << 20, 48 << 20
TLB_SCALE = 50               # a tlb iteration is 511 loads: n // TLB_SCALE of them


@dataclass
class Run:
    """What one complete run of a guest did."""

    instructions: int = 0
    time_ns: int = 0
    seconds: float = 0.0
    exits: Counter = field(default_factory=Counter)     # handler -> count
    tlb_misses: int = 0
    walk_refs: int = 0
    fills: int = 0


@dataclass
class Cell:
    """One operation under one technique: the difference of two runs, divided by n."""

    exits: float
    handlers: dict
    cycles: float
    host_us: float
    instructions: float
    walks: float = 0.0
    refs_per_walk: float = 0.0
    fills: float = 0.0


def iterations(name: str, n: int) -> int:
    return max(2, n // TLB_SCALE) if nano.BENCHES[name].group == "tlb" else n


# --- running one guest -----------------------------------------------------------------
def run_bare(program) -> Run:
    from vmlab.machine import Machine
    from vmlab.machine import layout as L
    m = Machine(ram_size=GUEST_RAM)
    m.load_elf(program.elf)
    m.pc = program.symbols["_start"]
    t0 = time.perf_counter()
    r = m.run()
    seconds = time.perf_counter() - t0
    if r.reason != "halt":
        raise RuntimeError(f"bare guest stopped with {r.reason!r} at pc {m.pc:#x}")
    return Run(r.instructions, m.counters["time_ns"], seconds, Counter(),
               int(m.ctl[L.C_TLB_MISS]), int(m.ctl[L.C_WALK_REFS]))


def hv_vm(strategy: str, mmu_update: bool = True):
    """A fresh VM with the paravirtual page-table interface on (only the hcall row uses it);
    ``strategy`` "hw" is the hardware-assisted backend, the others shadow strategies."""
    from vmlab.hv import paravirt
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=HOST_RAM))
    if strategy == "hw":
        vm = hv.create_vm(ram_size=GUEST_RAM, backend="hw")
    else:
        vm = hv.create_vm(ram_size=GUEST_RAM, shadow=strategy)
    paravirt.enable(vm, mmu_update=mmu_update)
    return vm


def run_guest(program, strategy: str, vm=None) -> Run:
    from vmlab.hv.trace import EXIT
    from vmlab.machine import layout as L
    vm = vm or hv_vm(strategy)
    vm.boot(kernel=program.elf)
    vm.vcpus[0].set_pc(program.symbols["s_start"])
    t0 = time.perf_counter()
    r = vm.run()
    seconds = time.perf_counter() - t0
    if r.reason != "halt":
        raise RuntimeError(f"guest ({strategy}) stopped with {r.reason!r} at pc {r.pc:#x}")
    exits = Counter(vm.trace.names[h] for h in vm.trace.records(EXIT)["handler"])
    ctl = vm.machine.ctl
    return Run(r.instructions, vm.time(), seconds, exits, int(ctl[L.C_TLB_MISS]),
               int(ctl[L.C_WALK_REFS]),
               vm.hw.gstage.fills if vm.hw else vm.shadow.counters["fills"])


def run(name: str, technique: str, n: int, repeats: int = 1) -> Run:
    """Run benchmark ``name`` with ``n`` iterations; the host time is the best of
    ``repeats`` runs (the host is shared: the fastest run is the least disturbed)."""
    program = nano.build(name, n)
    best = None
    for _ in range(repeats):
        r = run_bare(program) if technique == "bare" else run_guest(program, technique)
        best = r if best is None or r.seconds < best.seconds else best
    return best


# --- one cell, one table ---------------------------------------------------------------------
def measure(name: str, technique: str, n: int, repeats: int = 1) -> Cell:
    """Run ``n`` and 0 iterations; the difference per iteration.  A run of one iteration
    goes first, so that no compile (of a handler this guest is the first to need) is timed."""
    k = iterations(name, n)
    run(name, technique, 1)
    a, b = run(name, technique, 0, repeats), run(name, technique, k, repeats)
    handlers = {h: (b.exits[h] - a.exits[h]) / k for h in b.exits if b.exits[h] != a.exits[h]}
    walks = (b.tlb_misses - a.tlb_misses) / k
    refs = (b.walk_refs - a.walk_refs) / k
    return Cell(exits=sum(handlers.values()), handlers=handlers,
                cycles=(b.time_ns - a.time_ns) / k,
                host_us=max(0.0, b.seconds - a.seconds) / k * 1e6,
                instructions=(b.instructions - a.instructions) / k, walks=walks,
                refs_per_walk=refs / walks if walks else 0.0, fills=(b.fills - a.fills) / k)


def nanobench(n: int = 1000, names=None, techniques=MEASURED, repeats: int = 2) -> dict:
    """The whole table as a dict (what ``--json`` prints)."""
    from vmlab.hv.exit_types import COSTS
    names = list(names or nano.BENCHES)
    results = {name: {t: asdict(measure(name, t, n, repeats)) for t in techniques} for name in names}
    return {"n": n, "techniques": list(techniques), "pending": [],
            "cost_model": {"cycles_per_instruction": 1, "exit": dict(COSTS)},
            "benches": {name: {"what": nano.BENCHES[name].what,
                               "group": nano.BENCHES[name].group} for name in names},
            "results": results}


# --- the same switches in a whole kernel: teachos ------------------------------------------
TEACHOS_CONFIGS = {
    "uart + sbi timer": {},
    "sbi console": {"pv_console": True},
    "sstc timer": {"sstc_timer": True},
    "sbi console + sstc": {"pv_console": True, "sstc_timer": True},
}
DISK_TEXT = b"Hello from sector 0 of the disk!\n"


def run_teachos(options: dict, disk, strategy: str = "sfence") -> dict:
    """teachos, built with ``options``, as a guest to power-off: exits by handler, time."""
    from vmlab.guests import teachos
    from vmlab.hv.trace import EXIT
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    program = teachos.build(**options)
    vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20, drive=disk,
                                                          shadow=strategy)
    vm.boot(kernel=program.elf)
    t0 = time.perf_counter()
    r = vm.run(instructions=400_000_000)
    seconds = time.perf_counter() - t0
    vm.close_devices()
    if (r.reason, r.exit_code) != ("halt", 0):
        raise RuntimeError(f"teachos {options} stopped with {r.reason!r}")
    exits = Counter(vm.trace.names[h] for h in vm.trace.records(EXIT)["handler"])
    return {"exits": sum(exits.values()), "handlers": dict(exits), "time_ns": vm.time(),
            "instructions": r.instructions, "seconds": seconds, "console": vm.console_output}


def teachos_switches(disk) -> dict:
    """Every configuration of :data:`TEACHOS_CONFIGS`, on the same disk image."""
    from pathlib import Path
    Path(disk).write_bytes(DISK_TEXT.ljust(8 * 512, b"\0"))
    return {name: run_teachos(opts, disk) for name, opts in TEACHOS_CONFIGS.items()}


def print_teachos(results: dict) -> None:
    same = len({r["console"] for r in results.values()}) == 1
    print(f"teachos under trap-and-emulate (sfence), to power-off; consoles "
          f"{'identical' if same else 'DIFFER'}")
    print(f"{'':20}{'exits':>7}{'mmio':>7}{'sbi':>6}{'csr':>6}{'sim. ms':>9}{'host s':>8}")
    for name, r in results.items():
        h = r["handlers"]
        print(f"{name:20}{r['exits']:7}{h.get('mmio', 0):7}{h.get('sbi', 0):6}{h.get('csr', 0):6}"
              f"{r['time_ns'] / 1e6:9.2f}{r['seconds']:8.2f}")


# --- the command ---------------------------------------------------------------------------
def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=1000,
                        help="iterations of each operation (default 1000)")
    parser.add_argument("--only", nargs="+", metavar="BENCH", choices=list(nano.BENCHES),
                        help="run only these rows")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--teachos", action="store_true",
                        help="also boot teachos with each console/timer switch and compare")


def _short(handlers: dict) -> str:
    """'reflect+2 csr+sret' from {'reflect': 1, 'csr': 2, 'sret': 1}."""
    parts = []
    for h, k in sorted(handlers.items(), key=lambda kv: (-kv[1], kv[0])):
        parts.append(h if round(k, 2) == 1 else f"{k:g} {h}")
    return "+".join(parts) or "-"


def print_table(report: dict) -> None:
    techs = report["techniques"]
    print(f"nanobenchmarks, per operation (n = {report['n']}): exits / simulated cycles "
          "/ host us")
    head = "".join(f"{t:>24}  " for t in techs)
    print(f"{'':14}{head}")
    for name, row in report["results"].items():
        cells = "".join(f"{row[t]['exits']:6.2f} {row[t]['cycles']:8.0f} "
                        f"{row[t]['host_us']:8.2f}  " for t in techs)
        print(f"{name:14}{cells}")
    print("\nexits by handler (per operation):")
    for name, row in report["results"].items():
        shown = "   ".join(f"{t}: {_short(row[t]['handlers'])}" for t in techs if t != "bare")
        print(f"  {name:14} {shown}")
    tlb = report["results"].get("tlb")
    if tlb:
        print(f"\nTLB-miss-heavy loop ({nano.DATA_PAGES} pages): memory references per walk")
        for t in techs:
            c = tlb[t]
            print(f"  {t:14} {c['walks']:8.0f} walks  {c['refs_per_walk']:5.2f} refs/walk")


def main(args) -> int:
    if args.n < 1:
        raise UserError(f"--n must be at least 1, not {args.n}")
    report = nanobench(args.n, args.only)
    if args.teachos:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            report["teachos"] = teachos_switches(f"{tmp}/disk.img")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print_table(report)
    if args.teachos:
        print()
        print_teachos(report["teachos"])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m vmlab.bench.nanobench",
                                     description=__doc__.splitlines()[0])
    register(parser)
    raise SystemExit(main(parser.parse_args()))
