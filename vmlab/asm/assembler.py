"""The assembler's driver: statements -> items (pass one) -> layout -> bytes (pass two).

This module holds the state and pass one; layout and pass two are in ``passtwo.py``.

Pass one reads statements in order, expanding macros and conditionals, defining labels and
turning every instruction and data directive into an item of its section.  Whatever is
already known (most instructions) is encoded at once; what needs an address waits.
Layout then fixes the size of every branch and padding, and places the sections.  Pass two
evaluates the remaining expressions with the final addresses and writes the bytes.
"""
from __future__ import annotations

import re

from vmlab.asm import expr
from vmlab.asm.compress import compress
from vmlab.asm.encoder import (PC_RELATIVE, check_field, constraint_violation, encode,
                               read_operands)
from vmlab.asm.errors import Diagnostic, StmtError, closest
from vmlab.asm.lexer import Stmt, split_operands, split_statements
from vmlab.asm import pseudo
from vmlab.asm.limits import MAX_BYTES, MAX_ERRORS, MAX_STATEMENTS
from vmlab.asm.march import enabled, parse_march
from vmlab.asm.passtwo import PassTwo, reloc_value
from vmlab.asm.sections import BRANCH, INSN, Item, Section, default_flags
from vmlab.isa import BY_MNEMONIC, FIELDS, lookup
from vmlab.isa.fields import RM_NAMES

_BRANCHES = frozenset({"beq", "bne", "blt", "bge", "bltu", "bgeu", "jal"})
#: compressed rows' pc-relative fields (the 32-bit ones are branches, handled apart)
_PC_RELATIVE_C = frozenset(PC_RELATIVE) - {"imm_b", "imm_j"}
#: at most this many remembered statements (see Assembler.instruction)
_BY_TEXT_SIZE = 1 << 16
_NUMERIC = frozenset("0123456789")
#: a symbol, or a relocation operator applied to one (parsed without the expression parser)
_SIMPLE = re.compile(r"\s*(?:%(hi|lo|pcrel_hi|pcrel_lo)\(\s*)?([A-Za-z_.$][\w.$]*)\s*(?(1)\))\s*")


class Symbol:
    """A label (``section`` + item ``index``) or an assigned value (``value`` or ``tree``)."""

    __slots__ = ("name", "section", "index", "value", "tree", "binding", "type", "size", "stmt", "here")

    def __init__(self, name, section=None, index=0, value=None, tree=None, stmt=None):
        self.name, self.section, self.index = name, section, index
        self.value, self.tree, self.stmt = value, tree, stmt
        self.binding, self.type, self.size = "local", None, None
        #: for labels, where pass one found them (Section.here()), for constant differences
        self.here = None

    @property
    def is_label(self) -> bool:
        return self.section is not None


class Assembler(PassTwo):
    """One assembly run.  Use :func:`vmlab.asm.assemble`; this class holds its state."""

    def __init__(self, march: str = "rv64imac", filename: str = "<input>"):
        self.filename = filename
        self.extensions = parse_march(march)
        #: the table's extension names usable as they are (the common case, checked first)
        self.usable = frozenset(e for e in self.extensions if "+" not in e)
        self.has_c = "C" in self.extensions
        self.rvc = self.has_c
        self.option_stack: list[bool] = []
        self.sections: dict[str, Section] = {}
        self.order: list[Section] = []
        self.section_stack: list[tuple[Section, Section | None]] = []
        self.previous: Section | None = None
        self.current = self.section(".text")
        self.symbols: dict[str, Symbol] = {}
        self.local_count: dict[str, int] = {}
        self.macros: dict = {}
        self.conds: list[list[bool]] = []     # [active, taken-a-branch, parent-active]
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.hidden = 0
        self.macro_serial = 0
        self.parse_cache: dict = {}
        self.pcrel_hi_at: dict[int, tuple] = {}
        #: (mnemonic, operand values, compression) -> bytes: real code repeats itself a lot
        self.encoded: dict[tuple, bytes] = {}
        #: (mnemonic, operand text, compression) -> bytes, for statements of registers and
        #: numbers only (see :meth:`instruction`)
        self.by_text: dict[tuple, bytes] = {}
        self.stopped = False
        #: when a set, every table row, pseudo-instruction and directive used goes in it
        #: (the corpus coverage test reads it)
        self.used: set | None = None

    # --- sections -----------------------------------------------------------------------
    def section(self, name: str, flags: str | None = None, nobits: bool | None = None) -> Section:
        sec = self.sections.get(name)
        if sec is None:
            dflags, dnobits = default_flags(name)
            sec = Section(name, dflags if flags is None else flags, dnobits if nobits is None else nobits)
            self.sections[name] = sec
            self.order.append(sec)
        return sec

    def switch(self, sec: Section) -> None:
        if sec is not self.current:
            self.previous, self.current = self.current, sec

    # --- diagnostics ----------------------------------------------------------------------
    def error(self, st: Stmt, exc: StmtError) -> None:
        text = exc.text or ""
        col = st.col
        if text:
            found = st.src.find(text, max(st.col - 1, 0))
            if found < 0:
                found = st.src.find(text)
            if found >= 0:
                col = found + 1
        else:
            text = st.src.strip()
        msg = exc.message + (f" (in macro '{st.origin}')" if st.origin else "")
        self.diagnostics.append(Diagnostic(st.file, st.line, col, text, msg))
        if len(self.diagnostics) >= MAX_ERRORS and not self.stopped:
            self.stopped = True
            self.diagnostics.append(Diagnostic(st.file, st.line, col, "",
                                               f"{MAX_ERRORS} errors: stopping here"))

    def warn(self, st: Stmt, message: str, text: str = "") -> None:
        """A warning (GNU as's): reported, but the bytes are written and assembly goes on."""
        self.warnings.append(Diagnostic(st.file, st.line, st.col, text, message, "warning"))

    def check_size(self, more: int, text: str) -> None:
        """Refuse to grow the sections past :data:`limits.MAX_BYTES` in all."""
        if sum(sec.pos for sec in self.order) + more > MAX_BYTES:
            raise StmtError(f"the sections would hold more than {MAX_BYTES >> 20} MiB "
                            "(the assembler's limit)", text)

    # --- expressions ------------------------------------------------------------------------
    def local_name(self, ref: str) -> str:
        """``1b`` -> the latest ``1:`` so far; ``1f`` -> the next one to be defined."""
        n, direction = ref[:-1], ref[-1]
        count = self.local_count.get(n, 0)
        if direction == "b":
            if count == 0:
                raise StmtError(f"no local label {n}: before this line", ref)
            return f"{n}\x02{count}"
        return f"{n}\x02{count + 1}"

    def parse(self, text: str):
        """Expression tree for ``text`` (cached unless it names ``1b``/``1f``)."""
        tree = self.parse_cache.get(text)
        if tree is None:
            m = _SIMPLE.fullmatch(text)
            if m is not None:       # "label" and "%pcrel_hi(label)", the pseudos' own texts
                sym = ("s", m[2])
                return ("r", m[1], sym) if m[1] else sym
            if "_" not in text:
                try:                    # the common case: a plain number (GNU octal aside)
                    value = int(text, 0)
                    # a negated 64-bit number wraps, as in the expression parser
                    tree = ("n", expr.signed64(value) if -(1 << 64) < value < 0 else value)
                except ValueError:
                    pass
            if tree is None:
                tree, local = expr.parse_ex(text, self.local_name)
                if local:
                    return tree
            if len(self.parse_cache) >= _BY_TEXT_SIZE:
                self.parse_cache.clear()        # bounded, as the other caches
            self.parse_cache[text] = tree
        return tree

    def resolve_now(self, name: str, depth: int = 0) -> tuple[int, dict]:
        """A symbol during pass one, as a linear form (see :func:`expr.linear`): constants,
        and labels as a known distance from the last item of unknown size before them."""
        if name == ".":
            anchor, offset = self.current.here()
            return offset, {anchor: 1}
        sym = self.symbols.get(name)
        if sym is None or (not sym.is_label and sym.value is None and sym.tree is None):
            raise expr.Unresolved(name)
        if sym.is_label:
            if sym.here is None:
                raise expr.Unresolved(name)
            anchor, offset = sym.here
            return offset, {anchor: 1}
        if sym.value is not None:
            return sym.value, {}
        if depth > 100:
            raise StmtError(f"symbol '{name}' is defined in terms of itself", name)
        return expr.linear(sym.tree, lambda n: self.resolve_now(n, depth + 1), self.reloc_now)

    def reloc_now(self, op: str, tree) -> int:
        if op in ("pcrel_hi", "pcrel_lo"):
            raise expr.Unresolved("%" + op)
        return reloc_value(op, self.value_now(tree))

    def value_now(self, tree) -> int:
        """``tree``'s value in pass one; raises :class:`expr.Unresolved` if it needs layout."""
        k, terms = expr.linear(tree, self.resolve_now, self.reloc_now)
        if terms:
            raise expr.Unresolved(expr.symbols_in(tree)[0])
        return k

    def const(self, text: str) -> int:
        """Evaluate ``text`` now; it must not depend on addresses."""
        tree = self.parse(text)
        try:
            return self.value_now(tree)
        except expr.Unresolved as u:
            raise StmtError(f"'{u.name}' must be a constant defined before this line", text) from None

    def try_const(self, tree):
        """``tree``'s value if it is known now, else the tree itself."""
        if tree[0] == "n":
            return tree[1]
        try:
            return self.value_now(tree)
        except expr.Unresolved:
            return tree

    # --- symbols ----------------------------------------------------------------------------
    def new_hidden(self) -> str:
        self.hidden += 1
        return f".L$vm{self.hidden}"

    def define_label(self, name: str, st: Stmt) -> None:
        if name[0] in _NUMERIC:
            count = self.local_count.get(name, 0) + 1
            self.local_count[name] = count
            name = f"{name}\x02{count}"
        sym = self.symbols.get(name)
        if sym is not None and (sym.is_label or sym.value is not None or sym.tree is not None):
            raise StmtError(f"symbol '{name}' is already defined", name)
        if sym is None:
            sym = self.symbols[name] = Symbol(name)
        self.current.close_run()       # the label names the boundary between two items
        sym.section, sym.index, sym.stmt = self.current, len(self.current.items), st
        sym.here = self.current.here()

    def assign(self, name: str, text: str, st: Stmt, once: bool = False) -> None:
        """``.set``/``.equ``: constants are stored as values, the rest as trees for later."""
        old = self.symbols.get(name)
        if old is not None and (old.is_label or (once and (old.value is not None or old.tree is not None))):
            raise StmtError(f"symbol '{name}' is already defined", name)
        tree = self.parse(text)
        if "." in expr.symbols_in(tree):
            here = self.new_hidden()
            self.define_label(here, st)
            tree = expr.replace_dot(tree, here)
        value = self.try_const(tree)
        sym = old or Symbol(name)
        self.symbols[name] = sym
        sym.stmt = st
        if isinstance(value, int):
            sym.value, sym.tree = value, None
        else:
            sym.value, sym.tree = None, tree

    def symbol(self, name: str) -> Symbol:
        sym = self.symbols.get(name)
        if sym is None:
            sym = self.symbols[name] = Symbol(name)
        return sym

    # --- pass one ---------------------------------------------------------------------------
    def run(self, source: str) -> None:
        from vmlab.asm.directives import DIRECTIVES, CONDITIONALS
        from vmlab.asm import macros
        self._directives, self._conditionals, self._macros = DIRECTIVES, CONDITIONALS, macros
        stack = [iter(split_statements(source, self.filename))]
        budget = MAX_STATEMENTS
        while stack and not self.stopped:
            st = next(stack[-1], None)
            if st is None:
                stack.pop()
                continue
            budget -= 1
            if budget < 0:
                self.error(st, StmtError(f"more than {MAX_STATEMENTS:,} statements to assemble "
                                         "(a .rept or macro that repeats too much?)", st.op))
                break
            try:
                self.statement(st, stack)
            except StmtError as exc:
                self.error(st, exc)
        if self.conds:
            self.diagnostics.append(Diagnostic(self.filename, 0, 0, "", "missing .endif at end of file"))

    def statement(self, st: Stmt, stack: list) -> None:
        op = st.op
        if self.conds and not self.conds[-1][0]:
            if op in self._conditionals:
                self._conditionals[op](self, st)
            return
        for name in st.labels:
            self.define_label(name, st)
        if not op:
            if st.args:
                raise StmtError("cannot understand this statement", st.args)
            return
        if op in self.macros:
            if len(stack) > 200:
                raise StmtError("macros nested too deeply (a macro calling itself?)", op)
            stack.append(iter(self._macros.expand(self, self.macros[op], st)))
            return
        if op[0] == ".":
            handler = self._directives.get(op)
            if handler is None:
                if op in self._conditionals:
                    if self.used is not None:
                        self.used.add(op)
                    return self._conditionals[op](self, st)
                near = closest(op, list(self._directives) + list(self._conditionals))
                hint = f" (did you mean '{near}'?)" if near else ""
                raise StmtError(f"unknown directive '{op}'{hint}", op)
            if self.used is not None:
                self.used.add(op if op != ".option" else f".option {st.args.strip().lower()}")
            body = handler(self, st, stack)
            if body:
                stack.append(iter(body))
            return
        self.instruction(st, op)

    def instruction(self, st: Stmt, mnemonic: str) -> None:
        """One instruction or pseudo-instruction, as written by the user.

        Statements made only of registers and numbers always give the same bytes, and real
        sources repeat them a lot (``nop``, ``ret``, ``addi sp, sp, -16``): their bytes are
        remembered by text, so the next one costs a dictionary lookup.
        """
        key = (mnemonic, st.args, self.rvc)
        data = self.by_text.get(key)
        if data is not None and self.used is None:
            return self.current.add_bytes(data, st.line)
        data = self._instruction(st, mnemonic, split_operands(st.args))
        if data is not None:
            if len(self.by_text) >= _BY_TEXT_SIZE:
                self.by_text.clear()            # bounded: a huge source of distinct lines
            self.by_text[key] = data

    def _instruction(self, st: Stmt, mnemonic: str, ops: list[str]) -> bytes | None:
        """:meth:`instruction` without the memory: the bytes if they depend on nothing but
        the text (see :meth:`real`), else None."""
        if self.used is not None:
            self.used.add(pseudo.usage_key(mnemonic, ops))
        if mnemonic == "li" and len(ops) == 2 and self.parse(ops[1])[0] == "n":
            steps = pseudo.expand_multi(mnemonic, ops, "", self.const)
            out = [self.real(st, mn, step_ops) for mn, step_ops in steps]
            return None if None in out else b"".join(out)
        if mnemonic in pseudo.MULTI:
            return self.steps(st, pseudo.expand_multi(mnemonic, ops, self.new_hidden(), self.const))
        if mnemonic in pseudo.LOADS or mnemonic in pseudo.STORES or mnemonic in pseudo.FP_ACCESS:
            last = ops[-1].strip() if ops else ""
            if not last.endswith(")") and len(ops) in (2, 3):
                steps = pseudo.symbol_access(mnemonic, ops, self.new_hidden())
                if steps is not None:
                    return self.steps(st, steps)
        if mnemonic == "unimp" and not ops:
            return self.real(st, "c.unimp" if self.rvc else "csrrw", [] if self.rvc else ["zero", "cycle", "zero"])
        real = pseudo.alias(mnemonic, ops)
        # GNU as compresses "j" and "jr"/"jalr rs"/"ret", never "jal rd, x" or "jalr rd, 0(rs)"
        may_compress = mnemonic not in ("jal", "jalr")
        if real is not None:
            mnemonic, ops, may_compress = real
        return self.real(st, mnemonic, ops, may_compress)

    def steps(self, st: Stmt, steps) -> None:
        for mn, ops in steps:
            if mn == "label":
                self.define_label(ops, st)
            else:
                self.real(st, mn, ops)

    def real(self, st: Stmt, mnemonic: str, ops: list[str], may_compress: bool = True) -> bytes | None:
        """A table instruction: encode it now if every operand is known, else keep an item.

        Returns the bytes when they follow from the text alone (registers and numbers, no
        symbol), else None.
        """
        row = self.usable_row(mnemonic, ops)
        values = read_operands(mnemonic, ops, self.parse)
        if self.used is not None and "rm" in values:
            self.used.add(f"rm {RM_NAMES[values['rm']]}")
        literal = known = True
        for k, v in values.items():
            if type(v) is tuple:
                literal = literal and v[0] == "n"
                if v[0] == "r":
                    may_compress = False     # GNU as keeps %hi/%lo operands in 32-bit forms
                    if v[1].startswith("pcrel"):
                        known = False        # needs the address of this very instruction
                        continue
                v = values[k] = self.try_const(v)
                known = known and type(v) is int
        if mnemonic in _BRANCHES:
            return self.branch(st, mnemonic, values, may_compress)
        if known and not (row.size == 2 and _PC_RELATIVE_C.intersection(values)):
            data = self.encode_now(row, values, ops, may_compress)
            self.current.add_bytes(data, st.line)
            return data if literal else None
        if self.used is not None:
            self.used.add(mnemonic)
        self.current.add(Item(INSN, row.size, st, row, values, ops))  # waits for addresses
        return None

    def usable_row(self, mnemonic: str, ops: list[str]):
        """The table row ``mnemonic`` names, if this -march and ``.option`` allow it."""
        row = BY_MNEMONIC.get(mnemonic)
        if row is None and mnemonic in pseudo.NAMES:
            raise StmtError(f"'{mnemonic}' does not take these operands; it is written "
                            + pseudo.forms(mnemonic), ", ".join(ops))
        if row is None:
            known = list(BY_MNEMONIC) + list(pseudo.NAMES) + list(self.macros)
            near = closest(mnemonic, known)
            hint = f" (did you mean '{near}'?)" if near else ""
            raise StmtError(f"unknown instruction '{mnemonic}'{hint}", mnemonic)
        if row.size == 2 and not self.rvc:
            why = "-march has no 'c'" if not self.has_c else "'.option norvc' is in effect"
            raise StmtError(f"'{mnemonic}' is a compressed instruction and {why}", mnemonic)
        if row.ext not in self.usable and not enabled(row.ext, self.extensions):
            raise StmtError(f"'{mnemonic}' needs the {row.ext} extension, not in this -march", mnemonic)
        return row

    def encode_now(self, row, values: dict, ops: list[str], may_compress) -> bytes:
        """Bytes of an instruction whose operands are all known: compressed if GNU as would.

        Results are remembered: real code repeats the same instructions (``ret``,
        ``addi sp, sp, -16`` ...) and the table lookups are the expensive part.
        """
        key = (row.mnemonic, self.rvc and may_compress, tuple(values.values()))
        done = self.encoded.get(key)
        if done is not None and self.used is None:
            return done
        word = None
        if self.rvc and row.size == 4 and may_compress:
            word = compress(row.mnemonic, values, may_compress if type(may_compress) is str else None,
                            self.extensions)
        if word is not None:
            data = word.to_bytes(2, "little")
        else:
            data = self.checked_encode(row, values, ops).to_bytes(row.size, "little")
        if self.used is not None:
            self.used.add(lookup(int.from_bytes(data, "little"), len(data)).mnemonic)
        if len(self.encoded) >= _BY_TEXT_SIZE:
            self.encoded.clear()
        self.encoded[key] = data
        return data

    def checked_encode(self, row, values: dict, ops: list[str]) -> int:
        """Encode with range checks that name the operand and the allowed range."""
        if not row.constraints:
            for name, value in values.items():
                if FIELDS[name].check(value) is not None:
                    break
            else:                   # every value fits: nothing to explain
                return encode(row, values, checked=True)
        texts = dict(zip(_operand_fields(row), ops))
        hint = _HINTS.get(row.mnemonic)
        if hint is not None and row.mnemonic == "c.addi" and values.get("c_nzimm6") == 0:
            values = {"c_rd": values["c_rd"], "c_imm6": 0}   # same bits; the HINT c.addi rd, 0
        for name, value in values.items():
            check_field(name, value, texts.get(name, ""))
        bad = constraint_violation(row, values)
        if bad and not (hint and bad in hint):
            field, _, limit = bad.partition("!=")
            if FIELDS[field].kind != "reg":
                raise StmtError(f"'{row.mnemonic}' needs a nonzero {field.replace('c_', '')}", texts.get(field, ""))
            reg = "x0" if limit == "0" else "sp"
            raise StmtError(f"'{row.mnemonic}' cannot use {reg} here", texts.get(field, ""))
        return encode(row, values, checked=True)

    def branch(self, st: Stmt, mnemonic: str, values: dict, may_compress: bool) -> None:
        """A branch or jump: its size is chosen at layout from the distance to its target."""
        target = values.pop("imm_b" if mnemonic != "jal" else "imm_j")
        if type(target) is int:
            target = ("n", target)
        elif "." in expr.symbols_in(target):
            here = self.new_hidden()       # ". + 8" means 8 bytes past this branch
            self.define_label(here, st)
            target = expr.replace_dot(target, here)
        if mnemonic == "jal":
            small = self.rvc and values["rd"] == 0 and may_compress
        else:
            small = self.rvc and mnemonic in ("beq", "bne") and values["rs2"] == 0 and 8 <= values["rs1"] <= 15
        self.current.add(Item(BRANCH, 2 if small else 4, st, mnemonic, values, target, small))

#: Compressed rows GNU as accepts with rd = x0 when written out: HINT encodings, which
#: execute as no-ops (the spec reserves them for future hints such as prefetches).
_HINTS = {m: ("c_rd!=0",) for m in ("c.addi", "c.li", "c.lui", "c.mv", "c.add", "c.slli")}


def _operand_fields(row) -> list[str]:
    out = []
    for tok in row.syntax:
        out.append(tok.split("(")[0] if "(" in tok and not tok.startswith("(") else tok.strip("()"))
    return out
