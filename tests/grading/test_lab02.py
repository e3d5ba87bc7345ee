"""Lab 02's new exercises against the instructor's solutions, right and subtly wrong."""
from vmlab import sv39
from vmlab.grading.artifacts import collect_one
from vmlab.grading.lab02 import ad_truth, lab02, reference
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X


def grade(name, student, namespace):
    ex = lab02.exercises[name]
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True, secret="s")
    arts = {k: collect_one(spec, namespace) for k, spec in ex.requests(p, cases).items()}
    return ex.check(arts, p, cases)


def make_translate(superpages=True, check_w_only=True, mxr_ok=True):
    """The instructor's translate(); each flag off is one subtle mistake."""
    def translate(mem, satp, va, access, priv, sum=False, mxr=False):
        table = (satp & ((1 << 44) - 1)) << 12
        for level in (2, 1, 0):
            pte = mem.read64(table + 8 * ((va >> (12 + 9 * level)) & 0x1FF))
            if pte is None:
                return "access fault"
            if not pte & PTE_V or (check_w_only and pte & PTE_W and not pte & PTE_R):
                return "page fault"
            if pte & (PTE_R | PTE_W | PTE_X):
                break
            table = (pte >> 10 & ((1 << 44) - 1)) << 12
        else:
            return "page fault"
        if priv == "U" and not pte & PTE_U or priv == "S" and pte & PTE_U and (access == "fetch" or not sum):
            return "page fault"
        readable = pte & PTE_R or (mxr and mxr_ok and pte & PTE_X)
        need = {"load": readable, "store": pte & PTE_W, "fetch": pte & PTE_X}[access]
        bits = 12 + 9 * level
        ppn = pte >> 10 & ((1 << 44) - 1)
        if not need or (superpages and ppn & ((1 << (9 * level)) - 1)):
            return "page fault"
        if not superpages:
            bits = 12
        return (ppn << 12 & ~((1 << bits) - 1)) | (va & ((1 << bits) - 1))
    return translate


def test_translate_right_gets_full_marks_and_subtle_mistakes_lose():
    ex = lab02.exercises["translate"]
    for student in ("ana", "ben"):
        assert grade("translate", student, {"translate": make_translate()}).score == ex.points
    lost = [grade("translate", s, {"translate": make_translate(**{flag: False})}).score
            for flag in ("superpages", "check_w_only", "mxr_ok") for s in ("ana", "ben", "cy", "dee")]
    assert sum(score < ex.points for score in lost) >= 6
    assert grade("translate", "ana", {"translate": make_translate(superpages=False)}).score < ex.points


def test_by_hand_and_its_feedback():
    ex = lab02.exercises["by_hand"]
    p = ex.params("ana")
    right = {f"{va:#x}": reference(p["words"], p["satp"], va, a, "S") for va, a in p["questions"]}
    assert grade("by_hand", "ana", {"by_hand": right}).score == ex.points
    wrong = dict(right)
    key = next(iter(wrong))
    wrong[key] = "page fault" if isinstance(wrong[key], int) else 0x8000_0000
    out = grade("by_hand", "ana", {"by_hand": wrong})
    assert 0 < out.score < ex.points
    assert "is not what the walk gives" in " ".join(out.feedback())
    assert ex.params("ben") != p


def test_predict_ad_hardware_and_svade():
    ex = lab02.exercises["predict_ad"]
    p = ex.params("ana")
    truth = ad_truth(p)
    assert grade("predict_ad", "ana", {"ad_bits": truth}).score == ex.points
    off = dict(truth, svade_faults=truth["svade_faults"] + 1)
    assert grade("predict_ad", "ana", {"ad_bits": off}).score < ex.points
    # "every access sets A, even a faulting one": wrong wherever some access faults
    assert ex.params("ben") != p


def test_ad_truth_by_hand():
    """A worked case: a store to a read-only page faults and sets nothing."""
    p = {"pages": [0x1000, 0x2000], "kinds": [PTE_R, PTE_R | PTE_W],
         "sequence": [(0x1000, "store"), (0x2000, "load"), (0x2000, "store"), (0x2000, "store")]}
    assert ad_truth(p) == {"0x1000": "--", "0x2000": "AD", "svade_faults": 2}


def test_least_privilege_needs_r_alone_for_reads():
    """PTE_R | PTE_X on a read-only page is no longer accepted (the fetch must fault)."""
    from test_checkers import _tables
    ex = lab02.exercises["secret_mapping"]
    student = next(s for s in (f"s{i}" for i in range(200))
                   if ex.params(s)["kind"] == "read-only" and ex.params(s)["mode"] == "S")
    p = ex.params(student)
    cases = ex.cases(student, p, hidden=True)
    assert ex.check(_tables(p, PTE_R), p, cases).score == ex.points
    assert ex.check(_tables(p, PTE_R | PTE_X), p, cases).score < ex.points
    assert sv39.flag_string(PTE_A | PTE_D)  # (the helper the feedback uses)


def test_always_page_fault_earns_nothing():
    """Half the hidden walks fault: a constant answer must not collect them."""
    out = grade("translate", "ana", {"translate": lambda *a, **k: "page fault"})
    assert out.score == 0
    assert grade("translate", "ana", {"translate": lambda *a, **k: None}).score == 0


def test_two_students_get_different_instances():
    for name, ex in lab02.exercises.items():
        assert ex.params("ana") != ex.params("ben"), name
