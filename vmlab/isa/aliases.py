"""Pseudo-instructions and aliases: other names for particular forms of table rows.

``mv a0, a1`` *is* ``addi a0, a1, 0``: the hardware knows only ``addi``; ``mv`` is a name
that makes the intent readable.  Each :class:`Alias` here says which row it stands for
(``base``), which operand values that row must have (``when``) and how the alias writes its
operands (``syntax``, in the base row's field names).  One table serves both directions:

- the **assembler** reads ``mv a0,a1``, fills the base row's fields from the alias syntax,
  sets the fixed ones from ``when`` (``imm_i=0``) and encodes ``addi``;
- the **disassembler**, printing with aliases, takes the first alias (in table order) whose
  ``when`` holds for the decoded word.  The order and the choices are objdump's (GNU binutils
  2.40), so ``vmlab disasm`` prints what ``objdump -d`` prints.

Some aliases exist only in one direction: ``bgt`` is accepted by assemblers but objdump
prints ``blt`` with swapped operands (``disasm=False``); binutils 2.40 prints ``addi`` as
``add rd,rs1,imm`` (``asm=False`` here, because the assembler has to stay compatible with
GNU as, which also accepts it, but vmlab's assembler need not advertise it).

Multi-instruction pseudo-instructions (``li`` with a large constant, ``la``, ``call``,
``tail``) are not aliases of one row: the assembler expands them itself.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from vmlab.isa.registers import xreg


@dataclass(frozen=True)
class Alias:
    name: str
    #: operand tokens as in :attr:`Insn.syntax`: base-row fields, ``imm(rs)`` memory operands,
    #: or fixed register names (``sp``) that are part of the spelling
    syntax: tuple[str, ...]
    #: mnemonic of the table row this is another name for
    base: str
    #: conditions on the base row's fields: ``"rd=0"``, ``"rs1!=0"``, ``"frs1=frs2"``
    when: tuple[str, ...] = ()
    #: objdump prints it when aliases are on
    disasm: bool = True
    #: assemblers accept it
    asm: bool = True
    #: objdump prints it even with ``-M no-aliases`` (binutils treats it as an instruction)
    always: bool = False

    def holds(self, operands: dict[str, int]) -> bool:
        """Whether the decoded base-row ``operands`` satisfy every ``when`` condition."""
        for field, negate, value, other in self._conditions:
            equal = operands[field] == (operands[other] if other else value)
            if equal == negate:
                return False
        return True

    @cached_property
    def _conditions(self) -> tuple[tuple[str, bool, int | None, str | None], ...]:
        """``when`` parsed once: (field, negated, value, or the other field compared)."""
        out = []
        for cond in self.when:
            negate = "!=" in cond
            left, right = cond.split("!=" if negate else "=")
            value = _value(right)
            out.append((left, negate, value, None if value is not None else right))
        return tuple(out)

    def fixed(self) -> dict[str, int]:
        """Field values set by ``when`` (``"rd=0"`` -> ``{"rd": 0}``), for the assembler."""
        return dict(self._fixed)

    @cached_property
    def _fixed(self) -> dict[str, int]:
        out = {}
        for cond in self.when:
            if "!=" in cond:
                continue
            left, right = cond.split("=")
            value = _value(right)
            if value is not None:
                out[left] = value
        return out

    def copies(self) -> dict[str, str]:
        """Fields set equal to another field (``"frs2=frs1"``: frs2 takes frs1's value)."""
        return dict(self._copies)

    @cached_property
    def _copies(self) -> dict[str, str]:
        out = {}
        for cond in self.when:
            if "!=" not in cond:
                left, right = cond.split("=")
                if _value(right) is None:
                    out[left] = right
        return out


def _value(text: str) -> int | None:
    """A condition's right-hand side as a number (``0``, ``-1``, ``0xc01``, ``ra``), or None
    when it names another field."""
    reg = xreg(text)
    if reg is not None and not text.startswith(("f", "c_")):
        return reg
    try:
        return int(text, 0)
    except ValueError:
        return None


def _syn(s: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in s.split(",")) if s else ()


_ALIASES: list[Alias] = []


def _a(name, syntax, base, *when, **kw):
    _ALIASES.append(Alias(name, _syn(syntax), base, tuple(when), **kw))


# --- integer computation ----------------------------------------------------------------------
_a("nop", "", "addi", "rd=0", "rs1=0", "imm_i=0")
_a("li", "rd,imm_i", "addi", "rs1=0")
_a("mv", "rd,rs1", "addi", "imm_i=0")
_a("add", "rd,rs1,imm_i", "addi", asm=False)           # binutils 2.40 prints addi so
_a("sext.w", "rd,rs1", "addiw", "imm_i=0")
_a("addw", "rd,rs1,imm_i", "addiw", asm=False)
_a("not", "rd,rs1", "xori", "imm_i=-1")
_a("xor", "rd,rs1,imm_i", "xori", asm=False)
_a("zext.b", "rd,rs1", "andi", "imm_i=255")
_a("and", "rd,rs1,imm_i", "andi", asm=False)
_a("or", "rd,rs1,imm_i", "ori", asm=False)
_a("seqz", "rd,rs1", "sltiu", "imm_i=1")
for _m in ("sll", "srl", "sra"):
    _a(_m, "rd,rs1,shamt6", _m + "i", asm=False)
    _a(_m + "w", "rd,rs1,shamt5", _m + "iw", asm=False)
_a("neg", "rd,rs2", "sub", "rs1=0")
_a("negw", "rd,rs2", "subw", "rs1=0")
_a("snez", "rd,rs2", "sltu", "rs1=0")
_a("sltz", "rd,rs1", "slt", "rs2=0")
_a("sgtz", "rd,rs2", "slt", "rs1=0")

# --- control transfer -------------------------------------------------------------------------
_a("beqz", "rs1,imm_b", "beq", "rs2=0")
_a("bnez", "rs1,imm_b", "bne", "rs2=0")
_a("blez", "rs2,imm_b", "bge", "rs1=0")
_a("bgez", "rs1,imm_b", "bge", "rs2=0")
_a("bltz", "rs1,imm_b", "blt", "rs2=0")
_a("bgtz", "rs2,imm_b", "blt", "rs1=0")
# "branch if greater": the comparison with the operands swapped.  Only assemblers know them.
_a("bgt", "rs2,rs1,imm_b", "blt", disasm=False)
_a("ble", "rs2,rs1,imm_b", "bge", disasm=False)
_a("bgtu", "rs2,rs1,imm_b", "bltu", disasm=False)
_a("bleu", "rs2,rs1,imm_b", "bgeu", disasm=False)
_a("j", "imm_j", "jal", "rd=0")
_a("jal", "imm_j", "jal", "rd=ra")
_a("ret", "", "jalr", "rd=0", "rs1=ra", "imm_i=0")
_a("jr", "rs1", "jalr", "rd=0", "imm_i=0")
_a("jr", "imm_i(rs1)", "jalr", "rd=0")
_a("jalr", "rs1", "jalr", "rd=ra", "imm_i=0")
_a("jalr", "imm_i(rs1)", "jalr", "rd=ra")
_a("jalr", "rd,rs1", "jalr", "imm_i=0")
# GNU as also reads the offset as a separate operand: "jr rs, off", "jalr rs, off"
_a("jr", "rs1,imm_i", "jalr", "rd=0", disasm=False)
_a("jalr", "rs1,imm_i", "jalr", "rd=ra", disasm=False)

# --- fences and system ------------------------------------------------------------------------
_a("fence", "", "fence", "pred=15", "succ=15")
# Zihintpause: a fence with predecessor w and no successor; objdump 2.40 does not print it.
_a("pause", "", "fence", "pred=1", "succ=0", disasm=False)
_a("sfence.vma", "", "sfence.vma", "rs1=0", "rs2=0")
_a("sfence.vma", "rs1", "sfence.vma", "rs2=0")
_a("hfence.vvma", "", "hfence.vvma", "rs1=0", "rs2=0")
_a("hfence.vvma", "rs1", "hfence.vvma", "rs2=0")
_a("hfence.gvma", "", "hfence.gvma", "rs1=0", "rs2=0")
_a("hfence.gvma", "rs1", "hfence.gvma", "rs2=0")
_a("sfence.vm", "", "sfence.vm", "rs1=0", always=True, asm=False)
# The canonical illegal instruction: a write to the read-only cycle CSR.
_a("unimp", "", "csrrw", "rd=0", "csr=0xc00", "rs1=0", always=True)

# --- CSR access -------------------------------------------------------------------------------
# Named reads of the counters and of the floating-point CSRs come before the generic forms.
_a("rdinstret", "rd", "csrrs", "csr=0xc02", "rs1=0")
_a("rdcycle", "rd", "csrrs", "csr=0xc00", "rs1=0")
_a("rdtime", "rd", "csrrs", "csr=0xc01", "rs1=0")
_a("frcsr", "rd", "csrrs", "csr=3", "rs1=0")
_a("frrm", "rd", "csrrs", "csr=2", "rs1=0")
_a("frflags", "rd", "csrrs", "csr=1", "rs1=0")
for _name, _csr in [("fscsr", 3), ("fsrm", 2), ("fsflags", 1)]:
    _a(_name, "rs1", "csrrw", f"csr={_csr}", "rd=0")
    _a(_name, "rd,rs1", "csrrw", f"csr={_csr}")
# frsr/fssr: the names of frcsr/fscsr before the F extension was ratified; GNU as reads them.
_a("frsr", "rd", "csrrs", "csr=3", "rs1=0", disasm=False)
_a("fssr", "rs1", "csrrw", "csr=3", "rd=0", disasm=False)
_a("fssr", "rd,rs1", "csrrw", "csr=3", disasm=False)
for _name, _csr in [("fsrmi", 2), ("fsflagsi", 1)]:
    _a(_name, "rd,zimm", "csrrwi", f"csr={_csr}")
    _a(_name, "zimm", "csrrwi", f"csr={_csr}", "rd=0")
_a("csrr", "rd,csr", "csrrs", "rs1=0")
_a("csrw", "csr,rs1", "csrrw", "rd=0")
_a("csrs", "csr,rs1", "csrrs", "rd=0")
_a("csrc", "csr,rs1", "csrrc", "rd=0")
for _op in ("w", "s", "c"):
    # The standard spelling with an immediate is csrwi; binutils 2.40 prints the immediate
    # forms without their "i" (csrw csr,imm / csrrw rd,csr,imm), as it does for addi.
    _a(f"csr{_op}i", f"csr,zimm", f"csrr{_op}i", "rd=0", disasm=False)
    _a(f"csr{_op}", "csr,zimm", f"csrr{_op}i", "rd=0", asm=False)
    _a(f"csrr{_op}", "rd,csr,zimm", f"csrr{_op}i", asm=False)

# --- floating point ---------------------------------------------------------------------------
for _p in ("s", "d"):
    _a(f"fmv.{_p}", "frd,frs1", f"fsgnj.{_p}", "frs2=frs1")
    _a(f"fneg.{_p}", "frd,frs1", f"fsgnjn.{_p}", "frs2=frs1")
    _a(f"fabs.{_p}", "frd,frs1", f"fsgnjx.{_p}", "frs2=frs1")
    # "greater than" is "less than" with the operands swapped; only assemblers know these
    _a(f"fgt.{_p}", "rd,frs2,frs1", f"flt.{_p}", disasm=False)
    _a(f"fge.{_p}", "rd,frs2,frs1", f"fle.{_p}", disasm=False)
# fmv.x.s/fmv.s.x: the names of fmv.x.w/fmv.w.x before the spec renamed them
_a("fmv.x.s", "rd,frs1", "fmv.x.w", disasm=False)
_a("fmv.s.x", "frd,rs1", "fmv.w.x", disasm=False)

# --- compressed instructions, as objdump prints them with aliases on --------------------------
# objdump names a compressed instruction by what it does (its expansion, in the same spelling
# as above: c.addi prints as "add"), except for HINT encodings (rd = x0), which keep their
# c. names because no 32-bit alias describes them.
_a("unimp", "", "c.unimp")
_a("nop", "", "c.nop")
_a("c.nop", "c_nzimm6", "c.addi", "c_rd=0")
_a("add", "c_rd,c_rd,c_nzimm6", "c.addi")
_a("sext.w", "c_rd,c_rd", "c.addiw", "c_imm6=0")
_a("addw", "c_rd,c_rd,c_imm6", "c.addiw")
_a("li", "c_rd,c_imm6", "c.li", "c_rd!=0")
_a("add", "sp,sp,c_addi16sp", "c.addi16sp")
_a("lui", "c_rd,c_lui", "c.lui", "c_rd!=0")
_a("add", "c_rd_p,sp,c_addi4spn", "c.addi4spn")
_a("srl", "c_rs1_p,c_rs1_p,c_shamt", "c.srli")
_a("sra", "c_rs1_p,c_rs1_p,c_shamt", "c.srai")
_a("and", "c_rs1_p,c_rs1_p,c_imm6", "c.andi")
for _m in ("sub", "xor", "or", "and", "subw", "addw"):
    _a(_m, "c_rs1_p,c_rs1_p,c_rs2_p", f"c.{_m}")
_a("j", "c_imm_j", "c.j")
_a("beqz", "c_rs1_p,c_imm_b", "c.beqz")
_a("bnez", "c_rs1_p,c_imm_b", "c.bnez")
_a("sll", "c_rd,c_rd,c_shamt", "c.slli", "c_rd!=0")
_a("ret", "", "c.jr", "c_rd=ra")
_a("jr", "c_rd", "c.jr")
_a("mv", "c_rd,c_rs2", "c.mv", "c_rd!=0")
_a("ebreak", "", "c.ebreak")
_a("jalr", "c_rd", "c.jalr")
_a("add", "c_rd,c_rd,c_rs2", "c.add", "c_rd!=0")
# Loads and stores print as their 32-bit forms.
for _base, _m, _syntax in [
        ("c.lw", "lw", "c_rd_p,c_uimm_w(c_rs1_p)"), ("c.ld", "ld", "c_rd_p,c_uimm_d(c_rs1_p)"),
        ("c.fld", "fld", "c_frd_p,c_uimm_d(c_rs1_p)"), ("c.sw", "sw", "c_rs2_p,c_uimm_w(c_rs1_p)"),
        ("c.sd", "sd", "c_rs2_p,c_uimm_d(c_rs1_p)"), ("c.fsd", "fsd", "c_frs2_p,c_uimm_d(c_rs1_p)"),
        ("c.lwsp", "lw", "c_rd,c_uimm_lwsp(sp)"), ("c.ldsp", "ld", "c_rd,c_uimm_ldsp(sp)"),
        ("c.fldsp", "fld", "c_frd,c_uimm_ldsp(sp)"), ("c.swsp", "sw", "c_rs2,c_uimm_swsp(sp)"),
        ("c.sdsp", "sd", "c_rs2,c_uimm_sdsp(sp)"), ("c.fsdsp", "fsd", "c_frs2,c_uimm_sdsp(sp)")]:
    _a(_m, _syntax, _base)

#: Every alias, in the order objdump prefers them (first match wins).  Aliases of compressed
#: rows are for printing only: the assembler reaches those rows by compressing the 32-bit
#: instruction they expand to.
ALIASES: tuple[Alias, ...] = tuple(
    replace(a, asm=False) if a.base.startswith("c.") else a for a in _ALIASES)

#: Aliases by the base row's mnemonic, in preference order.
ALIASES_BY_BASE: dict[str, tuple[Alias, ...]] = {}
for _alias in ALIASES:
    ALIASES_BY_BASE[_alias.base] = ALIASES_BY_BASE.get(_alias.base, ()) + (_alias,)

#: Aliases by their own name (several rows may share one: ``jr``, ``add``), in table order.
ALIASES_BY_NAME: dict[str, tuple[Alias, ...]] = {}
for _alias in ALIASES:
    ALIASES_BY_NAME[_alias.name] = ALIASES_BY_NAME.get(_alias.name, ()) + (_alias,)

#: Rows that objdump's ``-M no-aliases`` prints as the general row they refine: binutils
#: treats ``c.nop`` as a spelling of ``c.addi zero,0``.
PRINT_AS_GENERAL = frozenset({"c.nop"})
