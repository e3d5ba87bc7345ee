"""Debian's Linux as a guest in a lab: boot it under the hypervisor and watch it boot.

Lab 03's last part uses these, so that its cells stay about the lesson:

- :func:`linux_vm`: Debian's kernel + our busybox initramfs, booted in virtual S-mode with
  the hypervisor as its SBI firmware -- or None, after printing the command that fetches
  the guest (in CI, where the guest is fetched first, a missing guest is an error);
- :class:`GuestPageTables`: the page-table tree drawn for whichever address space the guest
  runs in *now* (its virtual satp), redrawn from the new root when the guest switches;
- :class:`CurrentShadow`: the shadow tables of that address space beside the guest's;
- :class:`ExitTally`: exits counted by cause, by handler and -- for CSR exits -- by CSR and
  kind of access, read from the trace as it grows (the trace keeps only its newest records,
  the tally sees every one);
- :func:`boot_to_shell`: run until the shell prompt, refreshing the views a few times a second.

Reading the guest's RAM goes through :class:`GuestRam`, which never backs a page the guest
has not touched (a view must not change what it looks at).
"""
from __future__ import annotations

import os
import time
from collections import Counter

import ipywidgets

from vmlab import sv39
from vmlab.guests import linux
from vmlab.hv import Hypervisor
from vmlab.hv.shadow import EVENT_NAMES
from vmlab.hv.trace import EXIT, SHADOW
from vmlab.isa.causes import INTERRUPT_BIT, cause_of
from vmlab.isa.csrs import csr_name
from vmlab.machine import Machine
from vmlab.viz import GuestVsShadow, PageTableTree, Throttle

PAGE = sv39.PAGE_SIZE
#: host RAM beyond the guest's: the shadow tables and the hypervisor's slack (what
#: ``vmlab run --hv`` gives a guest too)
HOST_EXTRA = 64 << 20
PROMPT = "vmlab# "
#: funct3 of the Zicsr instructions -> what the access does
CSR_OPS = {1: "write", 2: "set", 3: "clear", 5: "write", 6: "set", 7: "clear"}


def linux_vm(ram: int = 256 << 20, shadow: str = "sfence"):
    """Debian's Linux booted as a guest (not run yet), or None when it is not fetched."""
    try:
        kernel, initrd, cmdline = linux.boot_files()
    except linux.GuestMissing as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise                      # CI fetches the guest first: missing is a failure there
        print(f"{exc}\n(the rest of this part is skipped; after fetching, run it again)")
        return None
    hv = Hypervisor(Machine(ram_size=ram + HOST_EXTRA))
    vm = hv.create_vm(ram_size=ram, shadow=shadow)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    return vm


class GuestRam:
    """A VM's guest-physical RAM with a Machine's ``read_mem``, for the picture widgets.

    A page the guest never touched has no host frame yet; it reads as zeros (what the
    guest would read) without being given one."""

    def __init__(self, vm):
        self.mem = vm.mem

    def read_mem(self, gpa: int, n: int) -> bytes:
        if not self.mem.contains(gpa, n):
            raise ValueError(f"gpa {gpa:#x}+{n} is outside guest RAM")
        out = bytearray()
        while n:
            chunk = min(n, PAGE - (gpa & (PAGE - 1)))
            # untouched pages read as zeros without a frame; a swapped-out page is read back
            out += self.mem.read(gpa, chunk) if self.mem.holds_data(gpa) else bytes(chunk)
            gpa, n = gpa + chunk, n - chunk
        return bytes(out)


class GuestPageTables(ipywidgets.VBox):
    """The tree of the guest's page tables under its vCPU's current satp.

    A process switch changes satp, and with it the whole tree: the view then draws a new
    :class:`~vmlab.viz.PageTableTree` from the new root.  ``roots`` lists every root seen.
    """

    def __init__(self, vcpu, **kwargs):
        super().__init__(**kwargs)
        self.vcpu, self.ram = vcpu, GuestRam(vcpu.vm)
        self.satp: int | None = None
        self.roots: list[int] = []
        self.tree: PageTableTree | None = None
        self.note = ipywidgets.HTML()
        self.refresh()

    def _reroot(self, satp: int) -> bool:
        """Draw the tree of ``satp`` if the guest switched to it; True if it did."""
        if satp == self.satp:
            return False
        self.satp = satp
        mode, asid, ppn = sv39.satp_fields(satp)
        if mode != sv39.SATP_MODE_SV39:
            self.note.value = f"guest satp {satp:#x}: paging off, nothing to draw yet"
            return False
        if ppn << 12 not in self.roots:
            self.roots.append(ppn << 12)
        old, self.tree = self.tree, PageTableTree(self.ram, ppn << 12, title=f"guest satp {satp:#x}")
        self.note.value = (f"the guest's tables under satp {satp:#x} (ASID {asid}); "
                           f"{len(self.roots)} address spaces seen so far")
        self.children = (self.note, self.tree)
        if old is not None:
            old.close()
        return True

    def refresh(self) -> None:
        if not self._reroot(self.vcpu.csr("satp")) and self.tree is not None:
            self.tree.refresh()

    def live_refresh(self) -> None:
        if not self._reroot(self.vcpu.csr("satp")) and self.tree is not None:
            self.tree.live_refresh()

    def text(self) -> str:
        return self.tree.text() if self.tree is not None else self.note.value


class CurrentShadow(GuestVsShadow):
    """:class:`~vmlab.viz.GuestVsShadow` on the address space the guest runs in now.

    The shadow tree drawn is the one for the vCPU's current satp *as user mode sees it*
    once a user process has run there (its pages are the first rows, and they fill as the
    process runs), else the tree the vCPU is on (the kernel's, early in the boot).  A tree
    picked from the drop-down stays picked."""

    def __init__(self, vm, vcpu=None, **kwargs):
        self.vcpu, self._picked = vcpu or vm.vcpus[0], False
        super().__init__(vm, **kwargs)

    def current(self):
        if self._picked:
            return super().current()
        sp, satp = self.vm.shadow, self.vcpu.csr("satp")
        roots = list(sp.roots.values())
        user = [r for r in roots if not r.direct and r.guest_satp == satp and r.priv == "U"]
        now = sp.roots.get(sp.key_for(self.vcpu))
        return (user[0] if user else now if now is not None else super().current()[0]), roots

    def show_tree(self, index: int) -> None:
        self._picked = True
        super().show_tree(index)


def cause_text(code: int) -> str:
    """A trace cause code as vmlab.isa names it (bit 31: an interrupt)."""
    full = (code & 0x7FFF_FFFF) | (INTERRUPT_BIT if code & 0x8000_0000 else 0)
    c = cause_of(full)
    return c.name if c else hex(code)


def csr_access(insn: int) -> tuple[str, str]:
    """(CSR name, "read" | "write" | "set" | "clear" [+ " imm"]) of a Zicsr instruction.

    csrrs/csrrc with rs1 = x0 (or a zero immediate) only read; the immediate forms carry
    their 5-bit mask in the instruction itself (so ``csrsi sstatus, 2`` is visibly SIE)."""
    number, rs1, funct3 = insn >> 20, insn >> 15 & 31, insn >> 12 & 7
    name = csr_name(number) or f"csr {number:#x}"
    op = CSR_OPS.get(funct3, "?")
    if op in ("set", "clear") and rs1 == 0:
        op = "read"
    elif funct3 >= 5:
        op += f" imm {rs1:#x}"
    return name, op


class ExitTally:
    """Counts of a VM's trace, kept up to date by :meth:`update` (call it often: records
    the trace has already dropped cannot be counted).

    - ``causes``: exits by cause name; ``handlers``: exits by the handler that ran;
    - ``csrs``: CSR exits by (CSR, access); ``shadow``: shadow-paging events by name;
    - ``switches``: shadow root switches by the exit just before them (the one whose
      handling changed what the next tree must be: satp, the virtual privilege, SUM, MXR).
    """

    def __init__(self, trace):
        self.trace, self.seq = trace, 0
        self.causes, self.handlers = Counter(), Counter()
        self.csrs, self.shadow, self.switches = Counter(), Counter(), Counter()
        self.missed = 0
        self._last = "(start)"

    def update(self) -> None:
        new = self.trace.since(self.seq)
        if len(new):
            self.missed += int(new["seq"][0]) - self.seq
            self.seq = int(new["seq"][-1]) + 1
        names = self.trace.names
        for kind, cause, handler, insn in zip(new["kind"], new["cause"], new["handler"], new["insn"]):
            if kind == EXIT:
                self._exit(int(cause), names[handler], int(insn))
            elif kind == SHADOW:
                event = EVENT_NAMES.get(int(cause), str(cause))
                self.shadow[event] += 1
                if event == "root_switch":       # on the way back in, after this exit
                    self.switches[self._last] += 1

    def _exit(self, cause: int, handler: str, insn: int) -> None:
        self.causes[cause_text(cause)] += 1
        self.handlers[handler] += 1
        self._last = handler
        if handler == "csr":
            access = csr_access(insn)
            self.csrs[access] += 1
            self._last = " ".join(access)

    @property
    def exits(self) -> int:
        return sum(self.causes.values())

    def table(self, counter: Counter, title: str, top: int = 12) -> str:
        total = sum(counter.values()) or 1
        lines = [title]
        for key, n in counter.most_common(top):
            words = " ".join(key) if isinstance(key, tuple) else key
            lines.append(f"  {words:<28} {n:9,}  {100 * n / total:5.1f} %")
        return "\n".join(lines)


def boot_to_shell(vm, views=(), tally: ExitTally | None = None, prompt: str = PROMPT,
                  budget: int = 8_000_000_000, chunk: int = 2_000_000, rate: float = 4.0):
    """Run ``vm`` until ``prompt`` appears (or ``budget`` instructions); the views are
    refreshed a few times a second, the tally after every chunk.  Returns (RunResult,
    instructions, wall seconds).  Where it stops depends only on the guest: the prompt."""
    throttle, done, t0 = Throttle(rate), 0, time.perf_counter()
    r = None
    while done < budget:
        r = vm.run(instructions=min(chunk, budget - done), until_output=prompt)
        done += r.instructions
        if tally is not None:
            tally.update()
        if r.reason != "budget":
            break
        if throttle.ready():
            for v in views:
                getattr(v, "live_refresh", v.refresh)()
    for v in views:
        v.refresh()
    return r, done, time.perf_counter() - t0


def shares(counter: Counter) -> dict[str, float]:
    """Each key's share of the total, in percent (for the lab's questions)."""
    total = sum(counter.values())
    return {k: 100.0 * n / total for k, n in counter.items()} if total else {}




# ---- the part's questions ---------------------------------------------------------------------
#: the exit handlers the prediction ranks (names as the trace writes them)
RANKED = ("csr", "sfence.vma", "fill", "sbi", "mmio")

#: changes to the hypervisor (or the hardware) a student may pick, and the exits each removes
SAVINGS = {
    "sstatus": "the guest reads and writes its own sstatus without an exit",
    "sfence": "sfence.vma never exits (coherence kept some other way)",
    "fill": "every shadow entry is there before the guest needs it",
    "sbi": "SBI calls are answered without leaving the guest",
}


def saving(tally: ExitTally, change: str) -> int:
    """Exits of the boot that ``change`` (a key of SAVINGS) would have removed."""
    if change == "sstatus":
        return sum(n for (csr, _), n in tally.csrs.items() if csr == "sstatus")
    return tally.handlers[{"sfence": "sfence.vma", "fill": "fill", "sbi": "sbi"}[change]]


def check_ranking(ranking, tally: ExitTally):
    """The student's predicted order of RANKED (most frequent first) against the boot's."""
    from vmlab.notebook.selfcheck import Feedback
    fb = Feedback("Linux boot: your prediction")
    if sorted(ranking or ()) != sorted(RANKED):
        fb.add(False, f"rank exactly these five handlers: {', '.join(RANKED)}")
        return fb
    actual = sorted(RANKED, key=lambda h: -tally.handlers[h])
    for place, (mine, real) in enumerate(zip(ranking, actual), 1):
        fb.add(mine == real, f"place {place}: {mine}" + ("" if mine == real else " -- not this one"))
    return fb


def check_saving(change, percent, tally: ExitTally):
    """Which change removes the most exits, and what share of all the boot's exits that is."""
    from vmlab.notebook.selfcheck import Feedback
    fb = Feedback("Linux boot: where the exits go")
    if change not in SAVINGS:
        fb.add(False, f"pick one of {', '.join(repr(k) for k in SAVINGS)}")
        return fb
    best = max(SAVINGS, key=lambda k: saving(tally, k))
    fb.add(change == best, f"'{change}' removes {'the most' if change == best else 'fewer'} exits"
           + ("" if change == best else ": compare the counts of every candidate"))
    want = 100.0 * saving(tally, change) / max(1, tally.exits)
    ok = percent is not None and abs(float(percent) - want) <= 0.5
    fb.add(ok, f"share of all exits for '{change}': " + ("right" if ok else
           "not yet (a percentage of tally.exits, from the tally's counts)"))
    return fb
