"""The two-stage walk picture against the reference walker, on random two-stage trees.

The picture is data (vmlab/viz/scene.py).  For every random walk -- superpages at both
stages, faults in either stage, access faults, Bare vsatp, non-canonical addresses -- each
memory reference the walker made must be drawn once, numbered in order, in its stage's
column and its row (one row per VS level, then the data row), with the PTE it read and shown
at its own step; the fault must be drawn with the walker's reason and GPA; a successful walk
must end at the host address the walker computed.  Then the widget: predict-then-reveal of
the reference count, a machine as the source, refresh, the text fallback.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from nb_kernels import require

require("anywidget")

sys.path.insert(0, str(Path(__file__).parents[1] / "paging"))
from twostage_trees import RAM_BASE, TwoStageTrees  # noqa: E402

from vmlab import sv39                                             # noqa: E402
from vmlab.machine import Machine                                  # noqa: E402
from vmlab.viz import TwoStageWalkView                             # noqa: E402
from vmlab.viz.walk2 import CELL_H, GRID, GX, ROW_H, VSX, circled, walk2_scene  # noqa: E402

RAM_SIZE = 4 << 20


def check(scene, w: sv39.Walk2) -> None:
    shapes = {s["id"]: s for s in scene.shapes}
    refs = w.refs
    assert sorted(i for i in shapes if i.startswith("ref-")) == sorted(f"ref-{r.n}" for r in refs)
    assert scene.steps == len(refs) + 1
    row, prev_stage = 0, None
    for r in refs:
        cell = shapes[f"ref-{r.n}"]
        if r.stage == "G" and prev_stage == "VS":
            row += 1                                  # a new G walk starts the next row
        assert cell["step"] == r.n and cell["label"].startswith(f"{circled(r.n)} {r.stage} L{r.level} ")
        assert f"{r.pte:#018x}" in cell["label"] and sv39.flag_string(r.pte) in cell["label"]
        assert cell["x"] == (GX[2 - r.level] if r.stage == "G" else VSX)
        assert cell["y"] == GRID + row * ROW_H and cell["h"] == CELL_H
        assert f"at host {r.pte_hpa:#x}" in cell["title"]
        prev_stage = r.stage
    if w.ok:
        assert f"{w.hpa:#x}" in shapes["hpa"]["label"] and shapes["hpa"]["step"] == scene.steps
        assert "fault" not in shapes and f"hpa {w.hpa:#x}" in shapes["result"]["label"]
        return
    fault = shapes["fault"]
    assert fault["label"].startswith(f"✗ fault {w.fault}\n") and fault["title"] == w.reason
    assert fault["step"] == scene.steps and "hpa" not in shapes
    assert ("GPA" in fault["label"]) == (w.fault_gpa is not None)
    assert w.fault_gpa is None or f"GPA {w.fault_gpa:#x}" in fault["label"]
    bad = [s for s in scene.shapes if s["id"].startswith("ref-") and "fault" in s["cls"].split()]
    if w.fault in (12, 13, 15) and refs:             # a VS-stage PTE was wrong: that cell
        assert [s["id"] for s in bad] == [f"ref-{refs[-1].n}"] and refs[-1].stage == "VS"
    elif w.fault in (20, 21, 23) and w.fault_gpa >> 41 == 0:
        assert [s["id"] for s in bad] == [f"ref-{refs[-1].n}"] and refs[-1].stage == "G"
    elif w.fault in (1, 5, 7):
        assert "noread" in shapes and not bad


@pytest.mark.parametrize("seed", range(3))
def test_two_stage_picture_matches_the_reference_walker(seed):
    rng = random.Random(seed)
    m = Machine(ram_size=RAM_SIZE)
    trees = TwoStageTrees(m, rng, RAM_SIZE)
    if seed == 2:
        trees.vsatp = 0
    seen = {"ok": 0, "vs fault": 0, "g fault": 0, "g super": 0, "vs super": 0}
    for _ in range(400):
        gva = trees.gva()
        trees.grow(gva)
        access, priv = rng.choice(["load", "store", "fetch"]), rng.choice("SU")
        w, scene = walk2_scene(trees.read64, trees.vsatp, trees.hgatp, gva, access, priv=priv,
                               sum=True)
        ref = sv39.walk2(trees.read64, trees.vsatp, trees.hgatp, gva, access, priv=priv, sum=True)
        assert (w.hpa, w.fault, w.reason, w.refs) == (ref.hpa, ref.fault, ref.reason, ref.refs)
        check(scene, ref)
        seen["ok"] += ref.ok
        seen["vs fault"] += ref.fault in (12, 13, 15)
        seen["g fault"] += ref.fault in (20, 21, 23)
        seen["g super"] += any(g.ok and g.steps and g.steps[-1].level for g in ref.g_walks)
        seen["vs super"] += bool(ref.ok and ref.level)
    if seed == 2:
        assert seen["vs fault"] == seen["vs super"] == 0
        del seen["vs fault"], seen["vs super"]
    assert min(seen.values()) > 0, seen


def _fifteen():
    """A 4 KiB guest page over 4 KiB G-stage pages: the 15-reference walk."""
    m = Machine(ram_size=RAM_SIZE)
    trees = TwoStageTrees(m, random.Random(1), RAM_SIZE)
    gva, data_gpa = 0x7_4020_3018, RAM_BASE + 0x3F_0000
    trees.map_g(data_gpa, RAM_BASE + 0x2F_0000)
    trees.map_vs(gva, data_gpa, sv39.PTE_V | sv39.PTE_R | sv39.PTE_W | sv39.PTE_A | sv39.PTE_D)
    return m, trees, gva


def test_the_fifteen_reference_picture_and_the_shadow_beside_it():
    m, trees, gva = _fifteen()
    shadow_root = RAM_BASE + 0x3E_0000                     # a one-page shadow: gva -> hpa
    l1, l0 = shadow_root + 0x1000, shadow_root + 0x2000
    for table, index, pte in ((shadow_root, sv39.vpn(gva, 2), sv39.make_pte(l1, sv39.PTE_V)),
                              (l1, sv39.vpn(gva, 1), sv39.make_pte(l0, sv39.PTE_V)),
                              (l0, sv39.vpn(gva, 0), sv39.make_pte(RAM_BASE + 0x2F_0000,
                                                                   sv39.PTE_V | sv39.PTE_R | sv39.PTE_U))):
        trees.write64(table + 8 * index, pte)
    v = TwoStageWalkView(trees.read64, gva, vsatp=trees.vsatp, hgatp=trees.hgatp,
                         shadow_satp=sv39.make_satp(shadow_root))
    assert v.walk["ok"] and v.walk["refs"] == 15 and v.walk["stages"] == "GGGV" * 3 + "GGG"
    ids = [s["id"] for s in v.scene["shapes"]]
    assert [f"ref-{n}" for n in range(1, 16)] == [i for i in ids if i.startswith("ref-")]
    assert [i for i in ids if i.startswith("shadow-") and i[7:].isdigit()] == ["shadow-1", "shadow-2", "shadow-3"]
    shapes = {s["id"]: s for s in v.scene["shapes"]}
    assert "3 memory references" in shapes["shadow-title"]["label"]
    hpa = f"{RAM_BASE + 0x2F_0018:#x}"                       # both walks end at the same byte
    assert hpa in shapes["hpa"]["label"] and hpa in shapes["shadow-result"]["label"]
    assert "15 memory references" in shapes["result"]["label"]
    assert v.text().count("\n") == 16 and "→ hpa" in v.text()


def test_predict_the_reference_count_then_reveal():
    m, trees, gva = _fifteen()
    v = TwoStageWalkView(trees.read64, gva, vsatp=trees.vsatp, hgatp=trees.hgatp, predict=True)
    hidden = str(v.scene) + str(v.walk) + v.text()
    assert v.walk["asking"] and "ref-" not in hidden and "15" not in str(v.walk)
    assert v.answer(3) is False and "made 15" in v.verdict
    assert v.walk["refs"] == 15 and not v.walk["asking"]
    v.show(gva, "store")
    v._on_msg(v, {"type": "predict", "answer": "15"}, [])         # the browser's field
    assert [p["right"] for p in v.predictions] == [False, True]


def test_from_a_machine_it_reads_the_harts_vsatp_and_hgatp():
    m, trees, gva = _fifteen()
    with pytest.raises(ValueError, match="vsatp and hgatp"):
        TwoStageWalkView(trees.read64, gva)
    m.set_csr("hgatp", trees.hgatp)
    m.set_csr("vsatp", trees.vsatp)
    v = TwoStageWalkView(m, gva, "load")
    assert v.walk["ok"] and v.walk["refs"] == 15
    updates = v.updates
    v.refresh()                                              # nothing changed: nothing sent
    assert v.updates == updates
    m.set_csr("vsatp", 0)                                    # the guest turned paging off
    v.refresh()
    assert v.updates == updates + 1 and v.walk["refs"] == 1 and not v.walk["ok"]
    assert v.walk["fault"] == 21              # gpa = gva: the G root has no entry for it


def test_non_canonical_and_bare():
    m, trees, gva = _fifteen()
    w, scene = walk2_scene(trees.read64, trees.vsatp, trees.hgatp, gva ^ 1 << 50)
    assert w.fault == 13 and scene.steps == 1 and not scene.ids("ref-")
    assert "fault" in scene.get("field-sign")["cls"]
    w, scene = walk2_scene(trees.read64, 0, 0, 0x8000_1234)       # both stages Bare
    assert w.ok and w.hpa == 0x8000_1234 and not scene.ids("ref-") and scene.steps == 1


def test_a_guest_run_by_the_h_extension():
    """A real guest in VS-mode (vmlab.hv.hwassist, G stage filled on demand): the view reads
    the hart's vsatp (Bare) and hgatp and walks the data page the guest loaded from -- three
    references, to the frame the VM's memory gave that page; the next, never touched page
    ends in the guest-page fault the hardware would take."""
    from vmlab.asm import assemble
    from vmlab.hv.hwassist import GStage, HwVcpu, VS_ECALL
    from vmlab.hv.memory import FrameAllocator, GuestMemory
    guest = ("_start: la t0, data\n ld a0, 0(t0)\n ecall\n1: j 1b\n"
             ".data\n.balign 4096\ndata: .dword 42\n.balign 4096\nnext: .dword 0\n")
    m = Machine(ram_size=8 << 20)
    frames = FrameAllocator(m.mem, RAM_BASE, first=RAM_BASE + (1 << 20))
    mem = GuestMemory(frames, vm_id=1, gpa_base=RAM_BASE, size=1 << 20)
    prog = assemble(guest, base=RAM_BASE)
    for section in prog.sections.values():
        if section.size and "a" in section.flags:
            mem.write(section.addr, bytes(section.data))
    vcpu = HwVcpu(m, GStage(m, frames, mem, vmid=2), RAM_BASE + 0x1000)
    vcpu.enter(prog.symbols["_start"])
    assert vcpu.run().cause == VS_ECALL and m.reg("a0") == 42
    data = prog.symbols["data"]
    v = TwoStageWalkView(m, data)
    assert v.walk["ok"] and v.walk["refs"] == 3 and v.walk["stages"] == "GGG"
    assert v.result.hpa == mem.hpa(data, allocate=False)
    assert int.from_bytes(m.read_mem(v.result.hpa, 8), "little") == 42
    v.show(prog.symbols["next"], "store")
    assert v.walk["fault"] == 23 and v.result.fault_gpa == prog.symbols["next"]
    assert v.walk["refs"] == 3 and "GPA 0x" in v.text()
