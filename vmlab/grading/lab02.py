"""The graded exercises of lab 02 (Sv39 paging).

1. ``by_hand``: translate a few addresses on a seeded tree by hand (the address or the fault).
2. ``translate``: write ``translate(mem, satp, va, access, priv, sum, mxr)``, graded against
   the reference walker (:func:`vmlab.sv39.walk`) on hidden random trees with superpages,
   misaligned superpages, W-without-R entries and U/SUM/MXR cases.
3. ``predict_ad``: the A/D bits after a seeded access sequence, and how many faults the
   same sequence costs when software sets them (Svade).
4. ``secret_mapping``: a mapping with least privilege; 5. ``split_address``.
"""
from __future__ import annotations

from vmlab import sv39
from vmlab.grading.checkers import PageTables, PythonCalls, _gate_faults
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.sv39 import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

lab02 = Assignment("lab02", title="Lab 02 -- paging")


# ---- random trees ---------------------------------------------------------------------------------
class TreeMemory:
    """Physical memory holding only the tables of a tree: ``read64(pa)`` gives a PTE (zero for
    an empty slot) or None for an address outside every table page (an access fault)."""

    def __init__(self, words):
        self.words = {int(pa): int(v) for pa, v in words}
        self.pages = {pa & ~0xFFF for pa in self.words}

    def read64(self, pa: int):
        return self.words.get(pa, 0) if pa & ~0xFFF in self.pages else None


LEAF_FLAGS = (PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X, PTE_R | PTE_W | PTE_X, PTE_W)


def random_tree(rng, leaves: int = 6) -> dict:
    """A tree with 4 KiB leaves, superpages (some misaligned), W-only entries, U pages,
    a pointer outside memory; and the addresses that lead to each leaf."""
    root, table_pa = 0x8010_0000, [0x8010_1000]
    words, vas = {}, []

    def new_table():
        table_pa[0] += 0x1000
        return table_pa[0] - 0x1000

    for _ in range(leaves):
        level = rng.choice((0, 0, 0, 1, 1, 2))
        va = rng.randrange(0, 1 << 38) & ~0xFFF
        table = root
        for lvl in range(2, level, -1):
            slot = table + 8 * sv39.vpn(va, lvl)
            if slot not in words or not words[slot] & PTE_V or words[slot] & 0xE:
                words[slot] = sv39.make_pte(new_table(), PTE_V)
            table = sv39.pte_ppn(words[slot]) << 12
        flags = PTE_V | rng.choice(LEAF_FLAGS) | rng.choice((0, PTE_U)) | rng.choice((0, PTE_A, PTE_A | PTE_D))
        ppn = rng.randrange(0x80400, 0x88000) & ~((1 << (9 * level)) - 1)
        if level and rng.randrange(4) == 0:
            ppn |= 1                                      # misaligned superpage
        words[table + 8 * sv39.vpn(va, level)] = ppn << 10 | flags
        vas.append(va | rng.randrange(0, 1 << (12 + 9 * level)) & ~0x7)
    words[root + 8 * rng.randrange(512)] = sv39.make_pte(0x9000_0000, PTE_V)    # off memory
    return {"satp": sv39.make_satp(root), "words": sorted(words.items()), "vas": vas}


def reference(words, satp, va, access, priv, sum=False, mxr=False):
    """What a walk gives, in the exercise's words: the pa, "page fault" or "access fault"."""
    w = sv39.walk(TreeMemory(words).read64, satp, va, access, priv=priv, sum=sum, mxr=mxr)
    if w.ok:
        return w.pa
    return "access fault" if w.fault in (1, 5, 7) else "page fault"


# ---- 1. by hand ----------------------------------------------------------------------------------
class ByHand:
    """The student's dict ``by_hand``: each asked address (as written in the prompt) -> the
    physical address (an int) or "page fault" / "access fault"."""

    def __init__(self, name: str):
        self.name = name

    def cases(self, params, hidden_rng):
        return [Case({"q": q}, label=f"{q[1]} at {q[0]:#x}") for q in params["questions"]]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers") or {}
        answers = art.get("value") if isinstance(art.get("value"), dict) else {}
        lines = []
        for case in cases:
            va, access = case.inputs["q"]
            want = reference(params["words"], params["satp"], va, access, "S")
            got = answers.get(f"{va:#x}")
            lines.append(Line(got == want, f"{case.label}: {got!r}" +
                              ("" if got == want else " is not what the walk gives")))
        return lines


def _show_tree(words) -> str:
    return "\n".join(f"    {pa:#x}: {v:#018x}  {sv39.flag_string(v)}" for pa, v in words)


@lab02.exercise(points=4, checker=ByHand("by_hand"),
                prompt=lambda p: (
                    f"By hand (no walker, no widget): `satp = {p['satp']:#x}`, and these are "
                    "the only non-zero words in the tables (every other slot is 0; memory "
                    "outside these table pages does not exist):\n\n```\n" + _show_tree(p["words"])
                    + "\n```\n\nFill in `by_hand` with, for each S-mode access below, the "
                    "physical address (an int) or `\"page fault\"` / `\"access fault\"`: "
                    + ", ".join(f"`{va:#x}` ({a})" for va, a in p["questions"]) + "."))
def by_hand(rng):
    t = random_tree(rng, leaves=3)
    questions = [(va, rng.choice(("load", "store", "fetch"))) for va in t["vas"]]
    questions.append((t["vas"][0] ^ (1 << 30), "load"))
    return {"satp": t["satp"], "words": t["words"], "questions": questions}


# ---- 2. translate() ---------------------------------------------------------------------------
def run_translate(fn, words, satp, va, access, priv, sum, mxr):
    """Driver: the student's ``translate`` on a TreeMemory of ``words``."""
    got = fn(TreeMemory(words), satp, va, access, priv, sum=sum, mxr=mxr)
    return got if isinstance(got, (int, str)) and not isinstance(got, bool) else repr(got)


def _translate_cases(params, rng):
    cases = [Case({"args": [params["words"], params["satp"], va, "load", "S", False, False]},
                  label=f"your tree: load at {va:#x}") for va in params["vas"][:2]]
    for i in range(3):
        t = random_tree(rng)
        for j, va in enumerate(t["vas"]):
            access, priv = rng.choice(("load", "store", "fetch")), rng.choice("SU")
            args = [t["words"], t["satp"], va, access, priv, rng.randrange(2) == 1, rng.randrange(2) == 1]
            cases.append(Case({"args": args}, True, f"hidden tree {i + 1}, walk {j + 1}"))
    return cases


def _translate_reference(params, words, satp, va, access, priv, sum, mxr):
    return reference(words, satp, va, access, priv, sum, mxr)


class FaultsCountOnceItTranslates(PythonCalls):
    """A function that always answers "page fault" must not earn the faulting cases: they
    count only once some walk that translates is right (as PageTables gates its probes)."""

    def check(self, artifacts, params, cases):
        lines = super().check(artifacts, params, cases)
        if len(lines) != len(cases):
            return lines
        positive = [isinstance(self.expected(params, c.inputs["args"]), int) for c in cases]
        return _gate_faults(lines, positive)


@lab02.exercise(points=8, checker=FaultsCountOnceItTranslates(
                    "translate", _translate_cases, _translate_reference,
                    driver="vmlab.grading.lab02:run_translate"),
                prompt="Write **`translate(mem, satp, va, access, priv, sum=False, mxr=False)`** "
                       "as the Sv39 hardware does it: `mem.read64(pa)` gives a PTE or None "
                       "(no memory there: an access fault); return the physical address, or "
                       "`\"page fault\"` / `\"access fault\"`. `access` is load, store or fetch, "
                       "`priv` \"S\" or \"U\". Mind superpages (and misaligned ones), W "
                       "without R, U pages, SUM and MXR; don't set A/D. Hidden random trees "
                       "test it against the reference walker; try yours on `P2['vas']`.")
def translate(rng):
    return random_tree(rng)


# ---- 3. A and D ------------------------------------------------------------------------------------
def ad_scenario(rng) -> dict:
    """Four 4 KiB pages, all clean (A = D = 0), and an access sequence over them."""
    pages = [0x4000_0000 + rng.randrange(0, 512) * 0x1000 * (i + 1) for i in range(4)]
    kinds = [PTE_R, PTE_R | PTE_W, PTE_R | PTE_X, PTE_R | PTE_W]
    rng.shuffle(kinds)
    seq = [(rng.choice(pages), rng.choice(("load", "load", "store", "fetch"))) for _ in range(7)]
    return {"pages": pages, "kinds": kinds, "sequence": seq}


def ad_truth(params) -> dict:
    """Hardware updating: the walk sets A on use, D on a store; a faulting access sets
    nothing.  Svade: the same accesses, but each first use (A) and first store (D) faults."""
    flags = {va: k | PTE_V for va, k in zip(params["pages"], params["kinds"])}
    svade = 0
    for va, access in params["sequence"]:
        f = flags[va]
        if not sv39.permits(f, access, priv="S"):
            continue
        new = f | PTE_A | (PTE_D if access == "store" else 0)
        svade += new != f
        flags[va] = new
    out = {f"{va:#x}": ("A" if f & PTE_A else "-") + ("D" if f & PTE_D else "-")
           for va, f in flags.items()}
    out["svade_faults"] = svade
    return out


class PredictAD:
    """The student's dict ``ad_bits``: page -> "AD"/"A-"/"--", and "svade_faults"."""

    name = "ad_bits"

    def cases(self, params, hidden_rng):
        return [Case({"key": k}, label=k) for k in ad_truth(params)]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("answers") or {}
        answers = art.get("value") if isinstance(art.get("value"), dict) else {}
        truth = ad_truth(params)
        return [Line(answers.get(c.label) == truth[c.label], f"{c.label}: {answers.get(c.label)!r}"
                     + ("" if answers.get(c.label) == truth[c.label] else " is not right"))
                for c in cases]


@lab02.exercise(points=4, checker=PredictAD(),
                prompt=lambda p: (
                    "Four S-mode pages, all with A = D = 0: " + ", ".join(
                        f"`{va:#x}` {sv39.flag_string(k | PTE_V)[1:4]}" for va, k in
                        zip(p["pages"], p["kinds"])) + ". The kernel makes these accesses in "
                    "order: " + ", ".join(f"{a} `{va:#x}`" for va, a in p["sequence"]) +
                    ". **Predict** (before running anything) each page's A and D afterwards, "
                    "with hardware updating (`\"AD\"`, `\"A-\"` or `\"--\"`), and how many "
                    "page faults the same sequence takes on a hart that leaves A/D to software "
                    "(Svade) -- beyond any fault the permissions cause anyway. Fill in `ad_bits`."))
def predict_ad(rng):
    return ad_scenario(rng)


# ---- 4. a mapping with least privilege (only the needed bits: PTE_R alone for reads) ----------------------------------------------------
#: what each kind of page lets its owner do
PERMS = {"read-only": ("load",), "read-write": ("load", "store"), "execute-only": ("fetch",)}


@lab02.exercise(points=8, checker=PageTables(
    "vm", "satp",
    probes=lambda p: [(f"{priv} {access}", p["va"] + p["offset"], access, priv,
                       p["pa"] + p["offset"] if priv == p["mode"] and access in PERMS[p["kind"]] else None)
                      for priv in ("S", "U") for access in ("load", "store", "fetch")],
    only_maps=lambda p: (p["pa"], p["va"])),
    prompt="Map the virtual page at **`{va:#x}`** to the physical page at **`{pa:#x}`** as a "
           "**{kind}** page for **{mode}-mode** code, with least privilege: every access that "
           "is not needed must fault, and no other address may reach that page. (A page for "
           "U-mode code carries `sv39.PTE_U`; S-mode may not fetch from such a page at all.)")
def secret_mapping(rng):
    return {"va": 0x4040_0000 + rng.randrange(0, 512) * sv39.PAGE_SIZE,
            "pa": 0x8030_0000 + rng.randrange(0, 256) * sv39.PAGE_SIZE,
            "offset": rng.randrange(0, sv39.PAGE_SIZE // 8) * 8,
            "kind": rng.choice(sorted(PERMS)), "mode": rng.choice(("S", "U"))}


def _split_reference(params, va):
    order = params["order"]
    fields = {"vpn2": sv39.vpn(va, 2), "vpn1": sv39.vpn(va, 1), "vpn0": sv39.vpn(va, 0),
              "offset": va & 0xFFF}
    return [fields[name] for name in order]


def _split_scenarios(params, rng):
    visible = [0x4020_0008, params["va"]]
    hidden = [rng.randrange(0, 1 << 38) for _ in range(4)]
    return ([Case({"args": [va]}) for va in visible]
            + [Case({"args": [va]}, True, f"hidden case {i + 1}") for i, va in enumerate(hidden)])


@lab02.exercise(points=4, checker=PythonCalls("split_va", _split_scenarios, _split_reference),
                prompt="Write `split_va(va)` returning the list **{order}** of an Sv39 address "
                       "(try it on `{va:#x}`). It is tested on hidden addresses too.")
def split_address(rng):
    order = ["vpn2", "vpn1", "vpn0", "offset"]
    rng.shuffle(order)
    return {"order": order, "va": rng.randrange(0, 1 << 38)}


#: the exercises in the order the notebook asks them (the gradebook's columns follow it)
NOTEBOOK_ORDER = ("secret_mapping", "by_hand", "translate", "predict_ad", "split_address")
lab02.exercises = {name: lab02.exercises[name] for name in NOTEBOOK_ORDER}
