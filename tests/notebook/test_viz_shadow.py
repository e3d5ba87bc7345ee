"""Guest vs shadow and the TLB view against the real hypervisor and the real machine."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from nb_kernels import require

require("anywidget")

from vmlab import sv39                                        # noqa: E402
from vmlab.asm import assemble                                # noqa: E402
from vmlab.notebook.session import Session                    # noqa: E402
from vmlab.viz import GuestVsShadow, TlbView                  # noqa: E402
from vmlab.viz.shadow import narrowed                         # noqa: E402

V, R, W, X, U, A, D = (sv39.PTE_V, sv39.PTE_R, sv39.PTE_W, sv39.PTE_X, sv39.PTE_U, sv39.PTE_A,
                       sv39.PTE_D)


@pytest.fixture(scope="module")
def teachos_vm():
    from vmlab.guests import teachos
    from vmlab.hv import Hypervisor
    vm = Hypervisor().create_vm(ram_size=64 << 20)
    vm.boot(kernel=teachos.build().elf)
    return vm


def hpa_boxes(scene) -> dict:
    return {s["id"]: s for s in scene["shapes"] if s["id"].startswith("hpa-")}


def test_shadow_picture_is_what_the_hypervisor_keeps_and_fills_in(teachos_vm):
    from vmlab.hv.shadow_view import side_by_side
    vm = teachos_vm
    vm.run(instructions=2_000_000)
    view = GuestVsShadow(vm)
    root, _ = view.current()
    assert not root.direct                                   # the busiest guest tree
    shapes = {s["id"]: s for s in view.scene["shapes"]}
    for row in side_by_side(vm.shadow, root):
        g = row.guest
        if g is None or g.level:
            continue
        key = f"{g.va:x}"
        assert g.flags in shapes[f"gva-{key}"]["label"] and shapes[f"gpa-{key}"]["label"] == f"{g.pa:#x}"
        assert (f"host-{key}" in shapes) == (vm.mem.hpa(g.pa, allocate=False) is not None)
        box = shapes[f"hpa-{key}"]
        if row.shadow:
            assert "filled" in box["cls"].split() and box["label"].startswith(f"{row.shadow[0].pa:#x}")
            assert "shadow" in shapes[f"shadow-{key}"]["cls"]
        else:
            assert box["cls"] == "unfilled" and box["dash"]
    # pick a user process's tree (as the drop-down does): it stays picked while the guest
    # runs, and its entries fill in as the process touches its pages
    pick = next(i for i, t in enumerate(view.trees) if "U-mode" in t)
    view.show_tree(pick)
    root = view.current()[0]
    assert root.priv == "U"
    before = {k for k, s in hpa_boxes(view.scene).items() if s["cls"] == "unfilled"}
    assert before
    became = set()
    for _ in range(40):
        vm.run(instructions=500_000)
        view.refresh()
        if view.current()[0] is not root:              # evicted from the hypervisor's cache
            break
        became |= {k for k, s in hpa_boxes(view.scene).items() if k in before and "filled" in s["cls"].split()}
        if became:
            break
    assert became, "no shadow entry went from not filled to filled"
    assert "filled" in view.text() or "0x" in view.text()


def test_narrowed_permissions_say_why():
    s_mode = SimpleNamespace(priv="S", sum=False, mxr=False)
    clean = V | R | W | A                                     # writable but not dirty yet
    assert narrowed(s_mode, clean, V | R | U | A | D, False) == (
        "W", "W held back: clean page (D=0);\nthe first store traps, D is set")
    assert narrowed(s_mode, clean | D, V | R | W | U | A | D, False) == ("", "")
    lost, why = narrowed(s_mode, clean | D, V | R | U | A | D, True)
    assert lost == "W" and "page table" in why
    u_mode = SimpleNamespace(priv="U", sum=False, mxr=False)
    assert narrowed(u_mode, clean | D, V | U | A | D, False) == ("", "")   # the guest forbids it too


PAGING = """
        .equ CODE_VA, 0x40000000
        .equ DATA_VA, 0x40200000
_start: li t0, 3 << 11
        csrc mstatus, t0
        li t0, 1 << 11
        csrs mstatus, t0
        li t0, CODE_VA
        csrw mepc, t0
        csrw satp, a0
        sfence.vma
        mret
        .balign 4096
s_code: li t0, DATA_VA
        ld a1, 0(t0)
        sd a1, 8(t0)
flush:  sfence.vma
done:   ecall
"""


def test_tlb_view_shows_the_entries_and_what_a_flush_removes():
    s = Session()
    p = assemble(PAGING)
    s.load(p)
    m = s.machine
    root, l1, l0, data = 0x8010_0000, 0x8010_1000, 0x8010_2000, 0x8010_3000
    code_va, data_va = 0x4000_0000, 0x4020_0000

    def put(pa, value):
        m.write_mem(pa, value.to_bytes(8, "little"))
    put(root + 8 * 1, sv39.make_pte(l1, V))
    put(l1 + 8 * 0, sv39.make_pte(l0, V))
    put(l1 + 8 * 1, sv39.make_pte(l0 + 0x1000 * 4, V))
    put(l0, sv39.make_pte(p.symbols["s_code"], V | R | X | A))
    put(l0 + 0x4000, sv39.make_pte(data, V | R | W | A | D))
    m.pc, m.priv = p.entry, 3
    m.set_reg("a0", sv39.make_satp(root, asid=5))
    view = TlbView(m)
    assert view.stats["in_use"] == 0
    at = lambda sym: code_va + p.symbols[sym] - p.symbols["s_code"]   # noqa: E731
    m.add_breakpoint(at("flush"))
    assert m.run(instructions=1000).reason == "breakpoint"
    view.refresh()
    boxes = {b["id"]: b for b in view.scene["shapes"]}
    assert view.stats["in_use"] == 3 and view.stats["misses"] >= 3
    for kind in ("load", "store"):
        assert boxes[f"set-{kind}-0"]["label"].startswith(" 0 0x0040200 → 0x80103 4K a5 S")
    assert boxes["set-fetch-0"]["label"].startswith(" 0 0x0040000 → ")
    m.remove_breakpoint(at("flush"))
    m.add_breakpoint(at("done"))
    assert m.run(instructions=1000).reason == "breakpoint"
    view.refresh()                                     # sfence.vma ran: the entries went
    boxes = {b["id"]: b for b in view.scene["shapes"]}
    assert view.stats["flushed"] >= 2
    for kind in ("load", "store"):
        assert boxes[f"set-{kind}-0"]["cls"] == "flushed"
        assert "flushed: 0x0040200" in boxes[f"set-{kind}-0"]["label"]
    assert "in use" in view.text()
