"""Compile (and cache) everything a lab runs, once, so a student's first run is fast.

numba compiles the machine's hot loop on first use (seconds) and writes the result to
its cache (``cache=True``); a later process only loads it.  Binder's ``postBuild`` runs
``python -m vmlab.notebook.warm`` while the image is built, so the first guest a student
runs in a lab starts at once.  It runs what the labs run: a bare-metal guest with traps,
one in S-mode with Sv39 paging, and the teaching OS under the hypervisor.
"""
from __future__ import annotations

import time


def warm(verbose: bool = True) -> dict[str, float]:
    times = {}

    def step(name, fn):
        t = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - t
        if verbose:
            print(f"  {name:<28} {times[name]:6.2f} s", flush=True)

    def bare():
        from vmlab import guests
        from vmlab.asm import assemble
        from vmlab.notebook.session import Session
        s = Session()
        p = assemble(guests.source("hello"))
        s.load(p)
        s.machine.pc = p.entry
        s.run(1_000_000)
        s.step(3)
        from vmlab.viz import TrapRecorder     # takes each trap from Python: compiled too
        s = Session()
        s.load(p)
        s.machine.pc = p.entry
        TrapRecorder(s.machine).run(1_000_000)

    def paged():
        from vmlab import sv39
        from vmlab.asm import assemble
        from vmlab.notebook.session import Session
        s = Session()
        p = assemble("_start: li t0, 1 << 11\n csrs mstatus, t0\n li t0, 0x40000000\n"
                     " csrw mepc, t0\n csrw satp, a0\n sfence.vma\n mret\n")
        s.load(p)
        root = 0x8010_0000
        m = s.machine
        l1, l0 = root + 0x1000, root + 0x2000
        m.write_mem(root + 8 * sv39.vpn(0x40000000, 2), sv39.make_pte(l1, sv39.PTE_V).to_bytes(8, "little"))
        m.write_mem(l1 + 8 * sv39.vpn(0x40000000, 1), sv39.make_pte(l0, sv39.PTE_V).to_bytes(8, "little"))
        m.write_mem(l0, sv39.make_pte(0x8000_0000, sv39.PTE_V | sv39.PTE_R | sv39.PTE_X).to_bytes(8, "little"))
        m.pc = p.entry
        m.set_reg("a0", sv39.make_satp(root))
        s.run(10_000)

    def hypervisor():
        from vmlab.guests import teachos
        from vmlab.hv import Hypervisor
        vm = Hypervisor().create_vm(ram_size=64 << 20)
        vm.boot(kernel=teachos.build().elf)
        vm.run(instructions=5_000_000)

    def widgets():
        import vmlab.viz  # noqa: F401  (anywidget, ipywidgets: their import is part of a lab's start)

    step("machine + bare-metal guest", bare)
    step("Sv39 guest", paged)
    try:
        step("teachos under vmlab.hv", hypervisor)
    except ImportError as exc:          # the hypervisor is optional for labs 00-02
        print(f"  (hypervisor not warmed: {exc})")
    step("widgets", widgets)
    return times


if __name__ == "__main__":
    t = time.perf_counter()
    print("vmlab: compiling and caching the machine for the labs")
    warm()
    print(f"done in {time.perf_counter() - t:.1f} s")
