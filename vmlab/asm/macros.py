"""Macros and repetition: ``.macro``/``.endm``, ``.rept``/``.endr``, ``.irp``/``.irpc``.

A block's body is kept as statements.  Expanding a macro substitutes ``\\arg`` with the
argument text (``\\()`` glues text, ``\\@`` counts expansions so each can have unique
labels), and the result is lexed again -- so a macro can build any statement, including
labels and directives, just as in GNU as.
"""
from __future__ import annotations

import re

from vmlab.asm.errors import StmtError
from vmlab.asm.lexer import parse_statement, split_operands
from vmlab.asm.limits import MAX_STATEMENT_CHARS

_ESCAPE = re.compile(r"\\(\(\)|@|[A-Za-z_.$][\w.$]*)")
_OPENERS = {".macro": ".endm", ".rept": ".endr", ".irp": ".endr", ".irpc": ".endr"}


def stmt_text(st) -> str:
    """A statement's text as written, for substitution."""
    return st.text


def collect(start, it, end: str) -> list:
    """Statements up to the ``end`` that closes ``start`` (nested blocks included)."""
    body, depth = [], 1
    for st in it:
        if st.op in _OPENERS:
            depth += 1
        elif st.op in (".endm", ".endr"):
            depth -= 1
            if depth == 0:
                if st.op != end:
                    raise StmtError(f"'{st.op}' closes a block opened with '{start.op}'", st.op)
                return body
        body.append(st)
    raise StmtError(f"'{start.op}' without '{end}'", start.op)


class Macro:
    """A macro definition: parameter names with defaults, and the body statements."""

    def __init__(self, name, params, body):
        self.name, self.params, self.body = name, params, body


_OPERATOR_CHARS = frozenset("+-*/%<>&|^!=")


def _split_args(text: str) -> list[str]:
    """Macro arguments: separated by commas, or by blanks when there is no comma.

    As in GNU as, a blank does not separate inside parentheses or next to an operator:
    ``m 1 + 2`` passes one argument, ``1 + 2``; ``m 3 4`` passes two.
    """
    text = text.strip()
    if not text:
        return []
    if "," in text:
        return split_operands(text)
    out, start, depth = [], 0, 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if c in " \t" and depth == 0 and text[start:i].strip():
            before = text[:i].rstrip()[-1:]
            after = text[i:].lstrip()[:1]
            if before not in _OPERATOR_CHARS and after not in _OPERATOR_CHARS:
                out.append(text[start:i].strip())
                start = i
    out.append(text[start:].strip())
    return [a for a in out if a]


def define(asm, st, it) -> None:
    """``.macro name a, b=1, c:req, d:vararg`` (commas or blanks between parameters)."""
    text = re.sub(r"\s*=\s*", "=", st.args.strip())
    parts = text.replace(",", " ").split()
    if not parts:
        raise StmtError(".macro needs a name", st.args)
    params = []
    for p in parts[1:]:
        pname, _, default = p.partition("=")
        pname, _, qual = pname.partition(":")
        params.append((pname, default, qual))
    body = collect(st, it, ".endm")
    asm.macros[parts[0].lower()] = Macro(parts[0].lower(), params, body)


def _bind(macro, st) -> dict[str, str]:
    args = _split_args(st.args)
    values, positional = {}, []
    for a in args:
        key, eq, val = a.partition("=")
        if eq and key.strip() in {p[0] for p in macro.params}:
            values[key.strip()] = val.strip()
        else:
            positional.append(a)
    for i, (pname, default, qual) in enumerate(macro.params):
        if pname in values:
            continue
        if qual == "vararg":
            values[pname] = ", ".join(positional[i:])
            positional = positional[:i]
            continue
        if i < len(positional):
            values[pname] = positional[i] or default     # an empty argument takes the default
        elif qual == "req":
            raise StmtError(f"macro '{macro.name}' needs a value for '{pname}'", st.op)
        else:
            values[pname] = default
    if len(positional) > len(macro.params):
        raise StmtError(f"macro '{macro.name}' takes {len(macro.params)} argument(s), got {len(positional)}",
                        st.args)
    return values


def substitute(body, values: dict[str, str], serial: int, st, origin: str | None) -> list:
    """Body statements with ``\\name`` replaced and lexed again.

    Where do the new statements "come from"?  A macro's body was written elsewhere, so its
    statements take the invoking line (errors and the line map point where the student
    called it).  An ``.irp`` body sits right there in the file, so it keeps its own lines.
    """
    def repl(m):
        key = m.group(1)
        if key == "()":
            return ""
        if key == "@":
            return str(serial)
        return values.get(key, m.group(0))

    out = []
    for b in body:
        text = _ESCAPE.sub(repl, stmt_text(b))
        if len(text) > MAX_STATEMENT_CHARS:
            raise StmtError(f"a statement expanded from '{origin or st.op}' is longer than "
                            f"{MAX_STATEMENT_CHARS} characters (an argument that grows each call?)",
                            st.op)
        where = st if origin is not None else b
        for piece in text.split(";"):
            new = parse_statement(piece, 0, piece, where.file, where.line, origin)
            if new is not None:
                new.src, new.col = where.src, where.col
                out.append(new)
    return out


def expand(asm, macro, st) -> list:
    asm.macro_serial += 1
    return substitute(macro.body, _bind(macro, st), asm.macro_serial - 1, st, macro.name)


def irp(asm, st, it) -> list:
    """``.irp name, a, b`` repeats the body once per value; ``.irpc name, abc`` per character."""
    name, _, rest = st.args.partition(",")
    name = name.strip()
    if not name:
        raise StmtError(f"'{st.op}' needs a parameter name", st.args)
    body = collect(st, it, ".endr")
    if st.op == ".irp":
        values = _split_args(rest) or [""]
    else:
        values = list(rest.strip()) or [""]
    out = []
    for v in values:
        out += substitute(body, {name: v}, asm.macro_serial, st, None)
    return out
