"""The widgets' Python side, in process: what they read from their models and show."""
from __future__ import annotations

import time


from nb_kernels import require  # noqa: E402

require("anywidget")

from vmlab import sv39
from vmlab.asm import assemble
from vmlab.notebook.session import Session
from vmlab.viz import (Console, PageTableTree, Registers, RunControl, TrapLog, TrapRecorder,
                       WalkView)


def dict_memory():
    """Page tables in a dict (pa -> 8-byte word): the widgets need only read64."""
    mem = {}
    return mem, (lambda pa: mem.get(pa, 0)), (lambda pa, v: mem.__setitem__(pa, v))


def build_tables():
    mem, read64, write64 = dict_memory()
    root, l1, l0 = 0x8010_0000, 0x8010_1000, 0x8010_2000
    va = 0x4020_0000
    write64(root + 8 * sv39.vpn(va, 2), sv39.make_pte(l1, sv39.PTE_V))
    write64(l1 + 8 * sv39.vpn(va, 1), sv39.make_pte(l0, sv39.PTE_V))
    write64(l0 + 8 * sv39.vpn(va, 0), sv39.make_pte(0x8020_0000, sv39.PTE_V | sv39.PTE_R))
    # a 1 GiB superpage at VA 0xC000_0000, directly in the root
    write64(root + 8 * 3, sv39.make_pte(0x8000_0000, sv39.PTE_V | sv39.PTE_R | sv39.PTE_X))
    return read64, root, va


def test_page_table_tree_shows_valid_entries_only():
    read64, root, va = build_tables()
    t = PageTableTree(read64, root)
    assert t.leaves == 2 and t.valid == 4
    rows = {s["id"]: s for s in t.scene["shapes"] if s["id"].startswith("row-")}
    assert sorted(rows) == sorted([f"row-{root:x}-1", f"row-{root:x}-3", "row-80101000-1",
                                   "row-80102000-0"])                # VPN[2] of 0x4020_0000 is 1
    giga = rows[f"row-{root:x}-3"]
    assert "super" in giga["cls"] and " 1G VR-X----" in giga["label"]
    assert "0x40200000 → 0x80200000 4K VR------" in rows["row-80102000-0"]["label"]
    assert "0x0000000040200000 → 0x80200000 4 KiB VR------" in t.text()


def test_walk_view_follows_the_reference_walker():
    read64, root, va = build_tables()
    satp = sv39.make_satp(root)
    w = WalkView(read64, satp, va + 0x18)
    assert w.walk["ok"] and "physical 0x80200018" in w.walk["result"]
    assert w.walk["levels"] == [2, 1, 0]
    assert w.scene["shapes"][0]["label"] == f"virtual address {va + 0x18:#018x}"
    bad = w.show(va, "store")                                   # read-only page
    assert not bad.ok and bad.fault == sv39.STORE_PAGE_FAULT
    assert "fault 15" in w.walk["result"] and "without W" in w.walk["result"]


def test_pictures_fall_back_to_text_without_a_browser():
    """text/plain (a terminal, nbconvert --to text) carries the picture in words."""
    read64, root, va = build_tables()
    walk = WalkView(read64, sv39.make_satp(root), va + 0x18)
    data, _ = walk._repr_mimebundle_()
    assert data["text/plain"] == walk.text() and "→ physical 0x80200018" in data["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in data
    tree = PageTableTree(read64, root)
    assert tree._repr_mimebundle_()[0]["text/plain"].startswith("root 0x80100000 · 4 valid entries")
    assert repr(tree) == "<vmlab PageTableTree>"                     # short in lists and logs


TRAPS = """
_start: la t0, handler
        csrw mtvec, t0
trap1:  .word 0x00100073                 # ebreak, 4 bytes (not c.ebreak)
trap2:  .word 0
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
        .balign 4
handler:
        csrr t1, mepc
        addi t1, t1, 4
        csrw mepc, t1
        mret
"""


def loaded(source):
    s = Session()
    p = assemble(source)
    s.load(p)
    s.machine.pc = p.entry
    return s, p


def test_trap_recorder_logs_each_trap_with_pc_and_instruction():
    s, p = loaded(TRAPS)
    rec = TrapRecorder(s.machine)
    log = TrapLog(rec.trace)
    r = rec.run(100_000)
    assert r.reason == "halt"
    log.refresh()
    assert log.total == 2
    first, second = log.rows
    assert first["cause"] == "Breakpoint" and first["insn"] == "ebreak"
    assert int(first["pc"], 16) == p.symbols["trap1"]
    assert second["cause"] == "Illegal instruction" and int(second["pc"], 16) == p.symbols["trap2"]
    assert second["handler"].startswith("M-mode handler at")
    assert (first["kind"], second["kind"]) == ("other", "csr")     # colour by kind of exit


def test_registers_mark_what_changed_since_the_last_refresh():
    s, _ = loaded("_start: li a0, 5\n li a1, 6\n nop\n")
    regs = Registers(s.machine)
    s.step(1)
    regs.refresh()
    assert regs.changed == ["a0", "pc"]
    assert dict(regs.regs)["a0"] == "0x0000000000000005"
    s.step(1)
    regs.refresh()
    assert regs.changed == ["a1", "pc"]


def test_console_shows_output_and_sends_input():
    s, _ = loaded("_start: li t0, 0x10000000\n"
                  "1: lbu t1, 5(t0)\n andi t1, t1, 1\n beqz t1, 1b\n lbu t2, 0(t0)\n"
                  " addi t2, t2, 1\n sb t2, 0(t0)\n ecall\n")
    con = Console(s.machine)
    con.type("H")
    s.run(100_000)
    con.refresh()
    assert con.text == "I"                                       # 'H' + 1, from the guest


def test_run_control_pauses_a_background_run():
    s, _ = loaded("_start: 1: addi a0, a0, 1\n j 1b\n")
    regs = Registers(s.machine)
    ctl = RunControl(s.machine, [regs])
    ctl.run()                                                    # forever, on a thread
    deadline = time.monotonic() + 60
    while ctl.instructions == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ctl.running and ctl.state == "running"
    ctl.pause()
    ctl.wait(60)
    assert not ctl.running and ctl.state == "paused" and ctl.message == "paused"
    stopped = s.machine.counters["instructions"]
    assert stopped > 0 and ctl.instructions == stopped
    assert regs.instret == stopped                               # views got the final state
    ctl.step()
    assert s.machine.counters["instructions"] == stopped + 1
