"""Layout and pass two: place the sections, then write every item's bytes.

By now every statement is an item (see ``sections.py``) and every symbol is known by the
item it labels.  :meth:`PassTwo.layout` fixes sizes and addresses; :meth:`PassTwo.emit`
evaluates what pass one could not (label addresses, ``%pcrel_lo`` ...) and encodes it.
These methods complete :class:`vmlab.asm.assembler.Assembler`, which inherits them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from vmlab.asm import expr
from vmlab.asm.encoder import PC_RELATIVE, check_field, encode
from vmlab.asm.errors import Diagnostic, StmtError
from vmlab.asm.layout import padding_bytes, relax
from vmlab.asm.lexer import split_operands
from vmlab.asm.program import LineMap
from vmlab.asm.sections import ALIGN, BYTES, DATA, INSN, Item, Section
from vmlab.isa import BY_MNEMONIC, lookup

if TYPE_CHECKING:
    from vmlab.asm.assembler import Symbol

_INVERT = {"beq": "bne", "bne": "beq", "blt": "bge", "bge": "blt", "bltu": "bgeu", "bgeu": "bltu"}


class PassTwo:
    """Layout and byte emission for an :class:`~vmlab.asm.assembler.Assembler`."""

    # --- layout -----------------------------------------------------------------------------
    def layout(self, base: int) -> None:
        for sec in self.order:
            if sec.code:
                sec.align = max(sec.align, 2 if self.has_c else 4)
            if sec.align > 1 and sec.code:
                # GNU as pads the end of a code section to its alignment (with nops)
                sec.items.append(Item(ALIGN, 0, None, sec.align, None, None))
            self._relax_section = sec
            relax(sec, self.branch_target_offset)
        used = [s for s in self.order if s.items or s.name == ".text"]
        start = self.symbols.get("_start")
        first = start.section if start is not None and start.is_label else None
        rank = {id(s): i for i, s in enumerate(used)}

        def key(s):
            cls = 0 if s is first else (1 if s.code else 2 if "w" not in s.flags and not s.nobits
                                        else 3 if not s.nobits else 4)
            return cls if "a" in s.flags else 5, rank[id(s)]
        addr = base
        self.placed = sorted(used, key=key)
        for i, s in enumerate(self.placed):
            if "a" not in s.flags:
                s.addr = 0      # not loaded (".section foo" without "a", as in GNU as): no address
                continue
            # sections after the first start on 8-byte boundaries, so data is aligned
            align = max(s.align, 1 if i == 0 else 8)
            addr = -(-addr // align) * align
            s.addr = addr
            addr += s.size

    def fits_address_space(self, base: int) -> bool:
        """Whether every loaded section ends at or below 2**64 (an address never wraps
        around); each one that does not is reported."""
        fits = True
        for s in self.placed:
            if "a" in s.flags and s.addr + s.size > 1 << 64:
                fits = False
                self.diagnostics.append(Diagnostic(
                    self.filename, 0, 0, "", f"section {s.name} would end at {s.addr + s.size:#x}, "
                    f"past the top of the 64-bit address space (base {base:#x})"))
        return fits

    def branch_target_offset(self, item: Item, offsets: list[int]):
        """Offset of a branch's target in the branch's own section, or None (see relax)."""
        tree = item.c
        add = 0
        if tree[0] == "b" and tree[1] in "+-" and tree[3][0] == "n" and tree[2][0] == "s":
            add = tree[3][1] if tree[1] == "+" else -tree[3][1]
            tree = tree[2]
        if tree[0] != "s":
            return None
        sym = self.symbols.get(tree[1])
        if sym is None or not sym.is_label or sym.binding == "weak" or sym.section is not self._relax_section:
            return None
        return offsets[sym.index] + add

    # --- pass two ---------------------------------------------------------------------------
    def address(self, sym: Symbol) -> int:
        return sym.section.addr + sym.section.offsets[sym.index]

    def resolve_final(self, name: str, depth: int = 0) -> int:
        if name == ".":
            return self.pc
        sym = self.symbols.get(name)
        if sym is None:
            raise expr.Unresolved(name)
        if self.weak_undefined(name):
            return 0            # an undefined weak symbol is 0, as the linker makes it
        if sym.is_label:
            return self.address(sym)
        if sym.value is not None:
            return sym.value
        if sym.tree is None:
            raise expr.Unresolved(name)
        if depth > 100:
            raise StmtError(f"symbol '{name}' is defined in terms of itself", name)
        return expr.evaluate(sym.tree, lambda n: self.resolve_final(n, depth + 1), self.reloc_final)

    def reloc_final(self, op: str, tree) -> int:
        if op == "pcrel_lo":
            label = expr.evaluate(tree, self.resolve_final, self.reloc_final)
            hi = self.pcrel_hi_at.get(label)
            if hi is None:
                raise StmtError("%pcrel_lo needs a label on an auipc with %pcrel_hi", "%pcrel_lo")
            target_tree, at = hi
            saved, self.pc = self.pc, at
            try:
                offset = self.pcrel_offset(target_tree)
            finally:
                self.pc = saved
            return reloc_value("lo", offset)
        if op == "pcrel_hi":
            return reloc_value("hi", self.pcrel_offset(tree))
        return reloc_value(op, expr.evaluate(tree, self.resolve_final, self.reloc_final))

    def pcrel_offset(self, tree) -> int:
        """Distance from the auipc at ``self.pc`` to ``tree``.

        A ``call``/``tail`` of an undefined weak symbol gets distance 0, as GNU ld makes it
        (the call goes nowhere harmful instead of to address 0); ``la`` of one gives 0 - pc.
        """
        if self.pc in self.call_sites and tree[0] == "s" and self.weak_undefined(tree[1]):
            return 0
        return expr.evaluate(tree, self.resolve_final, self.reloc_final) - self.pc

    def calls_weak_undefined(self, imm) -> bool:
        """Whether ``imm`` is ``%pcrel_lo`` of a call site whose target is undefined weak."""
        if type(imm) is not tuple or imm[0] != "r" or imm[1] != "pcrel_lo" or imm[2][0] != "s":
            return False
        label = self.symbols.get(imm[2][1])
        if label is None or not label.is_label or self.address(label) not in self.call_sites:
            return False
        target = self.pcrel_hi_at[self.address(label)][0]
        return target[0] == "s" and self.weak_undefined(target[1])

    def weak_undefined(self, name: str) -> bool:
        sym = self.symbols.get(name)
        return (sym is not None and sym.binding == "weak" and not sym.is_label
                and sym.value is None and sym.tree is None)

    def value(self, tree) -> int:
        try:
            return expr.evaluate(tree, self.resolve_final, self.reloc_final)
        except expr.Unresolved as u:
            raise StmtError(f"undefined symbol '{u.name}'{self.suggest(u.name)}", u.name) from None

    def suggest(self, name: str) -> str:
        """" (did you mean ...?)" for a misspelt label or CSR name, else ""."""
        from vmlab.asm.errors import closest
        from vmlab.isa.csrs import CSR_BY_NAME
        labels = [n for n in self.symbols if "$" not in n and "\x02" not in n]
        near = closest(name, labels + list(CSR_BY_NAME))
        if near is None:
            return ""
        return f" (did you mean {'CSR ' if near in CSR_BY_NAME and near not in self.symbols else ''}'{near}'?)"

    def emit(self) -> None:
        """Pass two: every section's bytes, now that every address is known."""
        self.line_map = LineMap()
        self.call_sites = {self.address(sym) for name, sym in self.symbols.items()
                           if name.startswith(".L$vm") and name.endswith("call") and sym.is_label}
        for sec in self.placed:
            for item, off in zip(sec.items, sec.offsets):
                if item.kind == INSN and item.a.mnemonic == "auipc":
                    imm = item.b.get("imm_u")
                    if type(imm) is tuple and imm[0] == "r" and imm[1] == "pcrel_hi":
                        self.pcrel_hi_at[sec.addr + off] = (imm[2], sec.addr + off)
        for sec in self.placed:
            self._relax_section = sec
            out = []
            for item, off in zip(sec.items, sec.offsets):
                self.pc = sec.addr + off
                try:
                    out.append(self.item_bytes(sec, item))
                except StmtError as exc:
                    self.error(item.stmt, exc)
                    out.append(bytes(item.size))
                if item.kind == BYTES:
                    self.line_map.add_run(self.pc, item.b)
                elif item.stmt is not None and item.size and item.kind != ALIGN:
                    self.line_map.add(self.pc, item.stmt.line)
            sec.data = b"" if sec.nobits else b"".join(out)

    def item_bytes(self, sec: Section, item: Item) -> bytes:
        kind = item.kind
        if kind == BYTES:
            return item.a
        if kind == ALIGN:
            if item.a is None and self.pc - sec.addr > item.c:
                raise StmtError(f".org {item.c:#x} would move backwards (already at offset "
                                f"{self.pc - sec.addr:#x})", item.stmt.args)
            return padding_bytes(item.size, sec.code, item.b, self.has_c)
        if kind == DATA:
            out, pc = [], self.pc
            for width, tree in item.a:
                v = self.value(tree)
                out.append((v & ((1 << (8 * width)) - 1)).to_bytes(width, "little"))
                self.pc += width
            self.pc = pc
            return b"".join(out)
        if kind == INSN:
            row, values = item.a, dict(item.b)
            for k, v in values.items():
                if type(v) is tuple:
                    values[k] = self.value(v) - (self.pc if k in PC_RELATIVE else 0)
            if row.mnemonic == "jalr" and self.calls_weak_undefined(item.b.get("imm_i")):
                values["rs1"] = 0   # GNU ld: a call to an undefined weak symbol jumps to 0
            return self.checked_encode(row, values, item.c).to_bytes(row.size, "little")
        return self.branch_bytes(item)

    def branch_bytes(self, item: Item) -> bytes:
        out = self._branch_bytes(item)
        if self.used is not None:
            self.used.add(lookup(int.from_bytes(out[:4 if out[0] & 3 == 3 else 2], "little")).mnemonic)
            if len(out) == 8:
                self.used.add("jal")
        return out

    def _branch_bytes(self, item: Item) -> bytes:
        target = self.value(item.c)
        offset = target - self.pc
        if offset % 2:
            where = f"target {target:#x}" if target % 2 else f"branch itself ({self.pc:#x})"
            raise StmtError(f"misaligned branch: the {where} is at an odd address", _target_text(item))
        mn, values = item.a, dict(item.b)
        if item.size == 2:
            if mn == "jal":
                word = encode(BY_MNEMONIC["c.j"], {"c_imm_j": offset})
            else:
                word = encode(BY_MNEMONIC["c." + mn + "z"], {"c_rs1_p": values["rs1"], "c_imm_b": offset})
            return word.to_bytes(2, "little")
        if item.size == 4:
            field = "imm_j" if mn == "jal" else "imm_b"
            check_field(field, offset, _target_text(item))
            return encode(BY_MNEMONIC[mn], dict(values, **{field: offset})).to_bytes(4, "little")
        first = item.size - 4          # the skipping branch: 2 or 4 bytes
        check_field("imm_j", offset - first, _target_text(item))
        if first == 2:
            skip = encode(BY_MNEMONIC["c." + _INVERT[mn] + "z"], {"c_rs1_p": values["rs1"], "c_imm_b": 6})
        else:
            skip = encode(BY_MNEMONIC[_INVERT[mn]], dict(values, imm_b=8))
        jump = encode(BY_MNEMONIC["jal"], {"rd": 0, "imm_j": offset - first})
        return skip.to_bytes(first, "little") + jump.to_bytes(4, "little")


def reloc_value(op: str, value: int) -> int:
    """``%hi``: upper 20 bits, rounded so that adding the signed ``%lo`` gives ``value``."""
    if op == "hi":
        if not -(1 << 31) <= value + 0x800 < (1 << 31):
            raise StmtError(f"%hi of {value:#x} does not fit: lui sign-extends 32 bits "
                            "(use la/lla for addresses above 2 GiB)")
        return ((value + 0x800) >> 12) & 0xFFFFF
    if op == "lo":
        return ((value & 0xFFF) ^ 0x800) - 0x800
    raise StmtError(f"%{op} is not allowed here")


def _target_text(item: Item) -> str:
    ops = split_operands(item.stmt.args) if item.stmt is not None else []
    return ops[-1] if ops else ""
