"""The shadow pager under the real hypervisor core: the teaching OS (Sv39, three processes
with their own ASIDs, a 1 GiB kernel page, U-mode processes) runs the same with either
coherence strategy, and every shadow tree it leaves behind is sound."""
from __future__ import annotations

import pytest

from vmlab.hv.memory import FrameAllocator
from vmlab.hv.shadow_view import side_by_side
from vmlab.machine import Machine


@pytest.fixture(scope="module")
def teachos_elf():
    from vmlab.guests import teachos
    return bytes(teachos.build().elf)


def boot(elf, strategy):
    from vmlab.hv.vm import Hypervisor
    hv = Hypervisor(Machine(ram_size=(128 << 20) + (16 << 20)))
    vm = hv.create_vm(ram_size=128 << 20, shadow=strategy)
    vm.boot(kernel=elf)
    result = vm.run(instructions=300_000_000)
    return vm, result


def test_teaching_os_runs_the_same_with_both_strategies(teachos_elf):
    runs = {s: boot(teachos_elf, s) for s in ("sfence", "write-protect")}
    outputs = {s: vm.console_output for s, (vm, _) in runs.items()}
    assert outputs["sfence"] == outputs["write-protect"]
    assert "teachos: powering off" in outputs["sfence"]
    assert "pid 3: load page fault at 0x80200000" in outputs["sfence"]     # reflected, not filled
    sf, wp = (runs[s][0].shadow.counters for s in ("sfence", "write-protect"))
    assert sf["sfences"] == sf["flushes"] > 0 and wp["flushes"] == 0 and wp["sfences"] == sf["sfences"]
    assert sf["fills"] > 0 and sf["guest_faults"] >= 1 and sf["root_switches"] > 0
    for vm, _ in runs.values():
        assert_sound(vm)


def assert_sound(vm):
    """Every shadow leaf maps one of this VM's frames; under write-protect none is stale."""
    own = {int(h) for h in vm.frames.frames_of(vm.id)}
    shadow = {int(h) for h in vm.frames.frames_of(FrameAllocator.SHADOW)}
    sp = vm.shadow
    for key, root in sp.roots.items():
        assert set(root.tree.tables) <= shadow
        for m in root.tree.mappings():
            assert m.pa & ~0xFFF in own
        if sp.write_protect and key[0] == "sv39":
            assert not any(r.stale for r in side_by_side(sp, key))


def test_indexing_fills_pauses_the_collector_and_restores_it():
    import gc

    import pytest

    from vmlab.hv.shadow import _collector_paused
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with _collector_paused():
            assert not gc.isenabled()
            raise ValueError("a broken fill log")
    assert gc.isenabled()                       # back on, even after an error
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()               # a caller who had it off keeps it off
    finally:
        gc.enable()
