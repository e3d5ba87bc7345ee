"""Lab 07's graded exercises: right answers score full marks, wrong ones do not, and every
student gets an instance of their own."""
from __future__ import annotations

import json

from vmlab.asm import assemble
from vmlab.grading.lab07 import lab07, reads_without_writing, run_popek_three_ways
from vmlab.grading.labs import ASSIGNMENTS
from vmlab.hv.translate import is_sensitive


def _grade(ex, student, arts):
    p = ex.params(student)
    return ex.check(arts, p, ex.cases(student, p, hidden=True, secret="s"))


def test_lab07_is_an_assignment_and_instances_differ():
    assert ASSIGNMENTS["lab07"] is lab07
    for ex in lab07.exercises.values():
        instances = {json.dumps(ex.params(f"student{i}"), sort_keys=True) for i in range(20)}
        assert len(instances) >= 15, ex.name


def test_reference_agrees_with_the_translator_and_the_assembler():
    p = {"csr": 0x100}
    for text in ("csrr a0, sstatus", "csrrc t1, sstatus, zero", "csrrsi a5, sstatus, 0",
                 "csrs sstatus, a0", "csrrci a5, sstatus, 3", "csrr a0, sie"):
        word = int.from_bytes(assemble(".option norvc\n" + text).image[:4], "little")
        assert reads_without_writing(p, word) == is_sensitive(word), text
    ex = lab07.exercises["sensitive"]
    q = ex.params("ivy")
    assert reads_without_writing(q, q["example"])


def test_sensitive_right_and_wrong():
    ex = lab07.exercises["sensitive"]
    p = ex.params("ivy")
    cases = ex.cases("ivy", p, hidden=True, secret="s")
    right = [{"ok": True, "value": reads_without_writing(p, c.inputs["args"][0])} for c in cases]
    # a common mistake: any csrrs of the CSR, whatever rs1 is
    sloppy = [{"ok": True, "value": c.inputs["args"][0] >> 20 == p["csr"]
               and (c.inputs["args"][0] >> 12) & 7 in (2, 3, 6, 7)} for c in cases]
    assert ex.check({"calls": {"results": right}}, p, cases).score == ex.points
    assert ex.check({"calls": {"results": sloppy}}, p, cases).score < ex.points


def test_popek_numbers_against_the_guests_real_runs():
    ex = lab07.exercises["popek_numbers"]
    p = ex.params("jo")
    truth = run_popek_three_ways(p)
    assert truth == {"answer_trap_and_emulate": 0, "csr_exits_with_quirk": p["bits"] + 1,
                     "bt_emulated": p["bits"]}
    assert _grade(ex, "jo", {"answers": {"value": truth}}).score == ex.points
    wrong = dict(truth, answer_trap_and_emulate=p["key"])       # what it *should* compute
    assert _grade(ex, "jo", {"answers": {"value": wrong}}).score < ex.points
