"""The compiled fast path (vmlab.hv.fastpath) against the Python handlers, its reference.

Two kinds of check:
- one handler at a time: the same exit handed to ``exits.dispatch`` on one vCPU and to the
  compiled ``handle_trap`` on an identical one leaves the same virtual hart and the same
  trace record -- with pcs and values in every corner of the 64-bit space;
- whole guests: the same guest run with ``fast_exits`` on and off gives the same console,
  the same final vCPU state, the same clock and the same trace, record by record.
"""
from __future__ import annotations

import numpy as np
import pytest
from hv_guest import boot
from test_high_addresses import CORNERS, CSRRW_SSCRATCH_A0, MRET, SRET

from vmlab.asm import assemble
from vmlab.hv import exits, fastpath, shadow
from vmlab.hv.csr_emul import NO_TLB
from vmlab.hv.vcpu import NO_BT_PAGES
from vmlab.hv.trace import EXIT, INJECT, SHADOW
from vmlab.machine import layout as L
from vmlab.machine.bits import i64
from vmlab.machine.rvc import expansion_table

WFI = 0x10500073
SBI_TIME = 0x54494D45


# ---- one exit at a time ------------------------------------------------------------------------

def _pair(**vm_args):
    """Two VMs with the same guest booted in vS (stvec set): one per path."""
    program = assemble(".text\n.globl _start\n_start: j _start\n")
    vcpus = []
    for _ in range(2):
        _, vm = boot(program.elf, **vm_args)
        v = vm.vcpus[0]
        v.row[L.STVEC] = L.RAM_BASE + 0x100
        vcpus.append(v)
    return vcpus


def _fast(v, cause, tval, pc) -> int:
    """The compiled handler on ``v``; its records go to v's trace.  Returns the cost (-1:
    left to Python)."""
    vm = v.vm
    v.hvstate[fastpath.S_SBI_FROM_HV] = vm.sbi_from_hv
    v.hvstate[fastpath.S_WRITE_PROTECT] = vm.shadow.write_protect
    v.hvstate[fastpath.S_TABLE_ROOM] = vm.shadow.table_room()
    cost = fastpath.handle_trap(vm.machine.mem, vm.mem.page_map, vm.rows, vm.devices.dev,
                                vm.devices.io, vm.devices.ctl, NO_TLB, expansion_table(),
                                v.hvstate, vm.shadow.mirror, vm.shadow.super_index, v._log,
                                v._fills, NO_BT_PAGES, cause, i64(tval), i64(pc), vm.time())
    v._drain()
    if cost > 0:
        vm.charge(int(cost))                # (the loop around it charges the clock)
    return int(cost)


def _same(ref, fast):
    assert np.array_equal(ref.row, fast.row)
    a, b = ref.vm.trace.records(), fast.vm.trace.records()
    fields = [f for f in a.dtype.names if f != "seq"]
    assert a[fields].tolist() == b[fields].tolist()
    assert ref.vm.trace.counts == fast.vm.trace.counts
    assert ref.vm.trace.handler_cost == fast.vm.trace.handler_cost
    assert ref.sbi_timer == fast.sbi_timer and ref.vm.sbi_calls == fast.vm.sbi_calls


@pytest.mark.parametrize("pc", CORNERS)
def test_csr_and_sbi_timer_exits_at_every_pc(pc):
    ref, fast = _pair()
    for v in (ref, fast):
        v.set_reg(10, pc)                   # a CSR value / timer value in the corners too
        v.set_reg(17, SBI_TIME)
    exits.dispatch(ref, L.CAUSE_ILLEGAL, CSRRW_SSCRATCH_A0, pc)
    assert _fast(fast, L.CAUSE_ILLEGAL, CSRRW_SSCRATCH_A0, pc) > 0
    for v in (ref, fast):
        v.set_reg(10, pc)
    exits.dispatch(ref, L.CAUSE_ECALL_U, 0, pc)
    assert _fast(fast, L.CAUSE_ECALL_U, 0, pc) > 0
    _same(ref, fast)
    assert fast.pc == (pc + 4) % (1 << 64) and fast.sbi_timer == pc
    assert fast.csr("sscratch") == pc


@pytest.mark.parametrize("target", CORNERS)
def test_sret_mret_and_wfi_to_every_target(target):
    ref, fast = _pair()
    for v in (ref, fast):
        v.row[L.SEPC] = i64(target)
        v.row[L.MEPC] = i64(target)
        v.row[L.MSTATUS] |= 1 << 8          # SPP = S: sret returns to vS, where wfi is legal
    for insn, pc in ((SRET, L.RAM_BASE), (WFI, target)):
        exits.dispatch(ref, L.CAUSE_ILLEGAL, insn, pc)
        assert _fast(fast, L.CAUSE_ILLEGAL, insn, pc) > 0
    _same(ref, fast)
    assert fast.pc == ((target & ~1) + 4) % (1 << 64)


SFENCE_A0_A1 = 0x12B50073                # sfence.vma a0, a1


@pytest.mark.parametrize("strategy", ["sfence", "write-protect"])
@pytest.mark.parametrize("gva", CORNERS)
def test_sfence_with_nothing_to_drop_at_every_address(gva, strategy):
    ref, fast = _pair(shadow=strategy)
    for v in (ref, fast):
        v.vm.shadow.root_for(v)            # a tree to look in (the direct one, and...)
        v.row[L.SATP] = i64(8 << 60 | 5 << 44 | 0x80000)      # ...an Sv39 one, ASID 5
        v.vm.shadow.root_for(v)
        v.set_reg(10, gva)
        v.set_reg(11, 5)
    exits.dispatch(ref, L.CAUSE_ILLEGAL, SFENCE_A0_A1, gva)
    assert _fast(fast, L.CAUSE_ILLEGAL, SFENCE_A0_A1, gva) > 0
    _same(ref, fast)
    assert ref.vm.shadow.counters == fast.vm.shadow.counters


def test_sfence_that_drops_a_leaf_is_left_to_python():
    _, fast = _pair()
    fast.vm.shadow.root_for(fast)
    fast.row[L.SATP] = i64(8 << 60 | 0x80000)
    root = fast.vm.shadow._root(fast)
    from vmlab.hv.shadow_build import Leaf
    root.tree.put(Leaf(0x1234, 0x80000, 0x80000, 7))     # a shadow leaf for gva 0x1234000
    fast.set_reg(10, 0x1234_567)
    assert _fast(fast, L.CAUSE_ILLEGAL, SFENCE_A0_A1 & ~(31 << 20), 0) == -1   # (rs2 = x0)
    fast.set_reg(10, 0x1235_000)                            # the next page: nothing there
    assert _fast(fast, L.CAUSE_ILLEGAL, SFENCE_A0_A1 & ~(31 << 20), 0) > 0


def test_sfence_inside_a_guest_superpage_is_left_to_python():
    """A shadow tree holds one 4 KiB piece of a guest 2 MiB page: an sfence.vma of any
    address in that 2 MiB page must drop it (Python's _drop_covering), one outside need not."""
    from vmlab.hv.shadow_build import Leaf
    _, fast = _pair()
    pager = fast.vm.shadow
    pager.root_for(fast)
    fast.row[L.SATP] = i64(8 << 60 | 0x80000)
    root = pager._root(fast)
    leaf = Leaf(0x200, 0x80200, 0x80200, 7, level=1)     # gva 0x200000, from a 2 MiB page
    root.tree.put(leaf)
    pager._remember(root, leaf)
    sfence_a0 = SFENCE_A0_A1 & ~(31 << 20)
    fast.set_reg(10, 0x3FF_000)                          # same 2 MiB page, no leaf there
    assert _fast(fast, L.CAUSE_ILLEGAL, sfence_a0, 0) == -1
    fast.set_reg(10, 0x400_000)                          # the next 2 MiB page
    assert _fast(fast, L.CAUSE_ILLEGAL, sfence_a0, 0) > 0
    pager._drop(root, 0x200)                             # the piece gone: nothing to drop
    fast.set_reg(10, 0x3FF_000)
    assert _fast(fast, L.CAUSE_ILLEGAL, sfence_a0, 0) > 0


def test_event_codes_agree_with_the_pager():
    assert (fastpath.SFENCE_EVENT, fastpath.ROOT_SWITCH_EVENT, fastpath.MMIO_EVENT,
            fastpath.FILL_EVENT) == (shadow.SFENCE, shadow.ROOT_SWITCH, shadow.MMIO, shadow.FILL)
    assert fastpath.VA_BITS == shadow.VA_BITS


@pytest.mark.parametrize("pc", CORNERS[::3])
def test_what_only_python_handles_is_left_untouched(pc):
    """A reflected mret, an unknown SBI call, a page fault, sfence.vma of everything, an
    instruction that is no system instruction: the compiled path changes nothing and says
    so; Python then handles them as ever."""
    _, fast = _pair()
    fast.row[L.PRIV] = L.PRIV_S
    before = fast.row.copy()
    fast.set_reg(17, 0x10)                  # SBI BASE
    before[L.XREG + 17] = 0x10
    for cause, tval in ((L.CAUSE_ILLEGAL, MRET), (L.CAUSE_ECALL_U, 0),
                        (L.CAUSE_LOAD_PAGE, pc), (L.CAUSE_ILLEGAL, 0x12000073),
                        (L.CAUSE_ILLEGAL, 0x00000013)):
        assert _fast(fast, cause, tval, pc) == -1
    assert np.array_equal(before, fast.row) and fast.vm.trace.count(EXIT) == 0


# ---- whole guests, both ways ---------------------------------------------------------------------

def _summary(vm) -> dict:
    """What must not depend on the path: console, vCPU rows, clock, trace, bookkeeping."""
    rec = vm.trace.records()
    fields = [f for f in rec.dtype.names if f != "seq"]
    # (root_cache_hits counts entries into the guest, and how often a run is cut by its
    # instruction budget -- invisible to the guest -- differs: a fast run goes on after a
    # handled exit with what is left of its budget, a Python one returns)
    shadow = {k: v for k, v in vm.shadow.counters.items() if k != "root_cache_hits"}
    return {"console": vm.console_bytes, "rows": vm.rows.tolist(), "time": vm.time(),
            "trace": rec[fields].tolist(), "total": vm.trace.total,
            "names": [vm.trace.names[h] for h in np.unique(rec["handler"])],
            "counts": dict(vm.trace.counts), "handler_cost": dict(vm.trace.handler_cost),
            "shadow": shadow, "sbi_calls": dict(vm.sbi_calls),
            "trees": [(t["guest_satp"], t["priv"], t["leaves"]) for t in vm.shadow.trees()],
            "pager": _pager_index(vm.shadow)}


def _pager_index(pager) -> dict:
    """The shadow pager's bookkeeping: every leaf (where from, what it maps) and the
    indexes coherence works from -- which the fast path's fills must keep as Python does."""
    leaves = {str(r.key): sorted((lf.gva_page, lf.gpa_page, lf.hpa_page, lf.perms, lf.level,
                                  lf.pte_gpas, lf.slot_hpa) for lf in r.tree.leaves.values())
              for r in pager.roots.values()}
    return {"leaves": leaves, "deps": {k: sorted(map(str, v)) for k, v in pager._deps.items()},
            "pt_refs": dict(pager._pt_refs),
            "by_target": {k: sorted(map(str, v)) for k, v in pager._by_target.items()},
            "super": {str(r.key): {k: sorted(v) for k, v in r.super.items()}
                      for r in pager.roots.values()}}


def both_ways(start, drive) -> tuple[dict, dict, dict]:
    """``start(fast_exits) -> vm`` and ``drive(vm)``, once per path; the two summaries and
    the fast run's handler counts."""
    out, vms = [], []
    for fast in (True, False):
        vms.append(start(fast))
        drive(vms[-1])
        out.append(_summary(vms[-1]))
    return out[0], out[1], vms[0].trace.handler_counts


def assert_same(fast: dict, slow: dict) -> None:
    for key in slow:
        if key != "trace":
            assert fast[key] == slow[key], key
    for i, (a, b) in enumerate(zip(fast["trace"], slow["trace"])):
        assert a == b, f"record {i}: fast {a} python {b}"
    assert len(fast["trace"]) == len(slow["trace"])


def teachos_both_ways(tmp_path, shadow: str = "sfence", **options):
    """teachos (built with ``options``) with a disk, to its power-off, with the fast path and
    with Python only, the pager keeping coherent by ``shadow``'s strategy: (fast, slow,
    handled) as both_ways gives them."""
    teachos = pytest.importorskip("vmlab.guests.teachos").build(**options)
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine

    def start(fast):
        disk = tmp_path / f"disk{int(fast)}.img"
        disk.write_bytes(b"Hello from sector 0 of the disk!\n".ljust(8 * 512, b"\0"))
        vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(
            ram_size=128 << 20, drive=disk, fast_exits=fast, shadow=shadow)
        vm.boot(kernel=teachos.elf)
        return vm

    def drive(vm):
        r = vm.run(instructions=200_000_000)
        assert (r.reason, r.exit_code) == ("halt", 0)

    return both_ways(start, drive)


def test_teachos_both_ways(tmp_path):
    fast, slow, handled = teachos_both_ways(tmp_path)
    assert_same(fast, slow)
    assert handled["csr"] > 100 and handled["timer"] > 3 and handled["interrupt"] > 3


def test_teachos_under_write_protection_both_ways(tmp_path):
    # the other coherence strategy: the fast path's fills must write-protect the guest's
    # page tables as Python's do, and leave the stores to them (pt-write) to Python
    fast, slow, handled = teachos_both_ways(tmp_path, shadow="write-protect")
    assert_same(fast, slow)
    assert handled["pt-write"] > 0 and handled["shadow.protect"] > 0 and handled["fill"] > 10


def test_uboot_as_a_guest_both_ways(uboot_smode):
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine

    def start(fast):
        vm = Hypervisor(Machine(ram_size=192 << 20)).create_vm(ram_size=128 << 20,
                                                               fast_exits=fast)
        vm.boot(kernel=uboot_smode)
        return vm

    def drive(vm):
        assert vm.run(instructions=60_000_000, until_output="Hit any key").reason == "output"
        vm.send_input(" ")
        assert vm.run(instructions=60_000_000, until_output="=>").reason == "output"
        vm.send_input("version\r")
        assert vm.run(instructions=60_000_000, until_output="GNU ld").reason == "output"

    fast, slow, handled = both_ways(start, drive)
    assert_same(fast, slow)
    assert b"U-Boot 2023.01" in fast["console"] and handled["mmio"] > 100


@pytest.mark.slow
@pytest.mark.parametrize("shadow", ["sfence", "write-protect"])
def test_linux_as_a_guest_both_ways(shadow):
    """Debian's Linux (the cached guest, vmlab.guests.linux) boots to its shell and runs a
    command as a guest with the hypervisor's SBI: ~500k exits, the same trace both ways --
    with either coherence strategy (write-protection: ~60k stores to its page tables)."""
    import os

    from vmlab.guests import linux
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    try:
        kernel, initrd, cmdline = linux.boot_files()
    except linux.GuestMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))

    def start(fast):
        hv = Hypervisor(Machine(ram_size=(256 << 20) + HOST_EXTRA))
        vm = hv.create_vm(ram_size=256 << 20, fast_exits=fast, shadow=shadow)
        vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
        return vm

    def drive(vm):
        assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
        vm.send_input("uname -a\n")
        assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"

    fast, slow, handled = both_ways(start, drive)
    assert_same(fast, slow)
    assert handled["csr"] > 10_000 and handled["timer"] > 0
    assert (handled["pt-write"] > 10_000) == (shadow == "write-protect")


def test_trace_extend_is_record_row_by_row():
    """The fast path's batch append gives the trace record() would have, ring wrap and
    whole-run counters included (pcs and tvals past 2**63, interrupt causes too)."""
    from vmlab.hv.trace import Trace
    rng = np.random.default_rng(7)
    names = ("csr", "timer", "shadow.sfence")
    block = np.zeros((300, fastpath.LOG_WORDS), dtype=np.int64)
    block[:, fastpath.G_TIME] = np.arange(300) * 7
    block[:, fastpath.G_KIND] = rng.choice([EXIT, INJECT, SHADOW], 300)
    block[:, fastpath.G_CAUSE] = rng.choice([2, 9, 7, 0x8000_0005], 300)
    block[:, fastpath.G_PC] = rng.integers(-(1 << 63), (1 << 63) - 1, 300)
    block[:, fastpath.G_INSN] = rng.integers(0, 1 << 32, 300)
    block[:, fastpath.G_TVAL] = rng.integers(-(1 << 63), (1 << 63) - 1, 300)
    block[:, fastpath.G_HANDLER] = rng.integers(0, 3, 300)
    block[:, fastpath.G_COST] = rng.integers(0, 500, 300)
    batch, one_by_one = Trace(capacity=128), Trace(capacity=128)
    for t in (batch, one_by_one):
        for name in names:
            t.handler_id(name)
    # large batches (numpy) and small ones (row by row); the ring wraps twice
    for start, n in ((0, 100), (100, 150), (250, 20), (270, 1), (271, 29)):
        part = block[start:start + n]
        batch.extend(part)
        for r in part.tolist():
            one_by_one.record(r[1], time=r[0], vm=r[2], vcpu=r[3], cause=r[4], pc=r[5],
                              insn=r[6], tval=r[7], handler=names[r[8]], cost=r[9])
    assert batch.records().tolist() == one_by_one.records().tolist()
    assert batch.total == one_by_one.total == 300
    assert batch.counts == one_by_one.counts
    assert batch.handler_counts == one_by_one.handler_counts
    assert batch.handler_cost == one_by_one.handler_cost


def test_uart_and_clint_accesses_both_ways():
    """Loads and stores of every width to the UART and the CLINT (compressed ones too),
    from a guest without paging: the same console, registers and trace both ways."""
    src = """
        .text
        .globl _start
_start: li s0, 300
        li s1, 0x10000000           # the UART (s1: x9, so c.lw/c.sw can reach it)
        li s4, 0x2000000            # the CLINT
        li s5, 0x2004000            # its mtimecmp
        li s6, 0x200BFF8            # its mtime
1:      lbu t1, 5(s1)               # LSR
        lb t1, 5(s1)
        li t2, 65
        sb t2, 0(s1)                # THR: prints A
        ld t3, 0(s5)                # mtimecmp
        sd t3, 0(s5)
        lw t4, 0(s4)                # msip
        lwu t4, 0(s4)
        lhu t5, 0(s6)               # mtime, low half
        c.lw a0, 4(s1)              # IER (a 32-bit access: the UART answers its byte)
        sh zero, 0(s4)
        addi s0, s0, -1
        bnez s0, 1b
        li a7, 0x53525354
        li a6, 0
        li a0, 0
        ecall
"""
    elf = assemble(src).elf

    def start(fast):
        _, vm = boot(elf, fast_exits=fast)
        return vm

    def drive(vm):
        assert vm.run(instructions=1_000_000).reason == "halt"

    fast, slow, handled = both_ways(start, drive)
    assert_same(fast, slow)
    assert fast["console"].count(b"A") == 300 and handled["mmio"] == 300 * 10


def test_compiled_walk_agrees_with_the_reference_walker():
    """fastpath.guest_walk against vmlab.sv39.walk on thousands of random walks: random
    flags (reserved combinations and bits too), superpages aligned or not, every access
    kind, vS and vU, SUM and MXR, canonical and non-canonical addresses.  Where the
    reference succeeds the compiled walk gives the same gpa and leaf; where it faults, the
    compiled walk declines."""
    from vmlab import sv39
    rng = np.random.default_rng(11)
    _, vm = boot(assemble(".text\n.globl _start\n_start: j _start\n").elf)
    mem, base = vm.mem, L.RAM_BASE
    tables = [base + 0x10_0000 + i * 0x1000 for i in range(3)]
    for t in tables:
        mem.write(t, bytes(4096))
    satp = 8 << 60 | (tables[0] >> 12)
    kinds = ("fetch", "load", "store")
    agree = ok = 0
    for _ in range(3000):
        va = int(rng.integers(0, 1 << 39))
        if rng.random() < 0.5:
            va |= 0xFFFF_FF80_0000_0000 if va >> 38 & 1 else 0      # canonical
        elif rng.random() < 0.5:
            va = sv39.canonical_va(va & ((1 << 39) - 1)) ^ (1 << 50)  # not canonical
        for level in (2, 1, 0):
            slot = tables[2 - level] + 8 * sv39.vpn(va, level)
            if level and rng.random() < 0.8:                     # a pointer to the next table
                pte = (tables[3 - level] >> 12) << 10 | 1
            else:
                flags = int(rng.integers(0, 256)) | 1 if rng.random() < 0.9 else 0
                ppn = int(rng.integers(0x80000, 0x80000 + 4096))
                if rng.random() < 0.5:
                    ppn &= ~((1 << (9 * level)) - 1)             # an aligned superpage
                pte = ppn << 10 | flags
                if rng.random() < 0.05:
                    pte |= 1 << int(rng.integers(54, 64))        # a reserved bit
            mem.write64(slot, pte)
        access = int(rng.integers(0, 3))
        priv_s, sum_, mxr = (bool(rng.integers(0, 2)) for _ in range(3))
        ref = sv39.walk(mem.read64, satp, va & ((1 << 64) - 1), kinds[access],
                        priv="S" if priv_s else "U", sum=sum_, mxr=mxr)
        done, gpa, pte_gpa, pte = fastpath.guest_walk(
            vm.machine.mem, mem.page_map, vm.devices.ctl, i64(satp), i64(va), access, priv_s,
            sum_, mxr)
        assert done == ref.ok, (hex(va), ref.reason)
        if done:
            ok += 1
            assert (gpa, pte_gpa, pte & ((1 << 64) - 1)) == (ref.pa, ref.steps[-1].pte_pa,
                                                             ref.steps[-1].pte)
        agree += 1
    assert agree == 3000 and 300 < ok < 2700           # both outcomes well represented
