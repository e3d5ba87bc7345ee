"""The nanobenchmark table: its structure, and the facts about exits that must hold in it
(Adams & Agesen's lessons, on our machine).  No timing asserts: host times vary."""
from __future__ import annotations

import json

import pytest

from vmlab import cli
from vmlab.bench import nanobench as nb
from vmlab.guests import nano
from vmlab.hv import paravirt
from vmlab.hv.exit_types import COSTS
from vmlab.machine import memmap

N = 12


@pytest.fixture(scope="module")
def cells():
    """A few rows under every measured technique (each row: runs of 1, 0 and N)."""
    names = ("syscall", "callret", "divzero", "ptemod", "ptemod-batch", "ptemod-hcall", "tlb",
             "csrwr", "mmio")
    return {name: {t: nb.measure(name, t, N) for t in nb.MEASURED} for name in names}


def test_guest_says_the_board_addresses_the_machine_has():
    assert (nano.TEST_BASE, nano.CLINT_BASE, nano.UART_BASE) == (
        memmap.TEST_BASE, memmap.CLINT_BASE, memmap.UART_BASE)


def test_nothing_exits_bare(cells):
    for name, row in cells.items():
        assert row["bare"].exits == 0 and row["bare"].handlers == {}, name


def test_a_system_call_from_guest_user_mode_exits_under_shadow(cells):
    for t in ("sfence", "write-protect"):
        c = cells["syscall"][t]
        # the ecall is reflected into the guest kernel, whose sepc update and sret exit too
        assert c.handlers == {"reflect": 1, "csr": 2, "sret": 1}, c.handlers
        assert c.cycles >= 4 * COSTS["switch"] + cells["syscall"]["bare"].cycles


def test_code_that_never_traps_runs_at_bare_speed(cells):
    # call/ret and a divide by zero (RISC-V does not trap on it) cost the same everywhere
    for name in ("callret", "divzero"):
        row = cells[name]
        assert {c.exits for c in row.values()} == {0}
        assert len({c.cycles for c in row.values()}) == 1, name


def test_a_pte_store_exits_under_write_protect_only(cells):
    wp, sf = cells["ptemod"]["write-protect"].handlers, cells["ptemod"]["sfence"].handlers
    assert wp.get("pt-write") == 1                      # the store itself traps
    assert "pt-write" not in sf                         # under sfence coherence it does not,
    assert sf.get("sfence.vma") == 1 and wp.get("sfence.vma") == 1   # the sfence does


def test_batched_updates_by_hypercall_trade_exits_for_one_call(cells):
    batch = nano.BATCH
    hcall, plain = cells["ptemod-hcall"], cells["ptemod-batch"]
    for t in ("sfence", "write-protect"):
        assert hcall[t].handlers.get("sbi") == 1
        assert "pt-write" not in hcall[t].handlers and "sfence.vma" not in hcall[t].handlers
    assert plain["write-protect"].handlers.get("pt-write") == pytest.approx(batch, abs=0.1)
    assert hcall["write-protect"].exits < plain["write-protect"].exits
    assert hcall["write-protect"].cycles < plain["write-protect"].cycles
    assert hcall["sfence"].cycles < plain["sfence"].cycles


def test_walks_read_three_ptes_bare_and_through_the_shadow(cells):
    for t in ("bare", "sfence", "write-protect"):
        c = cells["tlb"][t]
        assert c.walks >= nano.DATA_PAGES              # every load of the sweep misses
        assert c.refs_per_walk == pytest.approx(3.0, abs=0.05), t


def test_a_two_stage_walk_reads_up_to_fifteen_ptes(cells):
    """Sv39 over Sv39x4: the guest's three PTE addresses and the final address are guest-
    physical, each translated by a three-level G-stage walk -- 3 + 4 * 3 = 15 (the TLB keeps
    only whole translations, so every miss pays them all)."""
    c, shadow = cells["tlb"]["hw"], cells["tlb"]["sfence"]
    assert c.walks >= nano.DATA_PAGES and c.walks == shadow.walks
    assert c.refs_per_walk == pytest.approx(15.0, abs=0.05)
    assert c.exits == 0 and c.cycles == shadow.cycles     # walks cost no exit, no modelled time


def test_a_system_call_from_guest_user_mode_does_not_exit_under_hw(cells):
    """hedeleg hands the guest's U-mode ecall to its own kernel: no exit, and the kernel's
    sepc update and sret are VS CSR accesses, no exits either."""
    hw, shadow = cells["syscall"]["hw"], cells["syscall"]["sfence"]
    assert hw.exits == 0 and hw.handlers == {}
    assert hw.cycles == cells["syscall"]["bare"].cycles < shadow.cycles


def test_a_pte_store_and_sfence_exit_under_write_protect_not_under_hw(cells):
    hw, wp = cells["ptemod"]["hw"].handlers, cells["ptemod"]["write-protect"].handlers
    assert wp.get("pt-write") == 1 and wp.get("sfence.vma") == 1
    assert "pt-write" not in hw and "sfence.vma" not in hw
    # what is left is a G-stage fill the first time a page is reached, amortized over n
    assert set(hw) <= {"g-fill"} and cells["ptemod"]["hw"].exits < 0.5
    batch = cells["ptemod-batch"]
    assert batch["hw"].exits < 0.5 < batch["write-protect"].exits
    assert batch["hw"].cycles < batch["write-protect"].cycles


def test_what_still_exits_under_hw_is_a_device_access(cells):
    assert cells["csrwr"]["hw"].exits == 0 and cells["csrwr"]["sfence"].handlers == {"csr": 1.0}
    assert cells["mmio"]["hw"].handlers == cells["mmio"]["sfence"].handlers == {"mmio": 1.0}
    assert cells["mmio"]["hw"].cycles == cells["mmio"]["sfence"].cycles


def _original_ptes() -> list[int]:
    """What the kernel put in l0[1..BATCH]: data page i at DATA_GPA + i pages, V R W A D."""
    base = (nano.DATA_GPA >> 12 << 10) | 0xc7
    return [base + 0x400 * (1 + i) for i in range(nano.BATCH)]


def _data_ptes(read64, pt_l0: int) -> list[int]:
    return [read64(pt_l0 + 8 * (1 + i)) for i in range(nano.BATCH)]


@pytest.mark.parametrize("enabled", [True, False])
def test_mmu_update_writes_the_batch_only_where_switched_on(enabled):
    prog = nano.build("ptemod-hcall", 1)
    vm = nb.hv_vm("sfence", mmu_update=enabled)
    nb.run_guest(prog, "sfence", vm)
    original = _original_ptes()
    flipped = [p ^ 0x400 for p in original]
    got = _data_ptes(vm.mem.read64, prog.symbols["pt_l0"])
    assert got == (flipped if enabled else original)
    assert paravirt.switches(vm).ptes_written == (nano.BATCH if enabled else 0)


def test_the_bare_firmware_implements_mmu_update_too():
    from vmlab.machine import Machine
    prog = nano.build("ptemod-hcall", 1)
    m = Machine(ram_size=nb.GUEST_RAM)
    m.load_elf(prog.elf)
    m.pc = prog.symbols["_start"]
    assert m.run().reason == "halt"
    got = _data_ptes(lambda a: int.from_bytes(m.read_mem(a, 8), "little"), prog.symbols["pt_l0"])
    assert got == [p ^ 0x400 for p in _original_ptes()]


def test_json_report_structure(capsys):
    assert cli.main(["nanobench", "--n", "4", "--only", "csrwr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["techniques"] == list(nb.MEASURED) == list(nb.TECHNIQUES)
    assert report["pending"] == [] and report["results"]["csrwr"]["hw"]["handlers"] == {}
    cell = report["results"]["csrwr"]["sfence"]
    assert cell["handlers"] == {"csr": 1.0}
    assert cell["cycles"] == pytest.approx(
        report["results"]["csrwr"]["bare"]["cycles"] + COSTS["switch"] + COSTS["csr"])
    assert report["cost_model"]["exit"]["switch"] == COSTS["switch"]


def test_bad_n_is_one_line_and_status_1(capsys):
    assert cli.main(["nanobench", "--n", "0"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "vmlab nanobench: --n must be at least 1, not 0"


def test_mmu_update_checks_every_address_before_writing_any():
    from vmlab.hv import sbi
    prog = nano.build("ptemod-hcall", 0)
    vm = nb.hv_vm("sfence")
    vm.boot(kernel=prog.elf)                      # not run: satp is Bare, gva == gpa
    vcpu, buf = vm.vcpus[0], prog.symbols["hcall_buf"]
    target = prog.symbols["pt_l0"] + 8
    for i, (pte, value) in enumerate(((target, 0x1234_5601), (0x10, 0))):   # 0x10: not RAM
        vm.mem.write64(buf + 16 * i, pte)
        vm.mem.write64(buf + 16 * i + 8, value)
    assert paravirt.mmu_update(vcpu, 0, [buf, 2]) == (sbi.ERR_INVALID_ADDRESS, 0)
    assert vm.mem.read64(target) == 0             # nothing written
    assert paravirt.mmu_update(vcpu, 0, [buf, paravirt.MAX_BATCH + 1])[0] == sbi.ERR_INVALID_PARAM
    assert paravirt.mmu_update(vcpu, 0, [buf, 1]) == (sbi.SUCCESS, 1)
    assert vm.mem.read64(target) == 0x1234_5601
    paravirt.enable(vm, mmu_update=False)
    assert paravirt.mmu_update(vcpu, 0, [buf, 1])[0] == sbi.ERR_NOT_SUPPORTED
