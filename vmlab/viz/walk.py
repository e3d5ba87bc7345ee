"""One Sv39 translation drawn the way a textbook draws it.

The virtual address is cut into its fields, each field coloured; from each VPN field an
arrow points into that level's table (drawn as a column of slots around the one used), the
PTE found there is decoded into its PPN and V R W X U G A D bits, and its PPN points at the
next table -- down to the physical page and the byte in it.  A fault is drawn where it
happens, with the reason the reference walker gives::

     satp ─▶ L2 table        L1 table        L0 table        4 KiB page
             [  0] ...       [ 0] ...        [ 1] ...        ┌────────┐
      VPN[2]▶[  1] 0x..01 ─▶ ...  ─────────▶ ...  ─────────▶ │ +0x008 │◀ offset
             [  2] ...                                       └────────┘

The picture is computed here, from :func:`vmlab.sv39.walk` and the table words around each
slot, as a :class:`~vmlab.viz.scene.Scene`; the browser only draws it, one *step* (one
level) at a time when it animates.
"""
from __future__ import annotations

import traitlets

from vmlab import sv39
from vmlab.isa.causes import CAUSE_BY_NAME, cause_of
from vmlab.isa.csrs import MSTATUS_FIELDS
from vmlab.viz._base import Widget, reader, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import FLAG_LETTERS, legend

MASK64 = (1 << 64) - 1
COL_X = (130, 360, 590)          #: x of the level-2, level-1 and level-0 columns
PAGE_X, PAGE_W = 820, 150        #: x and width of the physical page
COL_W, SLOT_H, TOP = 190, 20, 128
AROUND = 3                       #: slots drawn on each side of the one the walk used
FIELD_BITS = {"vpn2": (38, 30), "vpn1": (29, 21), "vpn0": (20, 12), "offset": (11, 0)}

#: page-fault cause codes (names from vmlab.isa) -> the access that took them
PAGE_FAULTS = {CAUSE_BY_NAME[f"{a}_page_fault"].code: a for a in ("fetch", "load", "store")}
#: access-fault cause codes: the walk itself read memory that is not there
ACCESS_FAULTS = {CAUSE_BY_NAME[f"{a}_access"].code for a in ("fetch", "load", "store")}
_MSTATUS = {f.name: f for f in MSTATUS_FIELDS}


def col_x(level: int) -> int:
    return COL_X[2 - level]


def fault_name(code: int) -> str:
    c = cause_of(code)
    return f"{code} ({c.description})" if c else str(code)


def _wrap(text: str, width: int = 27) -> str:
    """Break ``text`` into lines of at most ``width`` characters (SVG does not wrap)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


# --- the address bar ------------------------------------------------------------------------------

def _address(s: Scene, va: int, canonical: bool) -> None:
    """The 64-bit address as five boxes: sign extension, VPN[2], VPN[1], VPN[0], offset."""
    s.text("va", 0, 12, f"virtual address {va:#018x}", "title")
    s.box("field-sign", 0, 34, 120, 34, "sign" + ("" if canonical else " fault"),
          f"{va >> 39:#x}", title="bits 63..39: must all equal bit 38")
    s.text("bits-sign", 60, 30, "63..39", "bits", anchor="middle")
    for name, x, w in (("vpn2", COL_X[0], COL_W), ("vpn1", COL_X[1], COL_W),
                       ("vpn0", COL_X[2], COL_W), ("offset", PAGE_X, PAGE_W)):
        hi, lo = FIELD_BITS[name]
        value = va >> lo & ((1 << (hi - lo + 1)) - 1)
        s.box(f"field-{name}", x, 34, w, 34, f"field {name}", format(value, f"0{hi - lo + 1}b"),
              title=f"bits {hi}..{lo}")
        s.text(f"bits-{name}", x + w // 2, 30, f"{hi}..{lo}", "bits", anchor="middle")
        words = f"offset = {value:#05x}" if name == "offset" else f"VPN[{name[-1]}] = {value}"
        s.text(f"value-{name}", x + w // 2, 84, words, name, anchor="middle")


# --- one level's table -----------------------------------------------------------------------------

def _slot_class(pte: int | None) -> str:
    if pte is None or not pte & sv39.PTE_V:
        return "invalid"
    return "leaf" if pte & (sv39.PTE_R | sv39.PTE_W | sv39.PTE_X) else "table"


def _table(s: Scene, read64, level: int, table_pa: int, index: int, step: int) -> int:
    """The column of slots around ``index``; returns the y of the used slot."""
    x = col_x(level)
    s.box(f"table-{level}", x, TOP, COL_W, 22, "tablehead",
          f"L{level} table @ {table_pa:#x}", step=step)
    first, last = max(0, index - AROUND), min(511, index + AROUND)
    y = TOP + 26
    if first > 0:
        s.text(f"more-above-{level}", x + COL_W // 2, y + 12, f"⋮ {first} above", "muted",
               anchor="middle", step=step)
        y += 16
    used_y = y
    for i in range(first, last + 1):
        pte = read64(table_pa + 8 * i)
        word = "not in memory" if pte is None else f"{pte:#018x}"
        cls = _slot_class(pte) + (f" used vpn{level}" if i == index else "")
        s.box(f"slot-{level}-{i}", x, y, COL_W, SLOT_H, cls, f"[{i:3}] {word}", step=step, align="start",
              title=f"PTE at {table_pa + 8 * i:#x}" + ("" if pte is None else " " + sv39.flag_string(pte)))
        if i == index:
            used_y = y
        y += SLOT_H
    if last < 511:
        s.text(f"more-below-{level}", x + COL_W // 2, y + 12, f"⋮ {511 - last} below", "muted",
               anchor="middle", step=step)
    return used_y


def _decoded(s: Scene, level: int, pte: int, y: int, step: int) -> None:
    """The PTE taken apart: its PPN, and one lit or dark cell per flag bit."""
    x = col_x(level)
    s.box(f"pte-{level}", x, y, COL_W, 20, "ppn", f"PPN {sv39.pte_ppn(pte):#x}", step=step)
    for bit, letter in enumerate(FLAG_LETTERS):
        on = bool(pte >> bit & 1)
        s.box(f"flag-{level}-{letter}", x + bit * 23, y + 22, 23, 20, "flag" + (" on" if on else ""),
              letter, step=step, title=f"{letter}={int(on)}")


def _fault(s: Scene, x: int, y: int, w: Walk, step: int) -> int:
    """The fault box at (x, y), with the cause and the walker's reason; returns its bottom."""
    c = cause_of(w.fault)
    label = f"✗ fault {w.fault}\n({c.description if c else 'unknown cause'})\n" + _wrap(w.reason)
    h = 14 * label.count("\n") + 24
    s.box("fault", x, y, COL_W, h, "fault", label, step=step, title=w.reason)
    return y + h


# --- the whole picture ------------------------------------------------------------------------------

Walk = sv39.Walk


def walk_scene(read64, satp: int, va: int, access: str = "load", *, priv: str = "S",
               sum: bool = False, mxr: bool = False) -> tuple[sv39.Walk, Scene]:
    """Walk ``va`` with the reference walker and draw what it did.

    Step 0 is the address and satp; step k (1..3) is the k-th PTE read; the last step is
    the result: the physical page and byte, or the fault where it happened.
    """
    va &= MASK64
    w = sv39.walk(read64, satp, va, access, priv=priv, sum=sum, mxr=mxr)
    s = Scene(legend=legend("vpn2", "vpn1", "vpn0", "offset", "table", "leaf", "invalid", "fault"))
    _address(s, va, sv39.canonical(va))
    mode, asid, root_ppn = sv39.satp_fields(satp & MASK64)
    translated = not (priv == "M" or mode == sv39.SATP_MODE_BARE)
    s.box("satp", 0, TOP, 120, 40, "satp", f"satp\nPPN {root_ppn:#x}",
          title=f"mode {mode}, ASID {asid}")
    if not translated:
        s.text("result", 0, TOP + 70, f"{access} at {va:#x}: {w.reason}", "ok", step=1)
        s.steps = 1
        return w, s
    if not sv39.canonical(va):
        bottom = _fault(s, 0, TOP + 50, w, 1)
        s.text("result", 0, bottom + 24, f"{access} at {va:#x}: fault {fault_name(w.fault)}", "bad", step=1)
        s.steps = 1
        return w, s
    s.arrow("arrow-satp", 120, TOP + 11, col_x(2), TOP + 11, "pointer", step=1)
    bottom = _levels(s, read64, w, root_ppn << 12)
    _result(s, w, bottom)
    return w, s


def _levels(s: Scene, read64, w: sv39.Walk, root_pa: int) -> int:
    """Draw each level the walk read; returns the lowest y drawn."""
    table, bottom = root_pa, TOP + 60
    attempted = len(w.steps) + (1 if w.fault in ACCESS_FAULTS else 0)
    for step, level in enumerate(range(2, 2 - attempted, -1), 1):
        index = sv39.vpn(w.va, level)
        y = _table(s, read64, level, table, index, step)
        x = col_x(level)
        fx = x + 40
        s.arrow(f"arrow-vpn{level}", fx, 68, x - 2, y + SLOT_H // 2, f"vpn{level}", bend=-0.25, step=step)
        if step > len(w.steps):        # the PTE itself could not be read: an access fault
            return max(bottom, _fault(s, x, y + 5 * SLOT_H, w, step) + 8)
        pte = w.steps[step - 1].pte
        dy = TOP + 26 + 16 + (2 * AROUND + 1) * SLOT_H + 22
        _decoded(s, level, pte, dy, step)
        bottom = max(bottom, dy + 44)
        if step == attempted and not w.ok:          # the PTE read here is what faults
            return _fault(s, x, dy + 50, w, step) + 8
        if not w.steps[step - 1].is_leaf:
            s.arrow(f"arrow-next-{level}", x + COL_W, y + SLOT_H // 2, col_x(level - 1), TOP + 11,
                    "pointer", bend=0.15, step=step)
        table = sv39.pte_ppn(pte) << 12
    return bottom


def _result(s: Scene, w: sv39.Walk, bottom: int) -> None:
    """The physical page with the byte marked, or the fault line."""
    attempted = len(w.steps) + (1 if w.fault in ACCESS_FAULTS else 0)
    step = attempted + (1 if w.ok else 0)
    s.steps = step
    if not w.ok:
        s.text("result", 0, bottom + 24, f"{w.access} at {w.va:#x}: fault {fault_name(w.fault)}: "
               f"{w.reason}", "bad", step=step)
        return
    leaf = w.leaf
    size = sv39.page_size(leaf.level)
    base, offset = w.pa & ~(size - 1), w.pa & (size - 1)
    kib = size // 1024
    label = f"{kib // 1024**2} GiB" if kib >= 1024**2 else f"{kib // 1024} MiB" if kib >= 1024 else f"{kib} KiB"
    y0, h = TOP, 200
    s.box("page", PAGE_X, y0, PAGE_W, 34, "pagehead", f"{label} page\n@ {base:#x}", step=step)
    s.box("page-body", PAGE_X, y0 + 34, PAGE_W, h, "page", step=step)
    by = y0 + 34 + min(int(h * offset / size), h - 8)
    s.box("byte", PAGE_X, by, PAGE_W, 8, "byte", step=step, title=f"byte at {w.pa:#x}")
    s.text("byte-label", PAGE_X + PAGE_W // 2, by + 22 if by < y0 + h else by - 6,
           f"+{offset:#x} = {w.pa:#x}", "offset", anchor="middle", step=step)
    s.arrow("arrow-offset", PAGE_X + PAGE_W - 10, 68, PAGE_X + PAGE_W, by + 4, "offset", bend=-0.4, step=step)
    x = col_x(leaf.level)
    leaf_y = s.get(f"slot-{leaf.level}-{leaf.index}")["y"]
    s.arrow("arrow-page", x + COL_W, leaf_y + SLOT_H // 2, PAGE_X, y0 + 17, "pointer leafptr",
            bend=0.15, step=step)
    for level in range(leaf.level - 1, -1, -1):      # a superpage: lower VPNs are offset bits
        s.text(f"no-table-{level}", col_x(level) + COL_W // 2, TOP + 14,
               f"no level-{level} table:\nVPN[{level}] is part of the\noffset in a {label} page",
               "muted", anchor="middle", step=step)
    s.text("result", 0, bottom + 24, f"{w.access} at {w.va:#x} → physical {w.pa:#x} ({w.reason})",
           "ok", step=step)


# --- following a guest ------------------------------------------------------------------------------

def last_page_fault(machine, seen: tuple) -> tuple[tuple, dict | None]:
    """The page fault a machine took since ``seen`` (its xcause/xtval pairs), if any.

    Returns ``(now, fault)``; ``fault`` has va, access, sum, mxr and satp for a new page
    fault (from whichever of mcause/scause changed), else None.  The privilege the fault
    was taken in is not among them: a handler's ``mret``/``sret`` has reset MPP/SPP by the
    time a view looks, so the view walks as the privilege it was given.
    """
    now = tuple(machine.csr(n) & MASK64 for n in ("mcause", "mtval", "scause", "stval"))
    status = machine.csr("mstatus")
    for i in (0, 2):
        if now[i:i + 2] == seen[i:i + 2] or now[i] not in PAGE_FAULTS:
            continue
        return now, {"va": now[i + 1], "access": PAGE_FAULTS[now[i]],
                     "sum": bool(_MSTATUS["SUM"].get(status)), "mxr": bool(_MSTATUS["MXR"].get(status)),
                     "satp": machine.csr("satp") & MASK64}
    return now, None


def walk_text(w: sv39.Walk) -> str:
    """The same walk in words (terminals, nbconvert to text)."""
    lines = [f"{w.access} {w.va:#x}: VPN[2]={sv39.vpn(w.va, 2)} VPN[1]={sv39.vpn(w.va, 1)} "
             f"VPN[0]={sv39.vpn(w.va, 0)} offset={w.va & 0xFFF:#x}"]
    for st in w.steps:
        lines.append(f"  L{st.level} table {st.table_pa:#x} [{st.index}] = {st.pte:#018x} {st.flags}")
    lines.append(f"  → physical {w.pa:#x}" if w.ok else f"  ✗ fault {fault_name(w.fault)}: {w.reason}")
    return "\n".join(lines)


# --- predictions ---------------------------------------------------------------------------------------

def walk_answer(w: sv39.Walk):
    """A walk's outcome as a student states it: the physical address, or the fault's kind."""
    if w.ok:
        return w.pa
    return "access fault" if w.fault in ACCESS_FAULTS else "page fault"


def _parse_answer(text: str):
    text = text.strip().lower().replace("_", "")
    try:
        return int(text, 0)
    except ValueError:
        return text


def _same_answer(prediction, truth) -> bool:
    if isinstance(prediction, str):
        prediction = _parse_answer(prediction)
    return prediction == truth


def _answer_text(a) -> str:
    return f"{a:#x}" if isinstance(a, int) else str(a)


# --- the widget ---------------------------------------------------------------------------------------

class WalkView(Widget):
    """One translation drawn step by step: fields, each level's table, the page or the fault.

    ``source`` is a Machine (its RAM is read) or a ``read64(pa)`` function.  Type another
    address in the box (or call :meth:`show`) to walk again: the picture animates level by
    level; the slider and the buttons step through it.  ``follow="fault"`` makes
    :meth:`refresh` (called by a :class:`RunControl` while the guest runs) jump to each new
    page fault the machine takes; otherwise ``refresh()`` walks the same address again, so
    A/D bits and changed tables show.
    """

    _esm = scene_esm("walk")
    walk = traitlets.Dict({}).tag(sync=True)
    scene = traitlets.Dict({}).tag(sync=True)
    #: predict-then-reveal: each new walk is hidden until the student has answered
    predict = traitlets.Bool(False).tag(sync=True)
    verdict = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source, satp: int, va: int = 0, access: str = "load", *,
                 priv: str = "S", sum: bool = False, mxr: bool = False,
                 follow: str | None = None, predict: bool = False, **kwargs):
        super().__init__(predict=predict, **kwargs)
        #: every prediction: va, access, the answer, the truth, and whether they agree
        self.predictions: list[dict] = []
        self._hidden = None
        if follow not in (None, "fault"):
            raise ValueError(f"follow must be None or 'fault', not {follow!r}")
        self.source, self.read64 = source, reader(source)
        self.satp, self.priv, self.sum, self.mxr, self.follow = satp, priv, sum, mxr, follow
        self._seen = (0, 0, 0, 0)
        if follow and hasattr(source, "csr"):
            self._seen, _ = last_page_fault(source, self._seen)
        self.on_msg(self._on_msg)
        self.result: sv39.Walk | None = None
        self.show(va, access)

    def show(self, va: int, access: str = "load") -> sv39.Walk:
        """Walk ``va`` for ``access`` and draw it (the browser animates the new walk)."""
        w, scene = walk_scene(self.read64, self.satp, va, access, priv=self.priv, sum=self.sum,
                              mxr=self.mxr)
        self.result = w
        if self.predict:
            return self._ask(w, scene, access)
        self._draw(w, scene, access)
        return w

    def _draw(self, w: sv39.Walk, scene: Scene, access: str, verdict: str | None = None) -> None:
        """Send the walk (and, after a prediction, its verdict) in one message: the page never
        sees the one without the other."""
        result = (f"{w.va:#x} → physical {w.pa:#x} ({w.reason})" if w.ok
                  else f"fault {w.fault}: {w.reason}")
        with self.hold_sync():
            self.walk = {"va": f"{w.va:#x}", "access": access, "ok": w.ok, "result": result,
                         "fault": w.fault, "levels": [s.level for s in w.steps]}
            self.scene = scene.to_json()
            if verdict is not None:
                self.verdict = verdict
            self.updates += 1

    # --- predict, then reveal ----------------------------------------------------------------
    def _ask(self, w: sv39.Walk, scene: Scene, access: str) -> sv39.Walk:
        """Draw only the address; the walk waits for :meth:`answer`."""
        self._hidden = (w, scene, access)
        bar = Scene()
        _address(bar, w.va, sv39.canonical(w.va))
        bar.steps = 0
        with self.hold_sync():
            self.walk = {"va": f"{w.va:#x}", "access": access, "ok": None, "fault": None,
                         "result": "predict first: the physical address, or page/access fault?",
                         "levels": [], "asking": True}
            self.scene = bar.to_json()
            self.verdict = ""
            self.updates += 1
        return w

    def answer(self, prediction) -> bool:
        """The student's prediction for the hidden walk (a physical address, or "page
        fault" / "access fault"): recorded, then the walk is revealed.  True if right."""
        if self._hidden is None:
            raise ValueError("no walk is waiting for a prediction: call show() first")
        w, scene, access = self._hidden
        truth = walk_answer(w)
        right = _same_answer(prediction, truth)
        self.predictions.append({"va": w.va, "access": access, "answer": prediction,
                                 "truth": truth, "right": right})
        self._hidden = None
        self._draw(w, scene, access, f"your prediction {_answer_text(prediction)}: " +
                   ("right" if right else f"not right -- the walk gives {_answer_text(truth)}"))
        return right

    def refresh(self) -> None:
        """Follow the guest: its newest page fault (``follow="fault"``), or the same address."""
        if self.follow == "fault" and hasattr(self.source, "csr"):
            self._seen, fault = last_page_fault(self.source, self._seen)
            if fault is not None:
                if sv39.satp_fields(fault["satp"])[0] == sv39.SATP_MODE_SV39:
                    self.satp = fault["satp"]
                self.sum, self.mxr = fault["sum"], fault["mxr"]
                self.show(fault["va"], fault["access"])
            return
        if self.result is not None:
            w = sv39.walk(self.read64, self.satp, self.result.va, self.result.access,
                          priv=self.priv, sum=self.sum, mxr=self.mxr)
            if w.steps != self.result.steps or w.pa != self.result.pa:
                self.show(w.va, w.access)

    def text(self) -> str:
        if self._hidden is not None:          # (the text must not tell what the picture hides)
            w = self._hidden[0]
            return f"{w.access} {w.va:#x}: predict the physical address or the fault, then answer()"
        return walk_text(self.result) if self.result else "(no walk)"

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") == "predict" and self._hidden is not None:
            self.answer(_parse_answer(str(content.get("answer", ""))))
        elif content.get("type") == "walk":
            try:
                va = int(str(content.get("va", "0")).replace("_", ""), 0)
            except ValueError:
                return
            self.show(va, content.get("access", "load"))
