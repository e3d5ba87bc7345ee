"""Random whole programs against GNU as + ld: labels at random distances (so branches take
every size), alignment, data mixed into code, compression switched on and off, and the
pseudo-instructions -- everything interacting, as in real sources."""
from __future__ import annotations

import random

import pytest

from asm_gen import MARCH, ROWS, random_values, row_text
from asm_oracle import compare

REGS = ["zero", "ra", "sp", "s0", "s1", "a0", "a1", "a5", "a6", "t0", "t6"]
#: explicit c.beqz/c.bnez/c.j cannot reach far labels (an error in both assemblers)
_ROWS = [r for r in ROWS if r.mnemonic not in ("c.beqz", "c.bnez", "c.j")]
_ROWS32 = [r for r in _ROWS if r.size == 4]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu", "bgt", "ble", "bgtu", "bleu"]


def _statement(rnd: random.Random, labels: list[str], rvc: bool) -> str:
    r = rnd.random()
    reg = lambda: rnd.choice(REGS)  # noqa: E731
    target = rnd.choice(labels)
    if r < 0.25:
        row = rnd.choice(_ROWS if rvc else _ROWS32)   # c.* is an error under .option norvc
        text = row_text(row, random_values(row, rnd))
        if ",." in text or " ." in text:       # a pc-relative row: aim it at a label instead
            text = text.rsplit(",", 1)[0] + f",{target}" if "," in text else f"{row.mnemonic} {target}"
        return text
    if r < 0.35:
        return f"li {reg()}, {rnd.choice([rnd.getrandbits(64) - (1 << 63), rnd.randint(-5000, 5000), rnd.getrandbits(33)])}"
    if r < 0.45:
        return f"{rnd.choice(['beqz', 'bnez', 'bltz', 'bgez', 'blez', 'bgtz'])} {reg()}, {target}"
    if r < 0.52:
        return f"{rnd.choice(BRANCHES)} {reg()}, {reg()}, {target}"
    if r < 0.58:
        return rnd.choice([f"j {target}", f"jal {target}", f"call {target}", f"tail {target}",
                           f"la {reg()}, {target}", f"lla {reg()}, {target}+{2 * rnd.randrange(8)}"])
    if r < 0.62:
        return f".skip {rnd.choice([2, 6, 200, 250, 1000, 2040, 2100, 4090, 5000])}"
    if r < 0.67:
        return rnd.choice([".align 2", ".align 3", ".p2align 4", ".balign 8", ".balign 2", ".balign 4, 0"])
    if r < 0.71:
        return rnd.choice([".half 2", ".word 3", ".dword 4", ".byte 1, 2"])
    if r < 0.75:
        return rnd.choice([".option norvc", ".option rvc", ".option push", ".option pop"])
    if r < 0.85:
        return rnd.choice(["nop", "ret", f"mv {reg()}, {reg()}", f"addi {reg()}, {reg()}, {rnd.randint(-40, 40)}",
                           f"lw {reg()}, {4 * rnd.randrange(40)}({reg()})", f"sd {reg()}, {8 * rnd.randrange(70)}(sp)",
                           f"jr {reg()}", f"jalr {reg()}", f"sext.w {reg()}, {reg()}"])
    return f"{rnd.choice(['lw', 'ld', 'lbu'])} {reg()}, {target}"


def program(seed: int, length: int = 150) -> str:
    rnd = random.Random(seed)
    labels = [f"L{i}" for i in range(12)]
    body, stack, rvc = ["_start:"], [], True
    places = sorted(rnd.sample(range(length), len(labels)))
    for i in range(length):
        if places and places[0] == i:
            body.append(f"{labels[len(labels) - len(places)]}:")
            places.pop(0)
        st = _statement(rnd, labels, rvc)
        if st == ".option push":
            stack.append(rvc)
        elif st == ".option pop":
            if not stack:
                continue
            rvc = stack.pop()
        elif st.startswith(".option"):
            rvc = st == ".option rvc"
        body.append("    " + st)
    return "\n".join(body) + "\n"


@pytest.mark.parametrize("seed", range(12))
def test_random_program_matches_gnu(seed, gnu_as, gnu_ld):
    assert compare(program(seed), gnu_as, gnu_ld, MARCH) == []
