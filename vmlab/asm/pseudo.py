"""Pseudo-instructions: what GNU as writes for ``li``, ``la``, ``call``, ``mv`` ...

A pseudo-instruction is shorthand for one or more real instructions.  :func:`expand`
turns one into the real instructions as ``(mnemonic, operands)`` pairs, which then go
through the normal path (so ``mv a0, a1`` still gets compressed to ``c.mv``).  The choice of
expansion matters: a student compares our output with GNU objdump's, so each expansion here
is the one GNU as emits.

Steps may also be ``("label", name)``: define a hidden label here.  ``la`` needs one so its
``addi`` can say ``%pcrel_lo(label)``, i.e. "the low part of the offset computed by the
``auipc`` at that label".
"""
from __future__ import annotations

from vmlab.asm.errors import StmtError

# name -> {operand count: template}; $1.. are the written operands.
_ALIASES: dict[str, dict[int, str]] = {
    "nop": {0: "addi zero,zero,0"},
    "mv": {2: "addi $1,$2,0"},
    "not": {2: "xori $1,$2,-1"},
    "neg": {2: "sub $1,zero,$2"},
    "negw": {2: "subw $1,zero,$2"},
    "sext.w": {2: "addiw $1,$2,0"},
    "zext.b": {2: "andi $1,$2,255"},
    "seqz": {2: "sltiu $1,$2,1"},
    "snez": {2: "sltu $1,zero,$2"},
    "sltz": {2: "slt $1,$2,zero"},
    "sgtz": {2: "slt $1,zero,$2"},
    "beqz": {2: "beq $1,zero,$2"},
    "bnez": {2: "bne $1,zero,$2"},
    "blez": {2: "bge zero,$1,$2"},
    "bgez": {2: "bge $1,zero,$2"},
    "bltz": {2: "blt $1,zero,$2"},
    "bgtz": {2: "blt zero,$1,$2"},
    "bgt": {3: "blt $2,$1,$3"},
    "ble": {3: "bge $2,$1,$3"},
    "bgtu": {3: "bltu $2,$1,$3"},
    "bleu": {3: "bgeu $2,$1,$3"},
    "j": {1: "jal zero,$1"},
    "jr": {1: "jalr zero,0($1)"},
    "ret": {0: "jalr zero,0(ra)"},
    "csrr": {2: "csrrs $1,$2,zero"},
    "csrw": {2: "csrrw zero,$1,$2"},
    "csrs": {2: "csrrs zero,$1,$2"},
    "csrc": {2: "csrrc zero,$1,$2"},
    "csrwi": {2: "csrrwi zero,$1,$2"},
    "csrsi": {2: "csrrsi zero,$1,$2"},
    "csrci": {2: "csrrci zero,$1,$2"},
    "rdcycle": {1: "csrrs $1,cycle,zero"},
    "rdtime": {1: "csrrs $1,time,zero"},
    "rdinstret": {1: "csrrs $1,instret,zero"},
    "frcsr": {1: "csrrs $1,fcsr,zero"},
    "sfence.vma": {0: "sfence.vma zero,zero", 1: "sfence.vma $1,zero"},
    "fence": {0: "fence iorw,iorw"},
}

#: loads and stores that may name a symbol instead of ``offset(base)``
LOADS = frozenset({"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"})
STORES = frozenset({"sb", "sh", "sw", "sd"})
MULTI = frozenset({"li", "la", "lla", "call", "tail", "jump"})

NAMES = frozenset(_ALIASES) | MULTI | {"jal", "jalr", "unimp"}


def _fill(template: str, ops: list[str]) -> tuple[str, list[str]]:
    mnemonic, _, rest = template.partition(" ")
    out = []
    for tok in rest.split(",") if rest else []:
        for i in range(len(ops), 0, -1):
            tok = tok.replace(f"${i}", ops[i - 1])
        out.append(tok)
    return mnemonic, out


def alias(mnemonic: str, ops: list[str]) -> tuple[str, list[str], bool] | None:
    """The real instruction for a one-instruction alias, or None if ``mnemonic`` is real.

    The third element says whether the result may be compressed (True, False, or the one
    compressed mnemonic allowed): GNU as never compresses
    ``jalr rd, rs`` and ``jalr rd, rs, imm`` (it reads them through a table entry that has
    no compressed twin), while ``jalr rs`` and ``jalr rd, 0(rs)`` do become ``c.jalr``.
    """
    forms = _ALIASES.get(mnemonic)
    if forms is not None and len(ops) in forms:
        # "mv rd, zero" stays "addi rd, zero, 0": GNU as only ever makes c.mv out of mv
        return (*_fill(forms[len(ops)], ops), "c.mv" if mnemonic == "mv" else True)
    if mnemonic == "jal" and len(ops) == 1:
        return "jal", ["ra", ops[0]], False
    if mnemonic == "jalr":
        if len(ops) == 1 and "(" not in ops[0]:
            return "jalr", ["ra", f"0({ops[0]})"], True
        if len(ops) == 1:
            return "jalr", ["ra", ops[0]], True
        if len(ops) == 2 and "(" not in ops[1]:
            return "jalr", [ops[0], f"0({ops[1]})"], False
        if len(ops) == 3:
            return "jalr", [ops[0], f"{ops[2]}({ops[1]})"], False
    return None


def li_steps(rd: str, value: int, top: bool = True) -> list[tuple[str, list[str]]]:
    """The instructions GNU as uses to load a 64-bit constant.

    A 12-bit value is one ``addi``.  A 32-bit value is ``lui`` (upper 20 bits, rounded so
    that adding the sign-extended low 12 bits lands on the value) plus ``addiw``.  Wider
    values recurse: load the value without its low 12 bits, shifted right past its trailing
    zeros, then ``slli`` it back into place and ``addi`` the low part.
    """
    value = ((value + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)
    if top and -2048 <= value < 2048:
        return [("addi", [rd, "zero", str(value)])]
    lo = ((value & 0xFFF) ^ 0x800) - 0x800
    hi = ((value - lo + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)   # 64-bit wrap, as in GNU as
    if -(1 << 31) <= value < (1 << 31):
        steps, src = [], "zero"
        if hi:
            steps.append(("lui", [rd, str((hi >> 12) & 0xFFFFF)]))
            src = rd
        if lo or not hi:
            steps.append(("addiw", [rd, src, str(lo)]))
        return steps
    shift = 12
    while not (hi >> shift) & 1:
        shift += 1
    steps = li_steps(rd, hi >> shift, top=False)
    steps.append(("slli", [rd, rd, str(shift)]))
    if lo:
        steps.append(("addi", [rd, rd, str(lo)]))
    return steps


def pcrel_steps(hidden: str, first: tuple, second_mn: str, second_ops: list[str]):
    """``auipc`` + one instruction using ``%pcrel_lo`` of the ``auipc``'s hidden label."""
    return [("label", hidden), first, (second_mn, second_ops)]


def expand_multi(mnemonic: str, ops: list[str], hidden: str, const) -> list:
    """Steps for the multi-instruction pseudos (``li la lla call tail jump``).

    ``const(text)`` evaluates an operand that must be known now (``li``'s value).
    """
    def need(n):
        if len(ops) != n:
            raise StmtError(f"'{mnemonic}' takes {n} operands", ", ".join(ops))

    if mnemonic == "li":
        need(2)
        return li_steps(ops[0], const(ops[1]))
    if mnemonic in ("la", "lla"):
        need(2)
        rd = ops[0]
        return pcrel_steps(hidden, ("auipc", [rd, f"%pcrel_hi({ops[1]})"]),
                           "addi", [rd, rd, f"%pcrel_lo({hidden})"])
    if mnemonic in ("call", "tail"):
        # "call f" links and computes in ra; "call rd, f" and "tail f" compute in t1
        if mnemonic == "call" and len(ops) == 2:
            (link, target), tmp = ops, "t1"
        else:
            need(1)
            link, target = ("ra" if mnemonic == "call" else "zero"), ops[0]
            tmp = "ra" if mnemonic == "call" else "t1"
        return pcrel_steps(hidden, ("auipc", [tmp, f"%pcrel_hi({target})"]),
                           "jalr", [link, f"%pcrel_lo({hidden})({tmp})"])
    if mnemonic == "jump":
        need(2)
        target, tmp = ops
        return pcrel_steps(hidden, ("auipc", [tmp, f"%pcrel_hi({target})"]),
                           "jalr", ["zero", f"%pcrel_lo({hidden})({tmp})"])
    raise StmtError(f"unknown pseudo-instruction '{mnemonic}'", mnemonic)


def symbol_access(mnemonic: str, ops: list[str], hidden: str):
    """``lw rd, sym`` / ``sw rs, sym, tmp``: auipc into a register, then the access."""
    if mnemonic in LOADS and len(ops) == 2:
        rd = ops[0]
        return pcrel_steps(hidden, ("auipc", [rd, f"%pcrel_hi({ops[1]})"]),
                           mnemonic, [rd, f"%pcrel_lo({hidden})({rd})"])
    if mnemonic in STORES and len(ops) == 3:
        rs, sym, tmp = ops
        return pcrel_steps(hidden, ("auipc", [tmp, f"%pcrel_hi({sym})"]),
                           mnemonic, [rs, f"%pcrel_lo({hidden})({tmp})"])
    return None


def usage_key(mnemonic: str, ops: list[str]) -> str:
    """What a written instruction is, for coverage: ``"lw <symbol>"``, ``"jalr <short>"``,
    ``"fence <no operands>"``, or just the mnemonic."""
    last = ops[-1].strip() if ops else ""
    if (mnemonic in LOADS and len(ops) == 2 or mnemonic in STORES and len(ops) == 3) \
            and not last.endswith(")"):
        return f"{mnemonic} <symbol>"
    if mnemonic == "jalr" and (len(ops) != 2 or "(" not in last):
        return "jalr <short>"
    if mnemonic == "jal" and len(ops) == 1:
        return "jal <short>"
    if mnemonic in ("fence", "sfence.vma") and len(ops) < 2:
        return f"{mnemonic} <{len(ops)} operands>"
    return mnemonic
