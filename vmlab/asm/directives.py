"""Directives: everything that starts with a dot.

Each handler takes ``(asm, stmt, stack)`` and may return a list of statements to run next
(``.rept`` and ``.irp`` do: their bodies, repeated).  Handlers are small and looked up in
:data:`DIRECTIVES` once per statement; GNU as's semantics are noted where they surprise.
"""
from __future__ import annotations

import itertools

from vmlab.asm import expr, macros
from vmlab.asm.errors import StmtError
from vmlab.asm.lexer import parse_string, split_operands
from vmlab.asm.limits import MAX_COUNT
from vmlab.asm.sections import ALIGN, DATA, Item

DIRECTIVES: dict = {}
CONDITIONALS: dict = {}


def directive(*names, table=DIRECTIVES):
    def register(fn):
        for n in names:
            table[n] = fn
        return fn
    return register


def _ops(st, lo=0, hi=99):
    ops = split_operands(st.args)
    if ops == [""]:
        ops = []
    if not lo <= len(ops) <= hi:
        want = str(lo) if lo == hi else f"{lo}..{hi}"
        raise StmtError(f"'{st.op}' takes {want} operand(s)", st.args)
    return ops


# --- sections -------------------------------------------------------------------------------
@directive(".text", ".data", ".bss", ".rodata")
def _simple_section(asm, st, stack):
    sub = _ops(st, 0, 1)
    if sub and asm.const(sub[0]) != 0:
        raise StmtError("subsections are not supported", st.args)
    asm.switch(asm.section(st.op))


def _section_args(asm, st):
    ops = _ops(st, 1, 4)
    name = ops[0].strip('"')
    flags = nobits = None
    if len(ops) > 1:
        flags = "".join(c for c in parse_string(ops[1]).decode() if c in "awx")
        if len(ops) > 2:
            kind = ops[2].lstrip("@%").lower()
            if kind not in ("progbits", "nobits"):
                raise StmtError("section type must be @progbits or @nobits", ops[2])
            nobits = kind == "nobits"
    sec = asm.section(name, flags, nobits)
    if flags is not None and sec.items and sec.flags != flags:
        raise StmtError(f"section '{name}' was declared with other flags", ops[1])
    if flags is not None:
        sec.flags = flags
    if nobits is not None:
        sec.nobits = nobits
    return sec


@directive(".section")
def _section(asm, st, stack):
    asm.switch(_section_args(asm, st))


@directive(".pushsection")
def _pushsection(asm, st, stack):
    sec = _section_args(asm, st)
    asm.section_stack.append((asm.current, asm.previous))
    asm.switch(sec)


@directive(".popsection")
def _popsection(asm, st, stack):
    if not asm.section_stack:
        raise StmtError(".popsection without .pushsection")
    asm.current, asm.previous = asm.section_stack.pop()


@directive(".previous")
def _previous(asm, st, stack):
    if asm.previous is None:
        raise StmtError(".previous without an earlier section")
    asm.switch(asm.previous)


# --- symbols --------------------------------------------------------------------------------
@directive(".globl", ".global")
def _globl(asm, st, stack):
    for name in _ops(st, 1):
        asm.symbol(name).binding = "global"


@directive(".weak")
def _weak(asm, st, stack):
    for name in _ops(st, 1):
        asm.symbol(name).binding = "weak"


@directive(".local")
def _local(asm, st, stack):
    for name in _ops(st, 1):
        asm.symbol(name).binding = "local"


@directive(".type")
def _type(asm, st, stack):
    name, kind = _ops(st, 2, 2)
    kind = kind.lstrip("@%\"").rstrip('"').lower()
    if kind not in ("function", "object", "notype"):
        raise StmtError("symbol type must be @function, @object or @notype", kind)
    asm.symbol(name).type = kind


@directive(".size")
def _size(asm, st, stack):
    name, size = _ops(st, 2, 2)
    tree = asm.parse(size)
    if "." in expr.symbols_in(tree):
        here = asm.new_hidden()
        asm.define_label(here, st)
        tree = expr.replace_dot(tree, here)
    asm.symbol(name).size = tree


@directive(".equ", ".set")
def _set(asm, st, stack):
    name, value = _ops(st, 2, 2)
    asm.assign(name, value, st)


@directive(".equiv")
def _equiv(asm, st, stack):
    name, value = _ops(st, 2, 2)
    asm.assign(name, value, st, once=True)


# --- data -----------------------------------------------------------------------------------
_WIDTH = {".byte": 1, ".half": 2, ".short": 2, ".hword": 2, ".2byte": 2, ".word": 4, ".long": 4,
          ".int": 4, ".4byte": 4, ".dword": 8, ".quad": 8, ".8byte": 8}


@directive(*_WIDTH)
def _data(asm, st, stack):
    width = _WIDTH[st.op]
    mask = (1 << (8 * width)) - 1
    known, later = bytearray(), []
    for text in _ops(st):          # (no operands: nothing, as in GNU as)
        value = asm.try_const(asm.parse(text))
        if later or type(value) is not int:
            later.append((width, ("n", value) if type(value) is int else value))
        else:
            _warn_truncation(asm, st, value, width, text)
            known += (value & mask).to_bytes(width, "little")
    if later:
        later = [(width, ("n", int.from_bytes(known[i:i + width], "little")))
                 for i in range(0, len(known), width)] + later
        asm.current.add(Item(DATA, width * len(later), st, later))
    else:
        _bytes(asm, st, bytes(known))


def _warn_truncation(asm, st, value: int, width: int, text: str) -> None:
    """GNU as's warnings for a constant too wide for its directive (the bytes are still
    written, truncated).  A value whose bits above ``width`` are all zeros or all ones (a
    sign extension: ``.byte -1``) fits; a "bignum" (2**64 or more) is reported as such."""
    if not -(1 << 64) < value < (1 << 64):
        plural = "s" if width > 1 else ""
        asm.warn(st, f"bignum truncated to {width} byte{plural}", text)
        return
    if width == 8:
        return
    get = value & ((1 << 64) - 1)
    high = get >> (8 * width)
    if high and high != (1 << (64 - 8 * width)) - 1:
        asm.warn(st, f"value {get:#x} truncated to {get & ((1 << (8 * width)) - 1):#x}", text)


def _bytes(asm, st, data: bytes):
    sec = asm.current
    if sec.nobits and any(data):
        raise StmtError(f"section {sec.name} holds no data (nobits): only zeros may go here")
    if data:
        sec.add_bytes(data, st.line)


@directive(".ascii", ".asciz", ".string")
def _ascii(asm, st, stack):
    zero = b"\0" if st.op != ".ascii" else b""
    _bytes(asm, st, b"".join(parse_string(s) + zero for s in _ops(st, 1)))


@directive(".zero")
def _zero(asm, st, stack):
    (count,) = _ops(st, 1, 1)
    _bytes(asm, st, bytes(_count(asm, count)))


@directive(".skip", ".space")
def _skip(asm, st, stack):
    ops = _ops(st, 1, 2)
    fill = asm.const(ops[1]) & 0xFF if len(ops) > 1 else 0
    _bytes(asm, st, bytes([fill]) * _count(asm, ops[0]))


@directive(".fill")
def _fill(asm, st, stack):
    """``.fill repeat, size, value``: ``repeat`` copies of ``value`` in ``size`` bytes
    (GNU as keeps at most 4 bytes of value; a wider size gets zero upper bytes)."""
    ops = _ops(st, 1, 3)
    repeat = _count(asm, ops[0], "repetitions")
    size = asm.const(ops[1]) if len(ops) > 1 else 1
    value = asm.const(ops[2]) if len(ops) > 2 else 0
    if not 0 <= size <= 8:
        raise StmtError(f".fill size {size} out of range: allowed 0..8", ops[1])
    one = (value & 0xFFFFFFFF).to_bytes(8, "little")[:size]
    asm.check_size(repeat * size, ops[0])
    _bytes(asm, st, one * repeat)


def _count(asm, text, what: str = "bytes"):
    """A size or repetition count: a typo like ``.skip 0x8000000000`` must be an error
    message, not an exhausted machine (see :mod:`vmlab.asm.limits`)."""
    n = asm.const(text)
    if not 0 <= n <= MAX_COUNT:
        raise StmtError(f"count {n} out of range: allowed 0..{MAX_COUNT}", text)
    if what == "bytes":
        asm.check_size(n, text)
    return n


@directive(".uleb128", ".sleb128")
def _leb128(asm, st, stack):
    """Variable-length numbers (DWARF's encoding): 7 bits per byte, high bit = "more"."""
    out = bytearray()
    for text in _ops(st, 1):
        v = asm.const(text)
        if st.op == ".uleb128":
            v &= (1 << 64) - 1
        while True:
            byte = v & 0x7F
            v >>= 7
            done = v == 0 if st.op == ".uleb128" else (v == 0 and not byte & 0x40) or (v == -1 and byte & 0x40)
            out.append(byte | (0 if done else 0x80))
            if done:
                break
    _bytes(asm, st, bytes(out))


@directive(".org")
def _org(asm, st, stack):
    """``.org offset[, fill]``: continue at this offset from the start of the section."""
    ops = _ops(st, 1, 2)
    target = _count(asm, ops[0])
    fill = asm.const(ops[1]) & 0xFF if len(ops) > 1 else 0
    asm.current.add(Item(ALIGN, 0, st, None, fill, target))


@directive(".incbin")
def _incbin(asm, st, stack):
    ops = _ops(st, 1, 3)
    data = _read(asm, parse_string(ops[0]).decode(), binary=True)
    asm.check_size(len(data), ops[0])
    skip = asm.const(ops[1]) if len(ops) > 1 else 0
    count = asm.const(ops[2]) if len(ops) > 2 else len(data) - skip
    _bytes(asm, st, data[skip:skip + count])


@directive(".include")
def _include(asm, st, stack):
    from vmlab.asm.lexer import split_statements
    name = parse_string(st.args).decode()
    return split_statements(_read(asm, name, binary=False), name)


def _read(asm, name: str, binary: bool):
    """A file named by ``.include``/``.incbin``: relative to the source file's directory."""
    import os
    base = os.path.dirname(asm.filename) if not asm.filename.startswith("<") else ""
    path = os.path.join(base, name)
    try:
        with open(path, "rb" if binary else "r") as f:
            return f.read()
    except OSError as exc:
        raise StmtError(f"cannot read '{name}': {exc.strerror}", name) from None


# --- alignment ------------------------------------------------------------------------------
@directive(".align", ".p2align", ".balign")
def _align(asm, st, stack):
    """``.align n`` means 2**n bytes on RISC-V (as ``.p2align``); ``.balign n`` means n bytes.

    With no fill given, code sections pad with nops so the padding can be executed.
    """
    ops = _ops(st, 1, 3)
    n = asm.const(ops[0])
    if st.op == ".balign":
        if n <= 0 or n & (n - 1) or n > 1 << 16:
            raise StmtError(f"alignment {n} is not a power of 2 up to 65536", ops[0])
        size = n
    else:
        if not 0 <= n <= 16:
            raise StmtError(f"alignment 2**{n} out of range: allowed 0..16", ops[0])
        size = 1 << n
    fill = asm.const(ops[1]) if len(ops) > 1 and ops[1] else None
    limit = asm.const(ops[2]) if len(ops) > 2 and ops[2] else None
    sec = asm.current
    sec.align = max(sec.align, size)
    if sec.code and fill is None and size <= (2 if asm.rvc else 4):
        return  # GNU as: instructions are already this aligned, so it pads nothing here
    if size > 1:
        sec.add(Item(ALIGN, 0, st, size, fill, limit))


# --- options --------------------------------------------------------------------------------
@directive(".option")
def _option(asm, st, stack):
    ops = _ops(st, 1, 9)
    opt = ops[0].lower()
    if opt == "arch":
        return _option_arch(asm, [o.strip().lower() for o in ops[1:]])
    if opt == "rvc":
        if not asm.has_c:
            raise StmtError(".option rvc needs the C extension in -march", opt)
        asm.rvc = True
    elif opt == "norvc":
        asm.rvc = False
    elif opt == "push":
        asm.option_stack.append(asm.rvc)
    elif opt == "pop":
        if not asm.option_stack:
            raise StmtError(".option pop without .option push", opt)
        asm.rvc = asm.option_stack.pop()
    elif opt == "pic":
        raise StmtError(".option pic is not supported: vmlab links at a fixed address (no GOT)", opt)
    elif opt not in ("relax", "norelax", "nopic", "arch", "csr-check", "no-csr-check"):
        raise StmtError(f"unknown option '{opt}'", opt)


def _option_arch(asm, changes: list[str]) -> None:
    """``.option arch, +c`` / ``-c`` / ``rv64imac``: only the C extension changes our output."""
    for change in changes:
        if change in ("+c", "-c") or change.startswith("rv64"):
            on = change == "+c" or (change.startswith("rv64") and "c" in change.split("_")[0][4:])
            if on and not asm.has_c:
                raise StmtError("the C extension cannot be turned on: -march has no 'c'", change)
            asm.rvc = on


# --- things GNU as accepts that do not change the bytes -------------------------------------
_IGNORED = (".file", ".ident", ".attribute", ".section_note", ".loc", ".addrsig", ".addrsig_sym",
            ".hidden", ".protected", ".internal", ".extern", ".cfi_startproc", ".cfi_endproc",
            ".cfi_def_cfa_offset", ".cfi_adjust_cfa_offset", ".cfi_offset", ".cfi_rel_offset",
            ".cfi_restore", ".cfi_def_cfa", ".cfi_def_cfa_register", ".cfi_sections",
            ".cfi_remember_state", ".cfi_restore_state", ".cfi_register", ".cfi_undefined",
            ".cfi_same_value", ".cfi_escape", ".cfi_signal_frame", ".cfi_return_column")


@directive(*_IGNORED)
def _ignored(asm, st, stack):
    """Debug information and linker hints: they do not change a linked program's bytes."""


@directive(".end")
def _end(asm, st, stack):
    asm.stopped = True


@directive(".error")
def _error(asm, st, stack):
    raise StmtError(parse_string(st.args).decode() if st.args else ".error", st.args)


# --- blocks: macros, repetition -------------------------------------------------------------
@directive(".macro")
def _macro(asm, st, stack):
    macros.define(asm, st, stack[-1])


@directive(".endm", ".endr")
def _stray_end(asm, st, stack):
    raise StmtError(f"'{st.op}' without a matching block start", st.op)


@directive(".rept")
def _rept(asm, st, stack):
    count = _count(asm, st.args, "repetitions")
    body = macros.collect(st, stack[-1], ".endr")
    # lazily: the statement budget (not the memory for count copies) bounds a huge count
    return itertools.chain.from_iterable(itertools.repeat(body, count))


@directive(".irp", ".irpc")
def _irp(asm, st, stack):
    return macros.irp(asm, st, stack[-1])


@directive(".exitm")
def _exitm(asm, st, stack):
    stack[-1] = iter(())


@directive(".purgem")
def _purgem(asm, st, stack):
    asm.macros.pop(st.args.strip().lower(), None)


# --- conditionals ---------------------------------------------------------------------------
def _push_cond(asm, value: bool):
    parent = not asm.conds or asm.conds[-1][0]
    asm.conds.append([parent and value, value, parent])


@directive(".if", ".ifne", table=CONDITIONALS)
def _if(asm, st):
    if asm.conds and not asm.conds[-1][0]:
        return _push_cond(asm, False)
    _push_cond(asm, asm.const(st.args) != 0)


@directive(".ifeq", table=CONDITIONALS)
def _ifeq(asm, st):
    if asm.conds and not asm.conds[-1][0]:
        return _push_cond(asm, False)
    _push_cond(asm, asm.const(st.args) == 0)


@directive(".ifdef", ".ifndef", ".ifnotdef", table=CONDITIONALS)
def _ifdef(asm, st):
    if asm.conds and not asm.conds[-1][0]:
        return _push_cond(asm, False)
    sym = asm.symbols.get(st.args.strip())
    defined = sym is not None and (sym.is_label or sym.value is not None or sym.tree is not None)
    _push_cond(asm, defined if st.op == ".ifdef" else not defined)


@directive(".ifc", ".ifnc", table=CONDITIONALS)
def _ifc(asm, st):
    if asm.conds and not asm.conds[-1][0]:
        return _push_cond(asm, False)
    ops = split_operands(st.args)
    if len(ops) != 2:
        raise StmtError(f"'{st.op}' compares two strings: {st.op} a, b", st.args)
    a, b = (s.strip().strip("'") for s in ops)
    _push_cond(asm, (a == b) == (st.op == ".ifc"))


@directive(".ifb", ".ifnb", table=CONDITIONALS)
def _ifb(asm, st):
    if asm.conds and not asm.conds[-1][0]:
        return _push_cond(asm, False)
    _push_cond(asm, (not st.args.strip()) == (st.op == ".ifb"))


@directive(".elseif", table=CONDITIONALS)
def _elseif(asm, st):
    top = _top(asm, st)
    if top[1] or not top[2]:
        top[0] = False
    else:
        value = asm.const(st.args) != 0
        top[0], top[1] = value, value


@directive(".else", table=CONDITIONALS)
def _else(asm, st):
    top = _top(asm, st)
    top[0] = top[2] and not top[1]
    top[1] = True


@directive(".endif", table=CONDITIONALS)
def _endif(asm, st):
    _top(asm, st)
    asm.conds.pop()


def _top(asm, st):
    if not asm.conds:
        raise StmtError(f"'{st.op}' without .if", st.op)
    return asm.conds[-1]

