"""The two-stage walk drawn: every VS-stage step is itself a G-stage walk -- the 15-reference picture.

With the hypervisor extension a guest's address is translated twice, and the guest's own page
tables sit in guest-physical memory, so each of their entries must be G-translated before it
can be read.  Drawn as a grid, one row per VS-stage level and a last row for the data, one
column per G-stage level and a last column for the VS-stage PTE itself, the memory
references fill it in the order the hardware makes them::

                     G L2     G L1     G L0     VS PTE
    VS L2 (VPN[2])    ①   ─▶   ②   ─▶   ③   ─▶   ④
    VS L1 (VPN[1])    ⑤   ─▶   ⑥   ─▶   ⑦   ─▶   ⑧
    VS L0 (VPN[0])    ⑨   ─▶   ⑩   ─▶   ⑪   ─▶   ⑫
    data GPA          ⑬   ─▶   ⑭   ─▶   ⑮   ─▶   host physical address

A superpage at either stage leaves cells out (a 1 GiB G-stage page: one G read per row); a
fault ends the picture at the cell that caused it, with the walker's reason.  Beside it, when
given the hypervisor's shadow table for the same guest, the shadow walk of the same address:
three references.  The picture comes from :func:`vmlab.sv39.walk2` (the reference walker the
machine's MMU is tested against) and steps one memory reference at a time.
"""
from __future__ import annotations

import traitlets

from vmlab import sv39
from vmlab.isa.causes import cause_of
from vmlab.viz._base import CSS, Widget, reader, scene_esm
from vmlab.viz.scene import Scene
from vmlab.viz.style import legend
from vmlab.viz.walk import ACCESS_FAULTS, MASK64, _address, _wrap

LABEL_W = 190
GX = (210, 400, 590)             #: x of the G L2, G L1 and G L0 columns
VSX, RX = 780, 970               #: the VS-PTE column, and the column of a fault's reason
CELL_W, CELL_H, ROW_H = 170, 38, 56
TOP = 100                        #: y of the vsatp/hgatp boxes, under the address bar
GRID = TOP + 70                  #: y of the first row
SIZES = {0: "4 KiB", 1: "2 MiB", 2: "1 GiB"}
#: what an implicit access's guest-page fault was doing (htinst holds a pseudoinstruction)
IMPLICIT_WORDS = {"read": "\nwhile reading a\nVS-stage PTE",
                  "write": "\nwhile setting A/D\nin the VS-stage PTE\n(a store to its page)"}

#: colours of the two stages: the guest's (VS, orange) and the hypervisor's (G, green), as the
#: shadow view draws the guest's and the hypervisor's maps; the shadow's walk is blue
WALK2_CSS = (
    ".vmlab-scene rect.vs { stroke: var(--vmlab-vpn2); stroke-width: 2; }\n"
    ".vmlab-scene rect.g { stroke: var(--vmlab-vpn1); stroke-width: 2; }\n"
    ".vmlab-scene rect.sh { stroke: var(--vmlab-vpn0); stroke-width: 2; }\n"
    ".vmlab-scene rect.hpa { fill: var(--vmlab-leaf); stroke: var(--vmlab-ink); }\n"
    ".vmlab-scene rect.fault.g, .vmlab-scene rect.fault.vs { stroke: var(--vmlab-fault); }\n"
    ".vmlab-scene text.g { fill: #1d6b47; } .vmlab-scene text.vs { fill: #9a5b00; }\n"
    ".vmlab-legend rect.g { stroke: var(--vmlab-vpn1); stroke-width: 2; }\n"
    ".vmlab-legend rect.vs { stroke: var(--vmlab-vpn2); stroke-width: 2; }\n"
    ".vmlab-legend rect.sh { stroke: var(--vmlab-vpn0); stroke-width: 2; }\n"
    ".vmlab-walk2 { font-family: var(--vmlab-font); font-size: 12px; margin: 4px 0; }\n"
    ".vmlab-walk2 .vmlab-count { font-weight: bold; margin: 3px 0; }\n")


def circled(n: int) -> str:
    """A reference's number as the cells print it ("#7"; the circled digits past ⑩ are
    missing from common monospace fonts)."""
    return f"#{n}"


def _kind(pte: int | None) -> str:
    if pte is None or not pte & sv39.PTE_V:
        return "invalid"
    return "leaf" if pte & (sv39.PTE_R | sv39.PTE_W | sv39.PTE_X) else "table"


def _cell(s: Scene, id: str, x: int, y: int, n: int, stage: str, step: sv39.Step,
          *, where: str, bad: bool = False) -> None:
    """One memory reference: its number, the table slot, the PTE and its flags."""
    cls = f"{stage.lower()} {_kind(step.pte)}" + (" fault" if bad else "")
    head = f"{circled(n)} {stage} L{step.level} [{step.index}]"
    s.box(id, x, y, CELL_W, CELL_H, cls, f"{head} {sv39.flag_string(step.pte)}\n{step.pte:#018x}",
          step=n, align="start",
          title=f"reference {n}: {where}, PTE at host {step.pte_pa:#x} (table @ {step.table_pa:#x})")


def _missing(s: Scene, id: str, x: int, y: int, words: str, step: int) -> None:
    """A read the walk never made: a superpage ended it above this level."""
    s.text(id, x + CELL_W // 2, y + 10, words, "muted", anchor="middle", step=step)   # (above the arrow)


class _Grid:
    """Lays a Walk2 out row by row; ``n`` counts the references drawn so far."""

    def __init__(self, s: Scene, w: sv39.Walk2):
        self.s, self.w, self.n = s, w, 0
        self.last_xy: tuple[int, int] | None = None     # where the previous cell ended

    def _link(self, x: int, y: int, cls: str) -> None:
        if self.last_xy is not None:
            (x0, y0) = self.last_xy
            self.s.arrow(f"a-{self.n}", x0, y0, x - 2, y + CELL_H // 2, cls, step=self.n)

    def g_row(self, row: int, g: sv39.GWalk, y: int) -> bool:
        """The G walk of one guest-physical address; False if it failed."""
        for k, st in enumerate(g.steps):
            self.n += 1
            x = GX[2 - st.level]
            self._link(x, y, "host")
            bad = not g.ok and g.fault not in ACCESS_FAULTS and k == len(g.steps) - 1
            _cell(self.s, f"ref-{self.n}", x, y, self.n, "G", st, bad=bad,
                  where=f"G-stage level {st.level} for GPA {g.gpa:#x}")
            self.last_xy = (x + CELL_W, y + CELL_H // 2)
        if g.ok and g.steps and g.steps[-1].level > 0:
            for lv in range(g.steps[-1].level - 1, -1, -1):
                _missing(self.s, f"skip-{row}-{lv}", GX[2 - lv], y,
                         f"({SIZES[g.steps[-1].level]} G page)", self.n)
        if g.fault in ACCESS_FAULTS:             # the next PTE could not even be read
            self._no_read(GX[2 - (g.steps[-1].level - 1 if g.steps else 2)], y)
        return g.ok

    def _no_read(self, x: int, y: int) -> None:
        """The reference that could not be made: its PTE is not in memory (access fault)."""
        self.s.box("noread", x, y, CELL_W, CELL_H, "fault", "✗ not in memory", step=self.n + 1)

    def vs_cell(self, vs: sv39.VSStep, y: int) -> None:
        """The VS-stage PTE read at the host address the G walk found."""
        if vs.pte is None:
            self._no_read(VSX, y)
            return
        self.n += 1
        self._link(VSX, y, "guest")
        bad = not self.w.ok and vs is self.w.vs_steps[-1] and self.w.final is None
        step = sv39.Step(vs.level, vs.g.hpa - 8 * vs.index, vs.index, vs.g.hpa, vs.pte)
        _cell(self.s, f"ref-{self.n}", VSX, y, self.n, "VS", step, bad=bad,
              where=f"VS-stage level {vs.level} PTE (GPA {vs.pte_gpa:#x})")
        if not bad:
            # its PPN is the next table's GPA (a leaf's: the data's), where the next row's
            # walk starts (the arrow runs in the gap between the rows, under nothing)
            self.s.arrow(f"next-{vs.level}", VSX + CELL_W // 2, y + CELL_H, LABEL_W // 2,
                         y + ROW_H - 1, "guest", step=self.n)

    def start_row(self, y: int) -> None:
        """A new row's first cell is reached from its label (the GPA being translated)."""
        self.last_xy = (LABEL_W, y + CELL_H // 2)


def _row_label(s: Scene, row: int, y: int, words: str, cls: str, step: int) -> None:
    s.box(f"row-{row}", 0, y, LABEL_W, CELL_H, f"{cls} guest", words, step=step, align="start")


def walk2_scene(read64, vsatp: int, hgatp: int, gva: int, access: str = "load", *,
                priv: str = "S", sum: bool = False, mxr: bool = False, gmxr: bool = False,
                shadow_satp: int | None = None, shadow_read64=None) -> tuple[sv39.Walk2, Scene]:
    """Walk ``gva`` in two stages with the reference walker and draw every reference.

    Step 0 is the address, vsatp and hgatp; step k (1..n) is the k-th memory reference; the
    last step (n + 1) is the result: the host physical address, or the fault.
    ``shadow_satp`` adds the shadow walk of the same gva, read through ``shadow_read64``
    (default: ``read64``).
    """
    gva &= MASK64
    w = sv39.walk2(read64, vsatp & MASK64, hgatp & MASK64, gva, access, priv=priv, sum=sum,
                   mxr=mxr, gmxr=gmxr)
    s = Scene(legend=legend("vpn2", "vpn1", "vpn0", "offset") + [
        ["vs", "VS stage: the guest's table (vsatp)"], ["g", "G stage: the hypervisor's (hgatp)"],
        ["table", "pointer to a table"], ["leaf", "leaf"], ["fault", "fault"]])
    _address(s, gva, sv39.canonical(gva))
    _roots(s, vsatp & MASK64, hgatp & MASK64)
    grid = _Grid(s, w)
    y = _rows(s, grid, w)
    end = len(w.refs) + 1
    _outcome(s, w, grid, y, end)
    if shadow_satp is not None:
        _shadow(s, shadow_read64 or read64, shadow_satp & MASK64, w, y + 70)
    s.steps = end
    return w, s


def _roots(s: Scene, vsatp: int, hgatp: int) -> None:
    mode, asid, ppn = sv39.satp_fields(vsatp)
    vs_words = f"vsatp: root GPA {ppn << 12:#x}" if mode == sv39.SATP_MODE_SV39 else "vsatp Bare: gpa = gva"
    s.box("vsatp", 0, TOP, LABEL_W + 20, 26, "satp vs", vs_words, title=f"mode {mode}, ASID {asid}")
    s.arrow("a-vsatp", LABEL_W // 2, TOP + 26, LABEL_W // 2, GRID - 2, "guest")
    g_ppn = hgatp & sv39.HGATP_PPN_MASK
    vmid = hgatp >> sv39.HGATP_VMID_SHIFT & sv39.HGATP_VMID_MASK
    s.box("hgatp", GX[0] + 20, TOP, 250, 26, "satp g", f"hgatp: root host {g_ppn << 12:#x}",
          title=f"Sv39x4: a 16 KiB root of 2048 entries; VMID {vmid}")
    for x, words in zip((*GX, VSX), ("G-stage L2 (root)", "G-stage L1", "G-stage L0",
                                     "VS-stage PTE")):
        s.text(f"head-{x}", x + CELL_W // 2, GRID - 10, words, "title", anchor="middle")


def _rows(s: Scene, grid: _Grid, w: sv39.Walk2) -> int:
    """The VS rows, then the data row; returns the y below the last row drawn."""
    y = GRID
    for row, vs in enumerate(w.vs_steps):
        lv = vs.level
        _row_label(s, row, y, f"VS L{lv}: VPN[{lv}] = {vs.index}\nPTE at GPA {vs.pte_gpa:#x}",
                   f"vpn{lv}", grid.n + 1)
        grid.start_row(y)
        if not grid.g_row(row, vs.g, y):
            return y + ROW_H
        grid.vs_cell(vs, y)
        y += ROW_H
    if w.gpa is not None:
        size = f"{SIZES[w.level]} guest page" if w.level is not None else "vsatp Bare"
        _row_label(s, len(w.vs_steps), y, f"data: GPA {w.gpa:#x}\n({size})", "offset", grid.n + 1)
        grid.start_row(y)
        grid.g_row(len(w.vs_steps), w.final, y)
        y += ROW_H
    return y


def _outcome(s: Scene, w: sv39.Walk2, grid: _Grid, y: int, step: int) -> None:
    """The host address (in the data row's last column), or the fault; the count of references."""
    count = f"{len(w.refs)} memory reference{'s' if len(w.refs) != 1 else ''}"
    if w.ok:
        row_y = y - ROW_H
        s.box("hpa", VSX, row_y, CELL_W, CELL_H, "hpa", f"host physical\n{w.hpa:#x}", step=step)
        if grid.last_xy is not None:
            x0, y0 = grid.last_xy
            s.arrow("a-hpa", x0, y0, VSX - 2, row_y + CELL_H // 2, "host", step=step)
        s.text("result", 0, y + 16, f"{w.access} at gva {w.gva:#x} → gpa {w.gpa:#x} → hpa {w.hpa:#x}: "
               f"{count}", "ok", step=step)
        return
    c = cause_of(w.fault)
    what = f"✗ fault {w.fault}\n" + _wrap(f"({c.description if c else 'unknown cause'})", 25)
    if w.fault_gpa is not None:
        what += f"\nGPA {w.fault_gpa:#x}\n(htval = GPA >> 2)"
        what += IMPLICIT_WORDS.get(w.implicit, "")
    label = what + "\n" + _wrap(w.reason, 25)
    s.box("fault", RX, max(GRID, y - ROW_H), CELL_W + 10, 14 * label.count("\n") + 24, "fault", label,
          step=step, title=w.reason)
    s.text("result", 0, y + 16, f"{w.access} at gva {w.gva:#x}: fault {w.fault} after {count}",
           "bad", step=step)


def _shadow(s: Scene, read64, shadow_satp: int, w2: sv39.Walk2, y: int) -> None:
    """The shadow walk of the same gva: the hypervisor's composed gva -> hpa table, one stage.
    (The guest runs deprivileged in real U-mode, so the shadow is walked as U.)"""
    sw = sv39.walk(read64, shadow_satp, w2.gva, w2.access, priv="U")
    n = len(sw.steps)
    s.text("shadow-title", 0, y, f"the shadow walk of the same gva (trap-and-emulate: one table "
           f"gva → hpa): {n} memory reference{'s' if n != 1 else ''}", "title")
    y += 12
    s.box("shadow-root", 0, y, LABEL_W, CELL_H, "satp sh",
          f"shadow satp: root\n{sv39.satp_fields(shadow_satp)[2] << 12:#x}")
    x0 = LABEL_W
    for k, st in enumerate(sw.steps, 1):
        x = GX[2 - st.level]
        s.box(f"shadow-{k}", x, y, CELL_W, CELL_H, f"sh {_kind(st.pte)}",
              f"{circled(k)} L{st.level} [{st.index}] {st.flags}\n{st.pte:#018x}", align="start",
              title=f"shadow PTE at host {st.pte_pa:#x}")
        s.arrow(f"shadow-a-{k}", x0, y + CELL_H // 2, x - 2, y + CELL_H // 2, "shadow")
        x0 = x + CELL_W
    words = (f"host physical\n{sw.pa:#x}" if sw.ok
             else f"✗ fault {sw.fault}: an exit\n(fill, or reflect)")
    s.arrow("shadow-a-result", x0, y + CELL_H // 2, VSX - 2, y + CELL_H // 2, "shadow")
    s.box("shadow-result", VSX, y, CELL_W, CELL_H, "hpa" if sw.ok else "fault", words,
          title=sw.reason)


def walk2_text(w: sv39.Walk2) -> str:
    """The same walk in words (terminals, nbconvert to text)."""
    lines = [f"{w.access} gva {w.gva:#x}: two-stage walk, {len(w.refs)} memory references"]
    for r in w.refs:
        lines.append(f"  {r.n:2}. {r.stage:2} L{r.level} ({r.what}) host {r.pte_hpa:#x} = {r.pte:#018x}")
    lines.append(f"  → gpa {w.gpa:#x} → hpa {w.hpa:#x}" if w.ok else
                 f"  ✗ fault {w.fault}" + (f" at GPA {w.fault_gpa:#x}" if w.fault_gpa is not None else "")
                 + f": {w.reason}")
    return "\n".join(lines)


def resolve(source, hart: int = 0):
    """(memory, CSRs) of a source: a VM of the hw backend (its host machine's RAM, its vCPU
    ``hart``'s saved CSRs -- the hart's own hold them only while the vCPU runs), such a vCPU,
    a Machine (its hart ``hart``), or a ``read64`` function (no CSRs)."""
    if hasattr(source, "vcpus") and hasattr(source, "machine"):
        return source.machine, source.vcpus[hart]
    if hasattr(source, "vm") and hasattr(source, "csr"):
        return source.vm.machine, source
    if hasattr(source, "harts"):
        return source, source.harts[hart]
    return source, None


def guest_view(regs) -> dict:
    """vsatp, hgatp and the guest's SUM/MXR (vsstatus) and the hypervisor's MXR (mstatus),
    as ``regs`` (a hart or a vCPU: anything with ``csr(name)``) holds them now."""
    vsstatus, mstatus = regs.csr("vsstatus"), regs.csr("mstatus")
    return {"vsatp": regs.csr("vsatp") & MASK64, "hgatp": regs.csr("hgatp") & MASK64,
            "sum": bool(vsstatus >> 18 & 1), "mxr": bool((vsstatus | mstatus) >> 19 & 1),
            "gmxr": bool(mstatus >> 19 & 1)}


class TwoStageWalkView(Widget):
    """One two-stage translation drawn reference by reference.

    ``source`` is a VM of the hw backend or one of its vCPUs, or a Machine (their RAM is
    read, and -- unless given -- vCPU or hart ``hart``'s vsatp, hgatp, vsstatus.SUM/MXR and
    mstatus.MXR), or a ``read64(hpa)`` function with explicit ``vsatp`` and ``hgatp``.  ``shadow_satp`` adds the shadow walk of the same address: a
    satp value naming a shadow root, or a shadow tree of ``vmlab.hv`` (``vm.shadow``'s
    roots), read from ``shadow_source`` (a Machine or ``read64``; default ``source``) -- the
    same guest run under trap-and-emulate.  ``predict=True`` hides each new walk
    until the student has said how many memory references it will take (:meth:`answer`).
    """

    _esm = scene_esm("walk2")
    _css = CSS + WALK2_CSS
    walk = traitlets.Dict({}).tag(sync=True)
    scene = traitlets.Dict({}).tag(sync=True)
    predict = traitlets.Bool(False).tag(sync=True)
    verdict = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source, gva: int = 0, access: str = "load", *, vsatp: int | None = None,
                 hgatp: int | None = None, priv: str = "S", sum: bool = False, mxr: bool = False,
                 gmxr: bool = False, shadow_satp=None, shadow_source=None,
                 predict: bool = False, hart: int = 0, **kwargs):
        super().__init__(predict=predict, **kwargs)
        memory, self.csrs = resolve(source, hart)
        self.source, self.read64 = source, reader(memory)
        self._from_machine = vsatp is None and hgatp is None and self.csrs is not None
        if not self._from_machine and (vsatp is None or hgatp is None):
            raise ValueError("give both vsatp and hgatp, or a Machine to read them from")
        self.regs = {"vsatp": vsatp, "hgatp": hgatp, "sum": sum, "mxr": mxr, "gmxr": gmxr}
        self.priv = priv
        self.shadow_satp = getattr(shadow_satp, "satp", shadow_satp)     # a Root: its satp
        self.shadow_read64 = reader(shadow_source) if shadow_source is not None else None
        self.predictions: list[dict] = []
        self._hidden = None
        self.result: sv39.Walk2 | None = None
        self.on_msg(self._on_msg)
        self.show(gva, access)

    def _regs(self) -> dict:
        return guest_view(self.csrs) if self._from_machine else dict(self.regs)

    def show(self, gva: int, access: str = "load") -> sv39.Walk2:
        """Walk ``gva`` for ``access`` and draw it (the browser animates the new walk)."""
        r = self._regs()
        w, scene = walk2_scene(self.read64, r["vsatp"], r["hgatp"], gva, access, priv=self.priv,
                               sum=r["sum"], mxr=r["mxr"], gmxr=r["gmxr"],
                               shadow_satp=self.shadow_satp, shadow_read64=self.shadow_read64)
        self.result = w
        if self.predict:
            self._ask(w, scene)
        else:
            self._draw(w, scene)
        return w

    def _draw(self, w: sv39.Walk2, scene: Scene, verdict: str | None = None) -> None:
        """Send the walk (and, after a prediction, its verdict) in one message: the page never
        sees the one without the other."""
        result = (f"gva {w.gva:#x} → gpa {w.gpa:#x} → hpa {w.hpa:#x}" if w.ok
                  else f"fault {w.fault}: {w.reason}")
        with self.hold_sync():
            self.walk = {"gva": f"{w.gva:#x}", "access": w.access, "ok": w.ok, "result": result,
                         "fault": w.fault, "refs": len(w.refs), "asking": False,
                         "stages": "".join("G" if r.stage == "G" else "V" for r in w.refs)}
            self.scene = scene.to_json()
            if verdict is not None:
                self.verdict = verdict
            self.updates += 1

    def _ask(self, w: sv39.Walk2, scene: Scene) -> None:
        """Draw only the address; the walk waits for :meth:`answer`."""
        self._hidden = (w, scene)
        bar = Scene()
        _address(bar, w.gva, sv39.canonical(w.gva))
        with self.hold_sync():
            self.walk = {"gva": f"{w.gva:#x}", "access": w.access, "ok": None, "fault": None,
                         "result": "predict first: how many memory references will this walk make?",
                         "refs": None, "asking": True, "stages": ""}
            self.scene = bar.to_json()
            self.verdict = ""
            self.updates += 1

    def answer(self, prediction) -> bool:
        """The student's predicted number of memory references: recorded, then the walk is
        revealed.  True if right."""
        if self._hidden is None:
            raise ValueError("no walk is waiting for a prediction: call show() first")
        w, scene = self._hidden
        truth = len(w.refs)
        try:
            guess = int(str(prediction).strip(), 0)
        except ValueError:
            guess = None
        right = guess == truth
        self.predictions.append({"gva": w.gva, "access": w.access, "answer": prediction,
                                 "truth": truth, "right": right})
        self._hidden = None
        self._draw(w, scene, f"your prediction {prediction}: " +
                   ("right" if right else f"not right -- the walk made {truth}"))
        return right

    def refresh(self) -> None:
        """Walk the same address again (the guest may have changed its tables or CSRs)."""
        if self.result is None or self._hidden is not None:
            return
        r = self._regs()
        w = sv39.walk2(self.read64, r["vsatp"], r["hgatp"], self.result.gva, self.result.access,
                       priv=self.priv, sum=r["sum"], mxr=r["mxr"], gmxr=r["gmxr"])
        if w.refs != self.result.refs or w.hpa != self.result.hpa or w.fault != self.result.fault:
            self.show(w.gva, w.access)

    def text(self) -> str:
        if self._hidden is not None:
            w = self._hidden[0]
            return f"{w.access} gva {w.gva:#x}: predict the number of memory references, then answer()"
        return walk2_text(self.result) if self.result else "(no walk)"

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") == "predict" and self._hidden is not None:
            self.answer(content.get("answer", ""))
        elif content.get("type") == "walk":
            try:
                gva = int(str(content.get("gva", "0")).replace("_", ""), 0)
            except ValueError:
                return
            access = content.get("access", "load")
            self.show(gva, access if access in ("fetch", "load", "store") else "load")
