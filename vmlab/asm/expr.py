"""Expressions: GNU as syntax and semantics over 64-bit integers.

GNU as groups binary operators into fewer precedence levels than C does, and students meet
this when ``1 + 1 & 2`` gives 1, not 2.  From loosest to tightest (measured against
``riscv64-unknown-elf-as``):

====  ==================================  ===================================
 1    ``||``                              logical or (result 0 or 1)
 2    ``&&``                              logical and
 3    ``== != <> < <= > >=``              comparisons (true is -1, as in GNU as)
 4    ``+ -``
 5    ``| & ^ !``                         ``a ! b`` is ``a | ~b`` (or-not)
 6    ``* / % << >>``                     ``>>`` is a logical shift of 64 bits
====  ==================================  ===================================

Operators of one level associate to the left.  Unary ``- ~ !`` and ``+`` bind tightest.
Relocation operators ``%hi(e) %lo(e) %pcrel_hi(e) %pcrel_lo(label)`` read like functions.
Numbers may carry C's integer suffixes (``1UL``, ``(1L << 38)``, ``0x10ull``), as GNU as allows
so that C headers' constants can be shared with assembly; they change nothing.

An expression is parsed once into a small tree of tuples and evaluated later, because a
label's address is only known after layout.  Trees:
``("n", value)``, ``("s", name)``, ``("u", op, a)``, ``("b", op, a, b)``, ``("r", reloc, a)``.
"""
from __future__ import annotations

import re

from vmlab.asm.errors import StmtError
from vmlab.asm.limits import MAX_NUMBER_CHARS

MASK64 = (1 << 64) - 1

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)(?:(?P<local>[bfBF])|[uU]?[lL]{0,2})(?![\w.$])
    | (?P<sym>[A-Za-z_.$][\w.$]*)
    | %(?P<rel>hi|lo|pcrel_hi|pcrel_lo)\b
    | '(?P<chr>\\.|.)'?
    | (?P<op><<|>>|\|\||&&|==|!=|<>|<=|>=|[-+*/%&|^!~<>()])
    )""", re.X)

#: binary operator -> precedence level (higher binds tighter)
_LEVEL = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<>": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
          "+": 4, "-": 4, "|": 5, "&": 5, "^": 5, "!": 5,
          "*": 6, "/": 6, "%": 6, "<<": 6, ">>": 6}

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "b": 8, "f": 12}


class Unresolved(Exception):
    """Evaluation needs a symbol whose value is not known (yet)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _tokens(text: str) -> list[tuple[str, object]]:
    """Split ``text`` into (kind, value) tokens; kinds: num, local, sym, rel, op."""
    out = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].strip()
            if not rest:
                break
            raise StmtError(f"cannot parse expression near '{rest[:1]}'", text.strip())
        pos = m.end()
        if m["num"] is not None:
            digits = m["num"]
            if len(digits) > MAX_NUMBER_CHARS:
                raise StmtError(f"unsupported large constant (a number of {len(digits)} digits)",
                                text.strip()[:40])
            if m["local"]:
                out.append(("local", digits + m["local"].lower()))
                continue
            if digits[:2] in ("0x", "0X", "0b", "0B"):
                value = int(digits, 0)
            elif len(digits) > 1 and digits[0] == "0":
                try:
                    value = int(digits, 8)   # GNU as reads a leading 0 as octal
                except ValueError:
                    raise StmtError("bad octal number", digits) from None
            else:
                value = int(digits)
            out.append(("num", value))
        elif m["sym"] is not None:
            out.append(("sym", m["sym"]))
        elif m["rel"] is not None:
            out.append(("rel", m["rel"]))
        elif m["chr"] is not None:
            c = m["chr"]
            out.append(("num", _ESCAPES.get(c[1], ord(c[1])) if c[0] == "\\" and len(c) > 1 else ord(c)))
        else:
            out.append(("op", m["op"]))
    return out


class _Parser:
    """Precedence climbing over the token list; ``local`` maps ``1b``/``1f`` to names."""

    def __init__(self, text, tokens, local):
        self.text, self.toks, self.i, self.local = text, tokens, 0, local
        self.saw_local = False
        self.in_rel = False

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, op):
        kind, value = self.take()
        if kind != "op" or value != op:
            raise StmtError(f"expected '{op}' in expression", self.text.strip())

    def binary(self, level):
        left = self.unary()
        while True:
            kind, op = self.peek()
            if kind != "op" or _LEVEL.get(op, 0) < level:
                return left
            self.i += 1
            right = self.binary(_LEVEL[op] + 1)
            left = ("b", op, left, right)

    def unary(self):
        kind, value = self.take()
        if kind == "num":
            return ("n", value)
        if kind == "sym":
            return ("s", value)
        if kind == "local":
            self.saw_local = True
            return ("s", self.local(value) if self.local else value)
        if kind == "rel":
            if self.in_rel:
                raise StmtError(f"%{value} inside another relocation operator", self.text.strip())
            self.in_rel = True
            self.expect("(")
            inner = self.binary(1)
            self.expect(")")
            self.in_rel = False
            return ("r", value, inner)
        if kind == "op":
            if value == "(":
                inner = self.binary(1)
                self.expect(")")
                return inner
            if value in "-~!+":
                operand = self.unary()
                if operand[0] == "n":
                    return ("n", apply_unary(value, operand[1]))
                return ("u", value, operand)
        raise StmtError("missing or bad operand in expression", self.text.strip())


def parse(text: str, local=None):
    """Parse ``text`` into an expression tree; ``local("1b")`` names numeric local labels."""
    return parse_ex(text, local)[0]


def parse_ex(text: str, local=None):
    """``(tree, mentions_local_label)``: trees naming ``1b``/``1f`` depend on where they
    are read, so the caller must not cache them."""
    p = _Parser(text, _tokens(text), local)
    if not p.toks:
        raise StmtError("missing expression", text)
    try:
        tree = p.binary(1)
    except RecursionError:
        raise StmtError("expression nested too deeply", text.strip()[:40]) from None
    if p.i != len(p.toks):
        raise StmtError("junk at end of expression", text.strip())
    return tree, p.saw_local


def signed64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def apply_unary(op: str, a: int) -> int:
    if op == "-":
        return signed64(-a)
    if op == "~":
        return signed64(~a)
    if op == "!":
        return int(a == 0)
    return a


def apply_binary(op: str, a: int, b: int) -> int:
    """One GNU as binary operation on signed 64-bit values."""
    if op == "+":
        return signed64(a + b)
    if op == "-":
        return signed64(a - b)
    if op == "*":
        return signed64(a * b)
    if op in ("/", "%"):
        if b == 0:
            raise StmtError("division by zero")
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)   # C truncates toward zero
        return signed64(q if op == "/" else a - q * b)
    if op == "<<":
        return signed64(a << b) if 0 <= b < 64 else 0
    if op == ">>":
        return signed64((a & MASK64) >> b) if 0 <= b < 64 else 0
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "!":
        return signed64(a | ~b)
    if op == "&&":
        return int(bool(a) and bool(b))
    if op == "||":
        return int(bool(a) or bool(b))
    truth = {"==": a == b, "!=": a != b, "<>": a != b, "<": a < b, "<=": a <= b,
             ">": a > b, ">=": a >= b}[op]
    return -1 if truth else 0


def evaluate(tree, resolve, reloc=None) -> int:
    """Value of ``tree``; ``resolve(name)`` gives symbols, ``reloc(op, tree)`` handles %hi...

    ``resolve`` raises :class:`Unresolved` for symbols not known yet.
    """
    kind = tree[0]
    if kind == "n":
        return tree[1]
    if kind == "s":
        return resolve(tree[1])
    if kind == "b":
        return apply_binary(tree[1], evaluate(tree[2], resolve, reloc), evaluate(tree[3], resolve, reloc))
    if kind == "u":
        return apply_unary(tree[1], evaluate(tree[2], resolve, reloc))
    if reloc is None:
        raise StmtError(f"%{tree[1]} is only allowed in instruction operands")
    return reloc(tree[1], tree[2])


def linear(tree, resolve, reloc):
    """Evaluate ``tree`` as ``(constant, {anchor: coefficient})``.

    During pass one a label's address is unknown, but its distance from the last item of
    unknown size is known: ``resolve`` gives a label as ``(offset, {anchor: 1})``.  Sums and
    differences of such forms stay exact, so ``. - msg`` is ``(5, {})``: a constant.  Any
    other operation on an address raises :class:`Unresolved` (it must wait for layout).
    """
    kind = tree[0]
    if kind == "n":
        return tree[1], {}
    if kind == "s":
        return resolve(tree[1])
    if kind == "r":
        return reloc(tree[1], tree[2]), {}
    if kind == "u":
        k, terms = linear(tree[2], resolve, reloc)
        if tree[1] == "-":
            return apply_unary("-", k), {a: -c for a, c in terms.items()}
        if terms and tree[1] != "+":
            raise Unresolved(symbols_in(tree)[0])
        return apply_unary(tree[1], k), terms
    op = tree[1]
    k1, t1 = linear(tree[2], resolve, reloc)
    k2, t2 = linear(tree[3], resolve, reloc)
    if op in ("+", "-"):
        terms = dict(t1)
        for a, c in t2.items():
            terms[a] = terms.get(a, 0) + (c if op == "+" else -c)
        return apply_binary(op, k1, k2), {a: c for a, c in terms.items() if c}
    if t1 or t2:
        raise Unresolved(symbols_in(tree)[0])
    return apply_binary(op, k1, k2), {}


def symbols_in(tree) -> list[str]:
    """Names of all symbols a tree mentions (for "undefined symbol" messages)."""
    if tree[0] == "s":
        return [tree[1]]
    if tree[0] == "n":
        return []
    return [n for sub in tree[2:] for n in symbols_in(sub)]


def replace_dot(tree, name: str):
    """``tree`` with every ``.`` (the location counter) replaced by symbol ``name``.

    ``.`` means "here", where the statement is; a tree evaluated later must keep that
    meaning, so callers pin "here" with a hidden label first.
    """
    if tree[0] == "s":
        return ("s", name) if tree[1] == "." else tree
    if tree[0] == "n":
        return tree
    return tree[:2] + tuple(replace_dot(t, name) for t in tree[2:])
