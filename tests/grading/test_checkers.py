"""Each ready checker against right, wrong and sneaky answers (run in this process)."""
from grading_support import factorial_program
from vmlab import sv39
from vmlab.grading.artifacts import program
from vmlab.grading.labs import lab02, lab03, run_exit_guest


def _grade(ex, student, arts, secret="s"):
    p = ex.params(student)
    return ex.check(arts, p, ex.cases(student, p, hidden=True, secret=secret))


def test_factorial_right_partly_right_and_other_students_instance(lab01):
    ex = lab01.exercises["factorial"]
    alice = ex.params("alice")
    right = program(factorial_program(alice["modulus"]))
    assert _grade(ex, "alice", {"program": right}).score == ex.points
    partly = _grade(ex, "alice", {"program": program(factorial_program(alice["modulus"], zero_ok=False))})
    assert 0 < partly.score < ex.points
    assert any("a0 = 0:" in line.text and not line.ok for line in partly.lines)
    # alice's correct program, graded as bob's submission: bob's modulus differs
    assert _grade(ex, "bob", {"program": right}).score < ex.points / 2


def test_factorial_lookup_table_does_not_fit(lab01):
    ex = lab01.exercises["factorial"]
    p = ex.params("carol")
    table = "\n".join(f"        .dword {n}" for n in range(400))
    src = f"_start: la t0, table\n slli a0, a0, 3\n add t0, t0, a0\n ld a0, 0(t0)\n ecall\ntable:\n{table}\n"
    outcome = _grade(ex, "carol", {"program": program(src)})
    assert outcome.lines[0].text.startswith("size:") and not outcome.lines[0].ok
    assert outcome.score == 0


def test_the_untouched_stub_scores_nothing(lab01):
    ex = lab01.exercises["factorial"]
    stub = "_start:\n        # your code here\n        ecall\n"
    assert _grade(ex, "erin", {"program": program(stub)}).score == 0


def test_missing_and_broken_artifacts_give_zero_with_a_reason(lab01):
    ex = lab01.exercises["factorial"]
    for art, words in (({"missing": "answer"}, "not defined"), ({"error": "AsmError: bad"}, "failed"),
                       (None, "nothing was collected")):
        outcome = _grade(ex, "dan", {} if art is None else {"program": art})
        assert outcome.score == 0 and words in outcome.lines[0].text


def _tables(p, flags, extra=()):
    """A dumped tree: root -> L1 -> L0 holding the student's leaf (and extra leaves)."""
    root, l1, l0 = 0x8010_0000, 0x8010_1000, 0x8010_2000
    va = p["va"]
    t = {root: {sv39.vpn(va, 2): sv39.make_pte(l1, sv39.PTE_V)},
         l1: {sv39.vpn(va, 1): sv39.make_pte(l0, sv39.PTE_V)},
         l0: {sv39.vpn(va, 0): sv39.make_pte(p["pa"], flags | sv39.PTE_V)}}
    for other_va in extra:
        t[l0][sv39.vpn(other_va, 0)] = sv39.make_pte(p["pa"], flags | sv39.PTE_V)
    return {"pages": {"satp": sv39.make_satp(root), "tables": {str(k): v for k, v in t.items()}}}


def _least(p):
    bits = {"read-only": sv39.PTE_R, "read-write": sv39.PTE_R | sv39.PTE_W, "execute-only": sv39.PTE_X}
    return bits[p["kind"]] | (sv39.PTE_U if p["mode"] == "U" else 0)


def test_mapping_least_privilege_is_tested():
    ex = lab02.exercises["secret_mapping"]
    for student in ("alice", "bob", "erin", "frank"):
        p = ex.params(student)
        assert _grade(ex, student, _tables(p, _least(p))).score == ex.points
        too_much = _grade(ex, student, _tables(p, _least(p) | sv39.PTE_R | sv39.PTE_W | sv39.PTE_X))
        assert too_much.score < ex.points
        alias = _grade(ex, student, _tables(p, _least(p), extra=[p["va"] ^ 0x1000]))
        assert not alias.passed and any("also reaches" in line.text for line in alias.lines)


def test_an_empty_tree_scores_nothing():
    ex = lab02.exercises["secret_mapping"]
    p = ex.params("alice")
    empty = {"pages": {"satp": sv39.make_satp(0x8010_0000), "tables": {str(0x8010_0000): {}}}}
    assert _grade(ex, "alice", empty).score == 0


def test_mapping_feedback_shows_the_walk():
    ex = lab02.exercises["secret_mapping"]
    p = ex.params("alice")
    outcome = _grade(ex, "alice", _tables(p, _least(p)))
    assert any("L2[" in line.text and "L0[" in line.text for line in outcome.lines)


def test_split_va_right_and_wrong():
    ex = lab02.exercises["split_address"]
    p = ex.params("gina")
    fields = lambda va: {"vpn2": va >> 30 & 511, "vpn1": va >> 21 & 511, "vpn0": va >> 12 & 511, "offset": va & 4095}
    cases = ex.cases("gina", p, hidden=True, secret="x")
    right = [{"ok": True, "value": [fields(c.inputs["args"][0])[k] for k in p["order"]]} for c in cases]
    wrong = [{"ok": True, "value": [fields(c.inputs["args"][0])[k] for k in sorted(p["order"])]} for c in cases]
    assert ex.check({"calls": {"results": right}}, p, cases).score == ex.points
    assert ex.check({"calls": {"results": wrong}}, p, cases).score < ex.points


def test_exit_counts_against_the_guests_real_trace():
    ex = lab03.exercises["exit_counts"]
    p = ex.params("hank")
    truth = run_exit_guest(p)
    assert truth["illegal_instruction"] >= 2 * p["csr_loops"] and truth["store_page_fault"] >= p["uart_writes"]
    assert _grade(ex, "hank", {"answers": {"value": truth}}).score == ex.points
    off = dict(truth, supervisor_ecall=truth["supervisor_ecall"] + 1)
    assert _grade(ex, "hank", {"answers": {"value": off}}).score == ex.points * 3 / 4
