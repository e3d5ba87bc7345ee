"""Pseudo-instructions: what GNU as writes for ``li``, ``la``, ``call``, ``mv`` ...

A pseudo-instruction is shorthand for one or more real instructions.  One-instruction
aliases (``mv``, ``beqz``, ``csrr`` ...) come from the shared table :mod:`vmlab.isa.aliases`,
which the disassembler reads too; the multi-instruction ones are expanded here, into the
real instructions as ``(mnemonic, operands)`` pairs, which then go
through the normal path (so ``mv a0, a1`` still gets compressed to ``c.mv``).  The choice of
expansion matters: a student compares our output with GNU objdump's, so each expansion here
is the one GNU as emits.

Steps may also be ``("label", name)``: define a hidden label here.  ``la`` needs one so its
``addi`` can say ``%pcrel_lo(label)``, i.e. "the low part of the offset computed by the
``auipc`` at that label".
"""
from __future__ import annotations

from vmlab.asm.encoder import row_plan, split_memory
from vmlab.asm.errors import StmtError
from vmlab.isa import BY_MNEMONIC, FIELDS
from vmlab.isa.aliases import ALIASES_BY_NAME
from vmlab.isa.registers import XREG_ABI, XREGS, xreg

#: loads and stores that may name a symbol instead of ``offset(base)``
LOADS = frozenset({"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"})
STORES = frozenset({"sb", "sh", "sw", "sd"})
#: floating-point loads and stores: with a symbol they all take a temporary integer register
#: for the address (``flw fa0, sym, t0``), since the loaded register cannot hold it
FP_ACCESS = frozenset({"flw", "fld", "fsw", "fsd"})
MULTI = frozenset({"li", "la", "lla", "call", "tail", "jump", "sext.b", "sext.h", "zext.h", "zext.w"})
#: sign/zero extension without the Zbb extension: shift the value to the top, then back
_EXTEND = {"sext.b": ("srai", 56), "sext.h": ("srai", 48), "zext.h": ("srli", 48), "zext.w": ("srli", 32)}
#: old names GNU as still reads
_OLD_NAMES = {"scall": "ecall", "sbreak": "ebreak"}

NAMES = frozenset(ALIASES_BY_NAME) | MULTI | frozenset(_OLD_NAMES)


def _field_text(name: str, value: int) -> str:
    """A fixed field value (from an alias's ``when``) written as assembly operand text."""
    kind = FIELDS[name].kind
    if kind == "reg":
        return XREG_ABI[value]
    if kind == "fence":
        return "".join(c for i, c in enumerate("iorw") if value >> (3 - i) & 1) or "0"
    return hex(value) if kind == "csr" else str(value)


def _fits(alias, ops: list[str]) -> bool:
    """Whether written ``ops`` have the alias's shape: count, memory operands, registers."""
    if len(alias.syntax) != len(ops):
        return False
    for tok, op in zip(alias.syntax, ops):
        is_mem = op.rstrip().endswith(")")
        if "(" in tok:
            if not is_mem:
                return False
        elif tok in FIELDS and FIELDS[tok].kind == "reg":
            if XREGS.get(op.strip().lower()) is None:
                return False
        elif tok not in FIELDS and XREGS.get(op.strip().lower()) != xreg(tok):
            return False
    return True


def _looks_real(mnemonic: str, ops: list[str]) -> bool:
    """Whether ``ops`` fit the real row ``mnemonic`` (so ``add a0,a1,a2`` is not an alias)."""
    plan = row_plan(mnemonic)
    if plan is None or len(plan) != len(ops):
        return False
    for (kind, name, _), op in zip(plan, ops):
        if kind == "mem" and not op.rstrip().endswith(")"):
            return False
        if kind == "f" and FIELDS[name].kind == "reg" and XREGS.get(op.strip().lower()) is None:
            return False
    return True


def _compression(alias) -> bool | str:
    """What GNU as may compress an alias into (see :func:`alias`)."""
    if alias.name == "mv":
        return "c.mv"          # "mv rd, zero" stays addi: GNU as only makes c.mv out of mv
    if alias.base == "jalr" and (len(alias.syntax) == 2 or any("(" in t for t in alias.syntax)):
        return False           # "jalr rd, rs", "jr rs, imm" and "jr/jalr imm(rs)" stay 32-bit
    if alias.base == "jal" and alias.name == "jal":
        return False
    return True


def alias(mnemonic: str, ops: list[str]) -> tuple[str, list[str], bool | str] | None:
    """The table row and operands an alias stands for (from :mod:`vmlab.isa.aliases`), or
    None when ``mnemonic`` with these operands is a real instruction.

    The third element says whether the result may be compressed (True, False, or the one
    compressed mnemonic allowed).  GNU as decides this per spelling, not per row: ``jr a0``
    becomes ``c.jr`` but ``jalr zero, 0(a0)`` and ``jr 0(a0)`` stay 32-bit.
    """
    if mnemonic in _OLD_NAMES and not ops:
        return _OLD_NAMES[mnemonic], [], True
    if mnemonic == "jalr" and len(ops) == 3:
        # GNU as also reads "jalr rd, rs1, imm"; the shared table lists only what objdump prints
        return "jalr", [ops[0], f"{ops[2]}({ops[1]})"], False
    cands = _READABLE.get(mnemonic)
    if cands is None or _looks_real(mnemonic, ops):
        return None
    for a in cands:
        if _fits(a, ops):
            return a.base, _base_operands(a, ops), _compression(a)
    return None


#: name -> the aliases the assembler reads under it, in the order it tries them: those objdump
#: prints first, then the ones it never prints (asm=False: "add rd, rs, imm"), which are
#: still GNU as input; aliases of compressed rows are for printing only
_READABLE = {name: tuple(a for a in sorted(cands, key=lambda a: not a.asm)
                         if not a.base.startswith("c."))
             for name, cands in ALIASES_BY_NAME.items()}


def forms(mnemonic: str) -> str:
    """How a pseudo-instruction may be written: ``"jr rs1 | jr imm_i(rs1) | ..."``."""
    shapes = [f"{mnemonic} {','.join(a.syntax)}".strip()
              for a in ALIASES_BY_NAME.get(mnemonic, ()) if a.asm and not a.base.startswith("c.")]
    return " | ".join(dict.fromkeys(shapes)) or f"'{mnemonic}' with other operands"


def _base_operands(a, ops: list[str]) -> list[str]:
    """The base row's operand texts: the written ones, then the alias's fixed fields."""
    texts = {}
    for tok, op in zip(a.syntax, ops):
        if "(" in tok:
            outer, inner = tok.rstrip(")").split("(")
            offset, base = split_memory(op)
            if outer:
                texts[outer] = offset or "0"
            texts[inner] = base
        elif tok in FIELDS:
            texts[tok] = op
    for name, value in a.fixed().items():
        texts[name] = _field_text(name, value)
    for name, other in a.copies().items():
        texts[name] = texts[other]
    out = []
    for tok in BY_MNEMONIC[a.base].syntax:
        if "(" in tok:
            outer, inner = tok.rstrip(")").split("(")
            out.append(f"{texts.get(outer, '0') if outer else ''}({texts.get(inner, inner)})")
        else:
            out.append(texts.get(tok, tok))
    return out


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
        value = const(ops[1])
        if not -(1 << 63) <= value < (1 << 64):
            raise StmtError("unsupported large constant: li loads 64 bits", ops[1])
        return li_steps(ops[0], value)
    if mnemonic in ("la", "lla"):
        need(2)
        rd = ops[0]
        try:
            value = const(ops[1])
        except StmtError:
            value = None                    # an address: computed pc-relative below
        if value is not None:
            # GNU as loads a constant "address" like li does, but through the 32-bit path
            if not -(1 << 31) <= value < (1 << 31):
                raise StmtError(f"offset too large: '{mnemonic}' of the constant {value:#x} "
                                "must fit in 32 bits (use li)", ops[1])
            return li_steps(rd, value, top=False)
        return pcrel_steps(hidden, ("auipc", [rd, f"%pcrel_hi({ops[1]})"]),
                           "addi", [rd, rd, f"%pcrel_lo({hidden})"])
    if mnemonic in ("call", "tail", "jump"):
        hidden += "call"     # marks a call site for the linker's rule on weak symbols (passtwo)
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
    if mnemonic in _EXTEND:
        need(2)
        shift_back, amount = _EXTEND[mnemonic]
        return [("slli", [ops[0], ops[1], str(amount)]), (shift_back, [ops[0], ops[0], str(amount)])]
    if mnemonic == "jump":
        need(2)
        target, tmp = ops
        return pcrel_steps(hidden, ("auipc", [tmp, f"%pcrel_hi({target})"]),
                           "jalr", ["zero", f"%pcrel_lo({hidden})({tmp})"])
    raise StmtError(f"unknown pseudo-instruction '{mnemonic}'", mnemonic)


def symbol_access(mnemonic: str, ops: list[str], hidden: str):
    """``lw rd, sym`` / ``sw rs, sym, tmp``: auipc into a register, then the access."""
    where = ops[1] if len(ops) > 1 else ""
    if XREGS.get(where.strip().lower()) is not None:
        # "lw a0, a1" is a forgotten offset, not a symbol called a1
        raise StmtError(f"expected a memory operand like 0({where.strip()})", where)
    if mnemonic in LOADS and len(ops) == 2:
        rd = ops[0]
        return pcrel_steps(hidden, ("auipc", [rd, f"%pcrel_hi({ops[1]})"]),
                           mnemonic, [rd, f"%pcrel_lo({hidden})({rd})"])
    if (mnemonic in STORES or mnemonic in FP_ACCESS) and len(ops) == 3:
        rs, sym, tmp = ops
        return pcrel_steps(hidden, ("auipc", [tmp, f"%pcrel_hi({sym})"]),
                           mnemonic, [rs, f"%pcrel_lo({hidden})({tmp})"])
    return None


def usage_key(mnemonic: str, ops: list[str]) -> str:
    """What a written instruction is, for coverage: ``"lw <symbol>"``, ``"jalr <short>"``,
    ``"fence <no operands>"``, or just the mnemonic."""
    last = ops[-1].strip() if ops else ""
    if (mnemonic in LOADS and len(ops) == 2 or (mnemonic in STORES or mnemonic in FP_ACCESS)
            and len(ops) == 3) and not last.endswith(")"):
        return f"{mnemonic} <symbol>"
    if mnemonic == "jalr" and (len(ops) != 2 or "(" not in last):
        return "jalr <short>"
    if mnemonic == "jal" and len(ops) == 1:
        return "jal <short>"
    if mnemonic in ("fence", "sfence.vma") and len(ops) < 2:
        return f"{mnemonic} <{len(ops)} operands>"
    return mnemonic
