"""Lexing: source text to statements.

GNU as reads a file as *statements*: a line holds one or more of them separated by ``;``,
each optionally preceded by labels (``loop:``, ``1:``) and followed by a mnemonic or
directive with its operands.  ``#`` starts a comment that runs to the end of the line,
``/* ... */`` comments may span lines.  Quotes protect all of these characters.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_LABEL = re.compile(r"\s*([A-Za-z_.$][\w.$]*|[0-9]+)\s*:(?!=)")
_OP = re.compile(r"\s*([A-Za-z_.$][\w.$]*)")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)


@dataclass(slots=True)
class Stmt:
    """One statement: labels defined before it, its op (lower case) and operand text.

    ``src`` is the whole source line and ``col`` the 1-based column where ``args`` starts,
    so that an error can point into the line the user wrote.
    """

    file: str
    line: int
    labels: list
    op: str
    args: str
    src: str
    col: int
    #: name of the macro this statement came from (None for the user's own lines)
    origin: str | None = None
    #: the statement as written (labels included), for macro substitution
    text: str = ""


def _strip_block_comments(source: str) -> str:
    """Blank out ``/* */`` comments but keep their newlines, so line numbers stay right."""
    if "/*" not in source:
        return source
    return _BLOCK_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def _split_line(line: str) -> list[tuple[int, str]]:
    """Cut a line at ``;`` and ``#`` (outside quotes) into (start column, text) pieces."""
    if '"' not in line and "'" not in line:
        line = line.split("#", 1)[0]
        if ";" not in line:
            return [(0, line)]
        out, start = [], 0
        for piece in line.split(";"):
            out.append((start, piece))
            start += len(piece) + 1
        return out
    out, start, i, n = [], 0, 0, len(line)
    while i < n:
        c = line[i]
        if c == '"' or c == "'":
            i = _skip_literal(line, i) - 1
        elif c == ";":
            out.append((start, line[start:i]))
            start = i + 1
        elif c == "#":
            n = i
            break
        i += 1
    out.append((start, line[start:n]))
    return out


def _skip_literal(text: str, i: int) -> int:
    """Index just past the string (``"..."``) or character constant starting at ``text[i]``,
    so that the ``;``, ``#`` and ``,`` inside it split nothing."""
    if text[i] == "'":
        return _skip_char_constant(text, i)
    i += 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _skip_char_constant(text: str, i: int) -> int:
    """Index just past the character constant starting at ``text[i] == "'"``.

    GNU as writes one character as ``'c`` or ``'c'``, with C escapes (``'\\n'``); the
    character may itself be ``;``, ``#`` or ``,``, which must not split the statement.
    """
    i += 1
    if i < len(text) and text[i] == "\\":
        i += 1
    i += 1
    if i < len(text) and text[i] == "'":
        i += 1
    return i


def _lines(text: str) -> Iterator[str]:
    """``text.split("\\n")``, one line at a time (no list of a million lines at once)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def split_statements(source: str, filename: str, first_line: int = 1,
                     origin=None) -> Iterator[Stmt]:
    """The statements of ``source`` in order, with their positions.

    A generator: the assembler consumes statements one at a time, so a million-line source
    never holds a million statement objects at once.
    """
    for lineno, line in enumerate(_lines(_strip_block_comments(source)), first_line):
        for start, text in _split_line(line):
            st = parse_statement(text, start, line, filename, lineno, origin)
            if st is not None:
                yield st


def parse_statement(text, start, line, filename, lineno, origin=None) -> Stmt | None:
    """Labels, op and operands of one statement's text (None for an empty one)."""
    labels, pos = [], 0
    while ":" in text:              # (most lines have no label: skip the search)
        m = _LABEL.match(text, pos)
        if m is None:
            break
        labels.append(m.group(1))
        pos = m.end()
    m = _OP.match(text, pos)
    if m is None:
        if text[pos:].strip():
            # e.g. "=" assignments are handled by the caller through "sym = expr"
            return Stmt(filename, lineno, labels, "", text[pos:].strip(), line, start + pos + 1, origin, text)
        return Stmt(filename, lineno, labels, "", "", line, start + 1, origin, text) if labels else None
    op = m.group(1)
    args = text[m.end():]
    stripped = args.lstrip()
    col = start + m.end() + (len(args) - len(stripped)) + 1
    if stripped.startswith("=") and not stripped.startswith("=="):
        # "name = expr" is GNU shorthand for ".set name, expr"
        return Stmt(filename, lineno, labels, ".set", f"{op}, {stripped[1:]}", line, col, origin, text)
    return Stmt(filename, lineno, labels, op.lower(), stripped.rstrip(), line, col, origin, text)


def split_operands(args: str) -> list[str]:
    """Operands separated by top-level commas (not inside parentheses or quotes)."""
    if not args:
        return []
    if "(" not in args and '"' not in args and "'" not in args:
        return [a.strip() for a in args.split(",")]
    out, depth, start, i, n = [], 0, 0, 0, len(args)
    while i < n:
        c = args[i]
        if c == '"' or c == "'":
            i = _skip_literal(args, i) - 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
        i += 1
    out.append(args[start:].strip())
    return out


def parse_string(text: str) -> bytes:
    """The bytes of one ``"..."`` literal with C escapes (octal, hex, \\n ...)."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        from vmlab.asm.errors import StmtError
        raise StmtError("expected a string in double quotes", text)
    out = bytearray()
    body, i, n = text[1:-1], 0, len(text) - 2
    simple = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "a": 7, "\\": 92, '"': 34, "'": 39, "e": 27}
    while i < n:
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        i += 1
        c = body[i] if i < n else "\\"
        if c in "01234567":
            j = i
            while j < n and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xFF)
            i = j
        elif c in "xX":
            j = i + 1
            while j < n and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 1:j] or "0", 16) & 0xFF)
            i = j
        else:
            out.append(simple.get(c, ord(c)))
            i += 1
    return bytes(out)
