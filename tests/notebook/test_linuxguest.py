"""Lab 03's Linux part, piece by piece, on real guests that boot in seconds (teachos and a
generated CSR/SBI/UART guest): the tally against the hypervisor's own counters, the CSR
decoding against our assembler's encodings, the views against the guest's tables, the
self-checks with right and wrong answers.  Debian's Linux itself boots in the lab (nbval,
the browser test) and in tests/guests."""
from __future__ import annotations

import pytest

from nb_kernels import require

require("anywidget")

from vmlab import sv39                                                     # noqa: E402
from vmlab.asm import assemble                                             # noqa: E402
from vmlab.grading.labs import exit_guest_source                           # noqa: E402
from vmlab.hv import Hypervisor                                            # noqa: E402
from vmlab.hv.trace import EXIT                                            # noqa: E402
from vmlab.notebook import linuxguest as lg                                # noqa: E402

PARAMS = {"csr_loops": 5, "sbi_calls": 3, "uart_polls": 2, "uart_writes": 4}


@pytest.fixture
def exit_vm():
    """The generated guest, booted and not yet run (each test its own: tests of one module
    may run on different workers, so none may rely on another having run the guest)."""
    vm = Hypervisor().create_vm(ram_size=16 << 20)
    vm.boot(kernel=assemble(exit_guest_source(PARAMS), 0x8000_0000).elf)
    return vm


@pytest.fixture(scope="module")
def teachos_vm():
    from vmlab.guests import teachos
    vm = Hypervisor().create_vm(ram_size=64 << 20)
    vm.boot(kernel=teachos.build().elf)
    return vm


def insn(line: str) -> int:
    """The 32-bit encoding our assembler (checked against GNU as) gives one instruction."""
    return int.from_bytes(assemble(f"_start: {line}\n", 0x8000_0000).image[:4],
                          "little")


@pytest.mark.parametrize("line,want", [
    ("csrci sstatus, 2", ("sstatus", "clear imm 0x2")),
    ("csrsi sstatus, 2", ("sstatus", "set imm 0x2")),
    ("csrs sstatus, t0", ("sstatus", "set")),
    ("csrc sstatus, a5", ("sstatus", "clear")),
    ("csrr a0, sstatus", ("sstatus", "read")),
    ("csrrc a0, sstatus, zero", ("sstatus", "read")),
    ("csrw sepc, a2", ("sepc", "write")),
    ("csrrw tp, sscratch, tp", ("sscratch", "write")),
    ("csrwi stimecmp, 0", ("stimecmp", "write imm 0x0")),
    ("csrr t1, satp", ("satp", "read")),
])
def test_csr_access_reads_the_instruction_bits(line, want):
    assert lg.csr_access(insn(line)) == want


def test_tally_counts_every_exit_as_the_trace_does(exit_vm):
    tally = lg.ExitTally(exit_vm.trace)
    done = 0
    while done < 2_000_000 and not exit_vm.stopped:        # small chunks: update in between
        done += exit_vm.run(instructions=200).instructions
        tally.update()
    assert exit_vm.stopped and tally.missed == 0
    assert tally.exits == exit_vm.trace.count(EXIT)
    assert {lg.cause_text(c): n for c, n in exit_vm.trace.by_cause().items()} == dict(tally.causes)
    assert tally.handlers == {h: n for h, n in exit_vm.trace.handler_counts.items()
                              if n and not h.startswith(("shadow.", "switch"))}
    # the guest reads and writes sscratch csr_loops times each: nothing else of it is a CSR
    assert tally.csrs == {("sscratch", "read"): PARAMS["csr_loops"],
                          ("sscratch", "write"): PARAMS["csr_loops"]}
    assert tally.handlers["sbi"] == PARAMS["sbi_calls"] + 1           # + the shutdown call
    assert tally.handlers["mmio"] == PARAMS["uart_polls"] + PARAMS["uart_writes"]


def test_tally_sees_dropped_records_as_missed(exit_vm):
    from vmlab.hv.trace import Trace
    t = Trace(capacity=4)
    tally = lg.ExitTally(t)
    for i in range(10):
        t.record(EXIT, time=i, cause=2, handler="csr", insn=insn("csrr a0, sstatus"))
    tally.update()
    assert tally.exits == 4 and tally.missed == 6


def test_guest_ram_reads_without_backing_pages(teachos_vm):
    vm = teachos_vm
    ram = lg.GuestRam(vm)
    before = vm.mem.resident_pages
    far = 0x8000_0000 + vm.mem.size - 0x10_0000             # a page nothing has touched
    assert vm.mem.hpa(far, allocate=False) is None
    assert ram.read_mem(far - 8, 16) == bytes(16)
    assert vm.mem.resident_pages == before                  # looking backed nothing
    assert ram.read_mem(0x8000_0000, 64) == vm.mem.read(0x8000_0000, 64)
    with pytest.raises(ValueError, match="outside guest RAM"):
        ram.read_mem(0x1000, 8)


def test_views_follow_the_address_space_the_guest_runs_in(teachos_vm):
    vm = teachos_vm
    vcpu = vm.vcpus[0]
    tables, shadows = lg.GuestPageTables(vcpu), lg.CurrentShadow(vm, vcpu)
    assert tables.tree is None and "paging off" in tables.note.value      # not booted yet
    r, n, _ = lg.boot_to_shell(vm, [tables, shadows], prompt="now reading kernel memory", chunk=100_000,
                               budget=60_000_000)
    assert r.reason == "output" and "now reading kernel memory" in vm.console_output  # pid 3 runs
    satp = vcpu.csr("satp")
    root_pa = sv39.satp_fields(satp)[2] << 12
    assert tables.satp == satp and tables.tree.root_pa == root_pa and root_pa in tables.roots
    assert tables.tree.valid > 0 and len(tables.roots) >= 2       # the kernel's, then processes'
    walk = sv39.mappings(vm.mem.read64, root_pa)
    assert tables.tree.leaves == sum(1 for _ in walk)
    shown, _ = shadows.current()
    assert shown.guest_satp == satp and shown.priv == "U" and shadows.counts["filled"] > 0
    pick = next(i for i, t in enumerate(shadows.trees) if "S-mode" in t)
    shadows.show_tree(pick)                                        # the drop-down wins
    assert shadows.current()[0].priv == "S"


def test_switches_are_charged_to_the_exit_before_them(teachos_vm):
    """teachos's processes run in U-mode: returning to them (sret) and trapping back
    (ecall, timer) switch between the U and the S tree of each address space."""
    from vmlab.guests import teachos
    vm = Hypervisor().create_vm(ram_size=64 << 20)
    vm.boot(kernel=teachos.build().elf)
    tally = lg.ExitTally(vm.trace)
    lg.boot_to_shell(vm, [], tally, prompt="powering off", budget=60_000_000)
    assert sum(tally.switches.values()) == tally.shadow["root_switch"] == vm.shadow.counters["root_switches"]
    assert tally.switches["sret"] > 0


def test_self_checks_take_right_answers_and_refuse_wrong_ones(exit_vm):
    exit_vm.run(instructions=2_000_000)
    assert exit_vm.stopped
    tally = lg.ExitTally(exit_vm.trace)
    tally.update()
    by_count = sorted(lg.RANKED, key=lambda h: -tally.handlers[h])
    assert lg.check_ranking(by_count, tally).passed
    wrong = lg.check_ranking(list(reversed(by_count)), tally)
    assert not wrong.passed and wrong.score[0] < len(lg.RANKED)
    assert not lg.check_ranking([], tally).passed
    best = max(lg.SAVINGS, key=lambda k: lg.saving(tally, k))
    assert best == "sbi" and lg.saving(tally, "sstatus") == 0        # this guest: SBI, no sstatus
    share = 100 * lg.saving(tally, best) / tally.exits
    assert lg.check_saving(best, round(share, 1), tally).passed
    assert not lg.check_saving(best, share + 2, tally).passed
    assert not lg.check_saving("fill", 100 * lg.saving(tally, "fill") / tally.exits, tally).passed
    assert not lg.check_saving(None, None, tally).passed


def test_missing_linux_prints_the_fetch_command_or_fails_in_ci(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    assert lg.linux_vm() is None
    assert "vmlab guests fetch linux" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    from vmlab.guests import linux
    with pytest.raises(linux.GuestMissing, match="vmlab guests fetch linux"):
        lg.linux_vm()
