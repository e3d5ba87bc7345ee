"""The instruction table: every RV64 instruction vmlab knows, one row each.

A row says how an instruction is *encoded* (``match``/``mask``: the word ``w`` is this
instruction when ``w & mask == match``), how it is *written* (``syntax``: operand field
names from :mod:`vmlab.isa.fields`, in assembly order, with ``imm(rs)`` for memory
operands), and which extension it belongs to.  The assembler, the disassembler, the
machine's decoder tests and the documentation all read this one table.

Compressed (RVC) rows also say what 32-bit instruction they stand for (``expands``), because
that is what they *mean*: the assembler compresses by finding a row whose expansion
matches, the disassembler prints the expansion when aliases are on, the machine executes
the expansion.
"""
from __future__ import annotations

from dataclasses import dataclass

from vmlab.isa.fields import FIELDS


@dataclass(frozen=True)
class Insn:
    mnemonic: str
    syntax: tuple[str, ...]
    match: int
    mask: int
    ext: str
    size: int = 4
    #: for RVC rows: the 32-bit instruction this one stands for, e.g. ``"addi c_rd,c_rd,c_nzimm6"``;
    #: operand names are this row's fields, or fixed registers (``zero``, ``ra``, ``sp``)
    expands: str | None = None
    #: operand constraints beyond the field's own range, e.g. ``("c_rd!=0",)``
    constraints: tuple[str, ...] = ()
    #: the general row this row is a special case of (the decoder tries special cases first)
    special_of: str | None = None
    #: fields that make the encoding *reserved* when zero (e.g. ``c.lwsp`` with rd = x0): such
    #: a word matches ``match``/``mask`` but is no instruction, so decoding rejects it.
    #: (Unlike ``constraints``, which also rule out HINT encodings the assembler refuses.)
    reserved_if_zero: tuple[str, ...] = ()

    def matches(self, word: int) -> bool:
        return (word & self.mask) == self.match and not self.is_reserved(word)

    def is_reserved(self, word: int) -> bool:
        return any(FIELDS[f].extract_raw(word) == 0 for f in self.reserved_if_zero)


def _syn(s: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in s.split(",")) if s else ()


# ---------------------------------------------------------------------------------------------
# Encoding helpers: each builds match/mask from the fixed parts of a format.
# ---------------------------------------------------------------------------------------------

def _r(op, f3, f7):
    return op | f3 << 12 | f7 << 25, 0xFE00707F


def _i(op, f3):
    return op | f3 << 12, 0x0000707F


def _u(op):
    return op, 0x7F


_ROWS: list[Insn] = []


def _add(mnemonic, syntax, match_mask, ext, **kw):
    match, mask = match_mask
    _ROWS.append(Insn(mnemonic, _syn(syntax), match, mask, ext, **kw))


# --- RV64I ------------------------------------------------------------------------------------
_add("lui", "rd,imm_u", _u(0x37), "I")
_add("auipc", "rd,imm_u", _u(0x17), "I")
_add("jal", "rd,imm_j", _u(0x6F), "I")
_add("jalr", "rd,imm_i(rs1)", _i(0x67, 0), "I")
for _m, _f3 in [("beq", 0), ("bne", 1), ("blt", 4), ("bge", 5), ("bltu", 6), ("bgeu", 7)]:
    _add(_m, "rs1,rs2,imm_b", _i(0x63, _f3), "I")
for _m, _f3 in [("lb", 0), ("lh", 1), ("lw", 2), ("ld", 3), ("lbu", 4), ("lhu", 5), ("lwu", 6)]:
    _add(_m, "rd,imm_i(rs1)", _i(0x03, _f3), "I")
for _m, _f3 in [("sb", 0), ("sh", 1), ("sw", 2), ("sd", 3)]:
    _add(_m, "rs2,imm_s(rs1)", _i(0x23, _f3), "I")
for _m, _f3 in [("addi", 0), ("slti", 2), ("sltiu", 3), ("xori", 4), ("ori", 6), ("andi", 7)]:
    _add(_m, "rd,rs1,imm_i", _i(0x13, _f3), "I")
_add("slli", "rd,rs1,shamt6", (0x00001013, 0xFC00707F), "I")
_add("srli", "rd,rs1,shamt6", (0x00005013, 0xFC00707F), "I")
_add("srai", "rd,rs1,shamt6", (0x40005013, 0xFC00707F), "I")
for _m, _f3, _f7 in [("add", 0, 0), ("sub", 0, 0x20), ("sll", 1, 0), ("slt", 2, 0), ("sltu", 3, 0),
                     ("xor", 4, 0), ("srl", 5, 0), ("sra", 5, 0x20), ("or", 6, 0), ("and", 7, 0)]:
    _add(_m, "rd,rs1,rs2", _r(0x33, _f3, _f7), "I")
_add("addiw", "rd,rs1,imm_i", _i(0x1B, 0), "I")
_add("slliw", "rd,rs1,shamt5", _r(0x1B, 1, 0), "I")
_add("srliw", "rd,rs1,shamt5", _r(0x1B, 5, 0), "I")
_add("sraiw", "rd,rs1,shamt5", _r(0x1B, 5, 0x20), "I")
for _m, _f3, _f7 in [("addw", 0, 0), ("subw", 0, 0x20), ("sllw", 1, 0), ("srlw", 5, 0), ("sraw", 5, 0x20)]:
    _add(_m, "rd,rs1,rs2", _r(0x3B, _f3, _f7), "I")
# fence.tso is a fence with fm (bits 31:28) = 1000 and pred = succ = rw.  Since the fence row
# below fixes fm = 0000 (the only other value standard code uses), the two do not overlap.
_add("fence.tso", "", (0x8330000F, 0xFFFFFFFF), "I")
# The fields fence does not use (fm, rs1, rd) must be zero in standard code: that is the
# encoding assemblers write and objdump recognises.  (Hardware ignores them, for forward
# compatibility: a machine decoder may be more lenient than this mask.)
_add("fence", "pred,succ", (0x0000000F, 0xF00FFFFF), "I")
_add("ecall", "", (0x00000073, 0xFFFFFFFF), "I")
_add("ebreak", "", (0x00100073, 0xFFFFFFFF), "I")

# --- Zifencei ---------------------------------------------------------------------------------
# As with fence, the unused imm/rs1/rd fields are zero in standard code.
_add("fence.i", "", (0x0000100F, 0xFFFFFFFF), "Zifencei")

# --- Zicsr ------------------------------------------------------------------------------------
for _m, _f3 in [("csrrw", 1), ("csrrs", 2), ("csrrc", 3)]:
    _add(_m, "rd,csr,rs1", _i(0x73, _f3), "Zicsr")
for _m, _f3 in [("csrrwi", 5), ("csrrsi", 6), ("csrrci", 7)]:
    _add(_m, "rd,csr,zimm", _i(0x73, _f3), "Zicsr")

# --- RV64M ------------------------------------------------------------------------------------
for _i3, _m in enumerate(["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"]):
    _add(_m, "rd,rs1,rs2", _r(0x33, _i3, 1), "M")
for _m, _f3 in [("mulw", 0), ("divw", 4), ("divuw", 5), ("remw", 6), ("remuw", 7)]:
    _add(_m, "rd,rs1,rs2", _r(0x3B, _f3, 1), "M")

# --- RV64A: every AMO in its four ordering flavours (aq bit 26, rl bit 25) ---------------------
_AMO_F5 = [("lr", 0b00010), ("sc", 0b00011), ("amoswap", 0b00001), ("amoadd", 0b00000),
           ("amoxor", 0b00100), ("amoand", 0b01100), ("amoor", 0b01000), ("amomin", 0b10000),
           ("amomax", 0b10100), ("amominu", 0b11000), ("amomaxu", 0b11100)]
for _w, _f3 in [("w", 2), ("d", 3)]:
    for _base, _f5 in _AMO_F5:
        for _sfx, _aqrl in [("", 0), (".aq", 2), (".rl", 1), (".aqrl", 3)]:
            _match = 0x2F | _f3 << 12 | _aqrl << 25 | _f5 << 27
            if _base == "lr":
                _add(f"lr.{_w}{_sfx}", "rd,(rs1)", (_match, 0xFFF0707F), "A")
            else:
                _add(f"{_base}.{_w}{_sfx}", "rd,rs2,(rs1)", (_match, 0xFE00707F), "A")

# --- Privileged -------------------------------------------------------------------------------
_add("sret", "", (0x10200073, 0xFFFFFFFF), "Priv")
_add("mret", "", (0x30200073, 0xFFFFFFFF), "Priv")
_add("wfi", "", (0x10500073, 0xFFFFFFFF), "Priv")
_add("sfence.vma", "rs1,rs2", (0x12000073, 0xFE007FFF), "Priv")
# Retired or debug-only instructions that binutils still decodes (so old firmware reads right):
# uret (user-level traps, the N extension dropped from privileged spec 1.12), dret (return from
# debug mode) and sfence.vm (privileged spec 1.9's fence, replaced by sfence.vma).  vmlab's
# machine implements none of them; their ext keeps the assembler from accepting them.
_add("uret", "", (0x00200073, 0xFFFFFFFF), "N")
_add("dret", "", (0x7B200073, 0xFFFFFFFF), "Sdext")
_add("sfence.vm", "rs1", (0x10400073, 0xFFF07FFF), "Priv-1.9")

# --- H (hypervisor extension 1.0) ----------------------------------------------------------
# HLV/HLVX/HSV: loads and stores by HS-mode (or U-mode if hstatus.HU) *as if* the guest made
# them -- V=1, privilege hstatus.SPVP, two-stage translation -- so a hypervisor reads guest
# virtual memory without switching to the guest.  HLVX needs execute permission instead of
# read (it reads guest code to emulate a trapped instruction).  SYSTEM opcode, funct3 = 4;
# funct7 gives the width (bits 26:25 of the word) and rs2 the kind (0 signed, 1 unsigned,
# 3 execute).  The HFENCEs are sfence.vma for the guest's two stages.
for _m, _f7, _rs2 in [("hlv.b", 0x30, 0), ("hlv.bu", 0x30, 1), ("hlv.h", 0x32, 0),
                      ("hlv.hu", 0x32, 1), ("hlvx.hu", 0x32, 3), ("hlv.w", 0x34, 0),
                      ("hlvx.wu", 0x34, 3), ("hlv.wu", 0x34, 1), ("hlv.d", 0x36, 0)]:
    _add(_m, "rd,(rs1)", (0x4073 | _rs2 << 20 | _f7 << 25, 0xFFF0707F), "H")
for _m, _f7 in [("hsv.b", 0x31), ("hsv.h", 0x33), ("hsv.w", 0x35), ("hsv.d", 0x37)]:
    _add(_m, "rs2,(rs1)", (0x4073 | _f7 << 25, 0xFE007FFF), "H")
_add("hfence.vvma", "rs1,rs2", (0x22000073, 0xFE007FFF), "H")
_add("hfence.gvma", "rs1,rs2", (0x62000073, 0xFE007FFF), "H")


# --- RV64F and RV64D ---------------------------------------------------------------------------
# The machine executes every one of these (bit-exact soft-float, vmlab.machine.fp*), the
# assembler writes them with -march rv64imafdc / rv64gc, and the disassembler prints them.
# ``fmt`` (bits 26:25) says the precision: 0 = single (.s), 1 = double (.d).
_R4 = 0x0600007F  # opcode + fmt: the four fused multiply-adds (rs3 in bits 31:27)
_FP = 0xFE00007F  # opcode + funct7: rm (bits 14:12) is an operand
_FP_RS2 = 0xFFF0007F  # ... and rs2 selects the operation (fsqrt, fcvt)
_FP_F3 = 0xFE00707F  # opcode + funct7 + funct3 (sign injection, min/max, compares)
_FP_RS2_F3 = 0xFFF0707F  # opcode + funct7 + rs2 + funct3 (moves, fclass)


def _fp(f7, rs2=0, f3=0):
    return 0x53 | f3 << 12 | rs2 << 20 | f7 << 25


for _p, _fmt, _ext in [("s", 0, "F"), ("d", 1, "D")]:
    _width = 2 + _fmt  # funct3 of flw/fsw is 2 (word), of fld/fsd 3 (double)
    _add(f"fl{'w' if _p == 's' else 'd'}", "frd,imm_i(rs1)", _i(0x07, _width), _ext)
    _add(f"fs{'w' if _p == 's' else 'd'}", "frs2,imm_s(rs1)", _i(0x27, _width), _ext)
    for _m, _op in [("fmadd", 0x43), ("fmsub", 0x47), ("fnmsub", 0x4B), ("fnmadd", 0x4F)]:
        _add(f"{_m}.{_p}", "frd,frs1,frs2,frs3,rm", (_op | _fmt << 25, _R4), _ext)
    for _m, _f7 in [("fadd", 0x00), ("fsub", 0x04), ("fmul", 0x08), ("fdiv", 0x0C)]:
        _add(f"{_m}.{_p}", "frd,frs1,frs2,rm", (_fp(_f7 | _fmt), _FP), _ext)
    _add(f"fsqrt.{_p}", "frd,frs1,rm", (_fp(0x2C | _fmt), _FP_RS2), _ext)
    for _m, _f3 in [("fsgnj", 0), ("fsgnjn", 1), ("fsgnjx", 2)]:
        _add(f"{_m}.{_p}", "frd,frs1,frs2", (_fp(0x10 | _fmt, f3=_f3), _FP_F3), _ext)
    for _m, _f3 in [("fmin", 0), ("fmax", 1)]:
        _add(f"{_m}.{_p}", "frd,frs1,frs2", (_fp(0x14 | _fmt, f3=_f3), _FP_F3), _ext)
    for _m, _f3 in [("fle", 0), ("flt", 1), ("feq", 2)]:
        _add(f"{_m}.{_p}", "rd,frs1,frs2", (_fp(0x50 | _fmt, f3=_f3), _FP_F3), _ext)
    # Float -> integer (rs2 picks the integer type) and integer -> float.
    for _t, _rs2 in [("w", 0), ("wu", 1), ("l", 2), ("lu", 3)]:
        _add(f"fcvt.{_t}.{_p}", "rd,frs1,rm", (_fp(0x60 | _fmt, _rs2), _FP_RS2), _ext)
        if _p == "d" and _t in ("w", "wu"):
            # Every 32-bit integer is exactly a double, so rounding never happens: binutils
            # writes rm = 000 and only recognises that encoding.
            _add(f"fcvt.d.{_t}", "frd,rs1", (_fp(0x69, _rs2), _FP_RS2_F3), _ext)
        else:
            _add(f"fcvt.{_p}.{_t}", "frd,rs1,rm", (_fp(0x68 | _fmt, _rs2), _FP_RS2), _ext)
    _add(f"fclass.{_p}", "rd,frs1", (_fp(0x70 | _fmt, f3=1), _FP_RS2_F3), _ext)
# Bit-for-bit moves between the integer and FP register files.
_add("fmv.x.w", "rd,frs1", (_fp(0x70), _FP_RS2_F3), "F")
_add("fmv.w.x", "frd,rs1", (_fp(0x78), _FP_RS2_F3), "F")
_add("fmv.x.d", "rd,frs1", (_fp(0x71), _FP_RS2_F3), "D")
_add("fmv.d.x", "frd,rs1", (_fp(0x79), _FP_RS2_F3), "D")
# Precision conversions: widening (s -> d) is exact, so as with fcvt.d.w rm is 000.
_add("fcvt.s.d", "frd,frs1,rm", (_fp(0x20, 1), _FP_RS2), "D")
_add("fcvt.d.s", "frd,frs1", (_fp(0x21, 0), _FP_RS2_F3), "D")


# --- RV64C ------------------------------------------------------------------------------------
def _c(mnemonic, syntax, match, mask, expands, ext="C", **kw):
    _ROWS.append(Insn(mnemonic, _syn(syntax), match, mask, ext, size=2, expands=expands, **kw))


# Quadrant 0
_c("c.unimp", "", 0x0000, 0xFFFF, None, special_of="c.addi4spn")
_c("c.addi4spn", "c_rd_p,sp,c_addi4spn", 0x0000, 0xE003, "addi c_rd_p,sp,c_addi4spn",
   reserved_if_zero=("c_addi4spn",))
_c("c.fld", "c_frd_p,c_uimm_d(c_rs1_p)", 0x2000, 0xE003, "fld c_frd_p,c_uimm_d(c_rs1_p)", ext="C+D")
_c("c.lw", "c_rd_p,c_uimm_w(c_rs1_p)", 0x4000, 0xE003, "lw c_rd_p,c_uimm_w(c_rs1_p)")
_c("c.ld", "c_rd_p,c_uimm_d(c_rs1_p)", 0x6000, 0xE003, "ld c_rd_p,c_uimm_d(c_rs1_p)")
_c("c.fsd", "c_frs2_p,c_uimm_d(c_rs1_p)", 0xA000, 0xE003, "fsd c_frs2_p,c_uimm_d(c_rs1_p)", ext="C+D")
_c("c.sw", "c_rs2_p,c_uimm_w(c_rs1_p)", 0xC000, 0xE003, "sw c_rs2_p,c_uimm_w(c_rs1_p)")
_c("c.sd", "c_rs2_p,c_uimm_d(c_rs1_p)", 0xE000, 0xE003, "sd c_rs2_p,c_uimm_d(c_rs1_p)")
# Quadrant 1
_c("c.nop", "", 0x0001, 0xFFFF, "addi zero,zero,0", special_of="c.addi")
_c("c.addi", "c_rd,c_nzimm6", 0x0001, 0xE003, "addi c_rd,c_rd,c_nzimm6", constraints=("c_rd!=0",))
_c("c.addiw", "c_rd,c_imm6", 0x2001, 0xE003, "addiw c_rd,c_rd,c_imm6", constraints=("c_rd!=0",),
   reserved_if_zero=("c_rd",))
_c("c.li", "c_rd,c_imm6", 0x4001, 0xE003, "addi c_rd,zero,c_imm6", constraints=("c_rd!=0",))
_c("c.addi16sp", "sp,c_addi16sp", 0x6101, 0xEF83, "addi sp,sp,c_addi16sp", special_of="c.lui")
_c("c.lui", "c_rd,c_lui", 0x6001, 0xE003, "lui c_rd,c_lui", constraints=("c_rd!=0", "c_rd!=2"),
   reserved_if_zero=("c_lui",))
_c("c.srli64", "c_rs1_p", 0x8001, 0xFC7F, None, special_of="c.srli")
_c("c.srli", "c_rs1_p,c_shamt", 0x8001, 0xEC03, "srli c_rs1_p,c_rs1_p,c_shamt", constraints=("c_shamt!=0",))
_c("c.srai64", "c_rs1_p", 0x8401, 0xFC7F, None, special_of="c.srai")
_c("c.srai", "c_rs1_p,c_shamt", 0x8401, 0xEC03, "srai c_rs1_p,c_rs1_p,c_shamt", constraints=("c_shamt!=0",))
_c("c.andi", "c_rs1_p,c_imm6", 0x8801, 0xEC03, "andi c_rs1_p,c_rs1_p,c_imm6")
for _m, _bits in [("sub", 0x8C01), ("xor", 0x8C21), ("or", 0x8C41), ("and", 0x8C61),
                  ("subw", 0x9C01), ("addw", 0x9C21)]:
    _c(f"c.{_m}", "c_rs1_p,c_rs2_p", _bits, 0xFC63, f"{_m} c_rs1_p,c_rs1_p,c_rs2_p")
_c("c.j", "c_imm_j", 0xA001, 0xE003, "jal zero,c_imm_j")
_c("c.beqz", "c_rs1_p,c_imm_b", 0xC001, 0xE003, "beq c_rs1_p,zero,c_imm_b")
_c("c.bnez", "c_rs1_p,c_imm_b", 0xE001, 0xE003, "bne c_rs1_p,zero,c_imm_b")
# Quadrant 2
# c.slli64/c.srli64/c.srai64: a shift amount of 0 means "shift by 64" on RV128; on RV64 these
# are HINTs that do nothing (so they expand to nothing, and no assembler compresses into them).
_c("c.slli64", "c_rd", 0x0002, 0xF07F, None, special_of="c.slli")
_c("c.slli", "c_rd,c_shamt", 0x0002, 0xE003, "slli c_rd,c_rd,c_shamt", constraints=("c_rd!=0", "c_shamt!=0"))
_c("c.fldsp", "c_frd,c_uimm_ldsp(sp)", 0x2002, 0xE003, "fld c_frd,c_uimm_ldsp(sp)", ext="C+D")
_c("c.lwsp", "c_rd,c_uimm_lwsp(sp)", 0x4002, 0xE003, "lw c_rd,c_uimm_lwsp(sp)", constraints=("c_rd!=0",),
   reserved_if_zero=("c_rd",))
_c("c.ldsp", "c_rd,c_uimm_ldsp(sp)", 0x6002, 0xE003, "ld c_rd,c_uimm_ldsp(sp)", constraints=("c_rd!=0",),
   reserved_if_zero=("c_rd",))
_c("c.jr", "c_rd", 0x8002, 0xF07F, "jalr zero,0(c_rd)", constraints=("c_rd!=0",), special_of="c.mv",
   reserved_if_zero=("c_rd",))
# c.mv with rs2 = x0 is not a move: that encoding space belongs to c.jr (and is reserved for rd = 0).
_c("c.mv", "c_rd,c_rs2", 0x8002, 0xF003, "add c_rd,zero,c_rs2", constraints=("c_rd!=0", "c_rs2!=0"),
   reserved_if_zero=("c_rs2",))
_c("c.ebreak", "", 0x9002, 0xFFFF, "ebreak", special_of="c.jalr")
_c("c.jalr", "c_rd", 0x9002, 0xF07F, "jalr ra,0(c_rd)", constraints=("c_rd!=0",), special_of="c.add")
_c("c.add", "c_rd,c_rs2", 0x9002, 0xF003, "add c_rd,c_rd,c_rs2", constraints=("c_rd!=0", "c_rs2!=0"))
_c("c.fsdsp", "c_frs2,c_uimm_sdsp(sp)", 0xA002, 0xE003, "fsd c_frs2,c_uimm_sdsp(sp)", ext="C+D")
_c("c.swsp", "c_rs2,c_uimm_swsp(sp)", 0xC002, 0xE003, "sw c_rs2,c_uimm_swsp(sp)")
_c("c.sdsp", "c_rs2,c_uimm_sdsp(sp)", 0xE002, 0xE003, "sd c_rs2,c_uimm_sdsp(sp)")


#: All rows, special cases before the general rows they refine (so first match wins).
INSTRUCTIONS: tuple[Insn, ...] = tuple(_ROWS)
#: Rows by mnemonic.
BY_MNEMONIC: dict[str, Insn] = {row.mnemonic: row for row in INSTRUCTIONS}


def _bucket(word: int, size: int) -> int:
    """Which bucket of :data:`_BUCKETS` may hold ``word``'s row.

    Every 32-bit row fixes its 7-bit major opcode and every 16-bit row its quadrant and
    funct3 (bits 1:0 and 15:13), so those bits split the table into small buckets.
    """
    return word & 0x7F if size == 4 else (word & 0xE003) | 0x10000


def _buckets() -> dict[int, tuple[Insn, ...]]:
    out: dict[int, list[Insn]] = {}
    for row in INSTRUCTIONS:
        key_mask = 0x7F if row.size == 4 else 0xE003
        assert row.mask & key_mask == key_mask, f"{row.mnemonic} does not fix its opcode bits"
        out.setdefault(_bucket(row.match, row.size), []).append(row)
    return {k: tuple(v) for k, v in out.items()}


_BUCKETS = _buckets()


def lookup(word: int, size: int | None = None) -> Insn | None:
    """The row that ``word`` encodes (the most specific one), or None.

    ``size`` defaults to what the low two bits say: ``11`` means a 32-bit instruction.
    Rows are tried in table order, where special cases come before the rows they refine.
    """
    if size is None:
        size = 4 if word & 3 == 3 else 2
    for row in _BUCKETS.get(_bucket(word, size), ()):
        if row.matches(word):
            return row
    return None
