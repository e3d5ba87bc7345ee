"""The graded exercises of labs 01-02, one :class:`Assignment` per lab.

Each lab notebook shows the student's own instance (``lab01.exercises["factorial"].prompt(id)``)
and checks their work on the spot (:func:`vmlab.grading.selfcheck.check`, visible cases only);
``vmlab grade`` runs the same checkers, hidden cases included, on collected artifacts.
"""
from __future__ import annotations

import math

from vmlab import sv39
from vmlab.grading.checkers import AsmProgram, PageTables, PythonCalls
from vmlab.grading.exercise import Assignment, Case
from vmlab.grading.lab03 import lab03, run_exit_guest  # noqa: F401  (lab03's own module)
from vmlab.grading.lab04 import lab04
from vmlab.grading.lab05 import lab05
from vmlab.grading.lab07 import lab07
from vmlab.grading.lab08 import lab08

lab01 = Assignment("lab01", title="Lab 01 -- the machine")
lab02 = Assignment("lab02", title="Lab 02 -- paging")
#: every lab's assignment by name; labs 04 on keep their exercises in modules of their own
ASSIGNMENTS = {a.name: a for a in (lab01, lab02, lab03, lab04, lab05, lab07, lab08)}


# ---- lab 01: n! mod a prime -------------------------------------------------------------------
def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _factorial_cases(params, rng):
    """0! (the edge case), the student's own n, then hidden n up to 3000.  (Not 1!: a
    program that does nothing would pass it, a0 = 1 being its own answer.)"""
    visible = [0, params["n"]]
    hidden = [rng.randrange(2, 3000) for _ in range(3)]
    return ([Case({"regs": {"a0": n}}, label=f"a0 = {n}") for n in visible]
            + [Case({"regs": {"a0": n}}, True, f"hidden case {i + 1}") for i, n in enumerate(hidden)])


def _factorial_expect(params, inputs):
    n, m = inputs["regs"]["a0"], params["modulus"]
    result = 1
    for k in range(2, n + 1):
        result = result * k % m
    return {"a0": result % m}


@lab01.exercise(points=6, checker=AsmProgram("answer", _factorial_cases, _factorial_expect,
                                             budget=200_000, max_size=256),
                prompt="Write a program that computes **`a0 = a0! mod {modulus}`** (so 0! = 1) "
                       "and then executes `ecall`. It is tested with `a0` = 0, {n} and with "
                       "hidden values up to 3000, and must fit in 256 bytes. Multiply step by step "
                       "and reduce with `remu` after each step, so nothing overflows.")
def factorial(rng):
    modulus = rng.randrange(1_000_003, 1 << 31, 2)
    while not is_prime(modulus):
        modulus += 2
    return {"modulus": modulus, "n": rng.randrange(5, 21)}


# ---- lab 02: a mapping with least privilege ----------------------------------------------------
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
