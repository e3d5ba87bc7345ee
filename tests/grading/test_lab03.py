"""Lab 03's virtual CSR file exercise: graded in lockstep with bare metal through the real
artifact path (the driver runs the student's class in a VM, the checker runs bare metal)."""
from __future__ import annotations

import pytest

from lab03_solutions import SUBTLY_WRONG, Untouched, VirtualCsrs
from vmlab.grading import lab03 as l3
from vmlab.grading.artifacts import collect_one
from vmlab.grading.labs import ASSIGNMENTS

EX = l3.lab03.exercises["virtual_csrs"]


def grade(cls, student: str = "ada"):
    """What ``vmlab grade`` does for this exercise: collect (student side), then check."""
    params = EX.params(student)
    cases = EX.cases(student, params, hidden=True, secret="s3cret")
    arts = {key: collect_one(spec, {"VirtualCsrs": cls}) for key, spec in EX.requests(params, cases).items()}
    return EX.check(arts, params, cases)


def test_the_exercise_is_lab03s_in_the_course():
    assert ASSIGNMENTS["lab03"] is l3.lab03
    assert list(l3.lab03.exercises) == ["exit_counts", "virtual_csrs"]


def test_a_correct_virtual_csr_file_gets_full_marks():
    out = grade(VirtualCsrs)
    assert out.score == EX.points, out.feedback()
    assert len(out.lines) == 6 and sum(line.hidden for line in out.lines) == 4


def test_vmlabs_own_emulation_agrees_with_bare_metal_on_the_programs():
    """The grader's premise: with no hooks the hypervisor is bare metal, register for register."""
    for seed, privileged in ((1, False), (2, True), (None, True)):
        src = l3.program_source(seed, 40, privileged)
        bare = l3.run_bare(src)
        assert bare["end"] == "done"
        assert l3.differences(l3.run_guest(src, None), bare) == []


@pytest.mark.parametrize("cls", SUBTLY_WRONG, ids=lambda c: c.__name__)
def test_a_subtly_wrong_one_loses_points(cls):
    out = grade(cls)
    assert 0 < out.score < EX.points, out.feedback()


def test_the_untouched_skeleton_scores_nothing_and_says_where():
    out = grade(Untouched)
    assert out.score == 0
    assert "differs from bare metal" in out.lines[0].text


def test_feedback_names_what_differs_but_not_bare_metals_value():
    params = EX.params("ada")
    want = l3.run_bare(l3.program_source(params["csr_seed"], 30, False))
    out = grade(SUBTLY_WRONG[0])                 # forgets SD
    visible = out.lines[0].text
    hidden = [line.text for line in out.lines if line.hidden]
    assert "differs from bare metal: x" in visible
    named = [part.split(" = ")[0].strip() for part in visible.split(":")[-1].split(";")]
    assert named and all(want["regs"].get(n, want["csrs"].get(n)) not in visible for n in named)
    assert any(t == "hidden edge cases: not correct" for t in hidden)
    assert params["csr_seed"] != params["priv_seed"]


def test_a_class_that_raises_is_named_in_the_feedback():
    class Broken(VirtualCsrs):
        def read(self, hart, csr):
            raise KeyError(csr)

    out = grade(Broken)
    assert out.score == 0
    assert "your function Broken.read raised KeyError" in out.lines[0].text


def test_two_students_get_different_programs():
    assert EX.params("ada") != EX.params("bob")
    a, b = (l3.program_source(EX.params(s)["priv_seed"], 30, True) for s in ("ada", "bob"))
    assert a != b and "sret" in a and "wfi" in a


def test_the_registers_view_shows_a_vcpus_virtual_csrs():
    """What the lab shows under a vCPU's registers: the CSRs the student's class computed."""
    from vmlab.hv import Hypervisor
    from vmlab.machine import Machine
    from vmlab.viz import Registers
    vm = Hypervisor(Machine(ram_size=32 << 20)).create_vm(ram_size=16 << 20)
    vm.boot(kernel=l3.build(l3.program_source(5, 20, True)).elf)
    l3.install(vm, VirtualCsrs())
    view = Registers(vm.vcpus[0])
    assert [name for name, _ in view.csrs] == [name for name, _ in l3.S_CSRS[:2]] + ["sip", "stvec", "sscratch", "sepc", "scause", "stval", "satp"]
    before = dict(view.csrs)
    vm.run(l3.BUDGET)
    view.refresh()
    after = dict(view.csrs)
    assert after["stvec"] == f"{vm.vcpus[0].csr('stvec'):#018x}" and after != before
    assert set(view.changed) & set(after)                 # changed CSRs are marked
    assert Registers(Machine(ram_size=1 << 20)).csrs == []  # a bare machine: its CSRs are real
