"""Binary translation: making a hart that breaks Popek and Goldberg's rule virtualizable again.

With the machine's quirk on (``Q_SENSITIVE_READ``: a U-mode ``csrr rd, sstatus`` returns the
*real* sstatus instead of trapping), trap-and-emulate is not enough: the guest kernel, run
in real U-mode, reads the hypervisor's sstatus and never exits, so no emulation can fix
the answer.  VMware's answer on x86 (1999) was to never run guest kernel code as it is:
scan it first, and rewrite the sensitive instructions.  Ours does the same, simply:

1. **When:** on the first execution of each guest code page.  The shadow pager is the hook
   (:class:`TranslatingShadow`): a shadow leaf gets execute permission only through a
   fetch fault, and the translator scans the page before granting it.  Loads and stores
   fill leaves *without* X, so no code runs that was not scanned.
2. **What:** basic blocks, by recursive descent from the entry pc -- a block ends at a
   branch, jump or SYSTEM instruction; its successors on the same page (branch targets,
   fall-throughs, return points after calls) are scanned in turn -- and then a sweep of the
   rest of the page for the sensitive pattern, for blocks that only indirect jumps reach.
   Blocks and pages are cached: a page is scanned once.
3. **How:** every sensitive instruction (a read of sstatus that writes nothing) is
   replaced in guest memory by ``ebreak``; a side table keeps the original word.  When the
   ebreak traps, the hypervisor emulates the *original* instruction on the virtual hart
   (handler ``bt``), so the guest reads its virtual sstatus, as it should.
4. **Coherence:** a translated page's leaves are never writable.  A guest store to it
   exits; the store is done for the guest, the page's patches and blocks are forgotten
   (its other patched words are restored), and its leaves are dropped -- the next
   execution faults and scans the new code (W xor X, page by page).

Counts -- blocks translated, instructions patched, emulations, invalidations -- are in
:attr:`Translator.counters`, and each translation and patch is a record in the VM's trace
(kind SHADOW, handler ``bt-block`` / ``bt-patch`` / ``bt-flush``).  A real translator
does not trap at all: it emits a call to an emulation routine inside the translation cache.
What we keep is its first half, the scan and the rewrite; the patched word is visible to
a guest that reads its own code (a translation cache hides that), which this guest never does.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv import exits
from vmlab.hv.csr_emul import emulate_csr
from vmlab.hv.exit_types import reflect_same
from vmlab.hv.shadow import Fault, ShadowPaging
from vmlab.hv.trace import SHADOW
from vmlab.isa.fields import FIELDS
from vmlab.machine import layout as L
from vmlab.machine.rvc import expansion_table
from vmlab.machine.system import EBREAK, ECALL
from vmlab.sv39 import PTE_W, PTE_X

PAGE = 4096
BRANCH, JAL, JALR, SYSTEM = 0x63, 0x6F, 0x67, 0x73
BT_BLOCK, BT_PATCH, BT_FLUSH = 32, 33, 34          # trace event codes (kind SHADOW)
COUNTERS = ("pages", "blocks", "patched", "swept", "emulated", "invalidations")


def set_sensitive_read(machine, on: bool = True) -> None:
    """Switch the machine's Popek-Goldberg quirk on or off (vmlab.machine.csr)."""
    if on:
        machine.ctl[L.C_QUIRKS] |= L.Q_SENSITIVE_READ
    else:
        machine.ctl[L.C_QUIRKS] &= ~L.Q_SENSITIVE_READ


def is_sensitive(word: int) -> bool:
    """csrr-style reads of sstatus: csrrs/csrrc with rs1 = x0, csrrsi/csrrci with uimm 0
    (they read without writing, so U-mode with the quirk does not trap on them)."""
    f3 = (word >> 12) & 7
    return (word & 0x7F == SYSTEM and word >> 20 == L.SSTATUS and f3 in (2, 3, 6, 7)
            and (word >> 15) & 31 == 0)


def decode(halfwords: int) -> tuple[int, int]:
    """(length in bytes, the 32-bit instruction it is or stands for) of the bits at a pc."""
    if halfwords & 3 != 3:
        return 2, int(expansion_table()[halfwords & 0xFFFF])
    return 4, halfwords & 0xFFFF_FFFF


def successors(pc: int, length: int, word: int) -> tuple[bool, list[int]]:
    """(does the block end here, the pcs execution may go to next that we can know)."""
    op, nxt = word & 0x7F, pc + length
    if op == BRANCH:
        return True, [pc + FIELDS["imm_b"].extract(word), nxt]
    if op == JAL:
        rd = (word >> 7) & 31
        return True, [pc + FIELDS["imm_j"].extract(word)] + ([nxt] if rd else [])
    if op == JALR:
        return True, [nxt] if (word >> 7) & 31 else []
    if op == SYSTEM and (word >> 12) & 7 == 0:
        return True, [nxt] if word in (ECALL, EBREAK) else []
    return False, [nxt]


class Translator:
    """The binary translator of one VM: its side table, scanned pages and counters."""

    def __init__(self, vm):
        self.vm = vm
        self.side: dict[int, int] = {}           # gpa of a patched word -> original word
        self.pages: set[int] = set()             # gpa pages scanned (and not since written)
        self.blocks: dict[int, set] = {}         # gpa page -> gva of its blocks' starts
        self.counters = dict.fromkeys(COUNTERS, 0)
        # ``pages`` as the compiled exit path reads it: one byte per guest page, 1 = scanned
        # (its fills then keep X off unscanned pages and W off scanned ones, as _place does)
        self.scanned = np.zeros(max(1, vm.mem.size // PAGE), dtype=np.int8)

    def _mark(self, page: int, scanned: bool) -> None:
        i = page - (self.vm.mem.gpa_base >> 12)
        if 0 <= i < len(self.scanned):
            self.scanned[i] = scanned

    # --- scanning a page ---------------------------------------------------------------------
    def translate_page(self, vcpu, gva: int, gpa: int) -> None:
        """Scan the page of ``gpa`` (entered at ``gva``) if it is not scanned yet."""
        page = gpa >> 12
        if page in self.pages:
            self._scan_blocks(vcpu, gva, gpa)    # a new entry: its blocks, if new
            return
        self.pages.add(page)
        self._mark(page, True)
        self.blocks[page] = set()
        self.counters["pages"] += 1
        covered = self._scan_blocks(vcpu, gva, gpa)
        self._sweep(vcpu, gva, page, covered)

    def _scan_blocks(self, vcpu, gva: int, gpa: int) -> set:
        """Recursive descent over the basic blocks reachable from ``gva`` on its page."""
        base_gva, page = gva & ~(PAGE - 1), gpa >> 12
        work, covered = [gva], set()
        while work:
            start = work.pop()
            if start in self.blocks[page] or start & ~(PAGE - 1) != base_gva:
                continue
            self.blocks[page].add(start)
            self.counters["blocks"] += 1
            self._record(vcpu, BT_BLOCK, start, page)
            work.extend(self._scan_block(vcpu, start, (page << 12) - base_gva, covered))
        return covered

    def _scan_block(self, vcpu, start: int, to_gpa: int, covered: set) -> list[int]:
        """Patch one block's sensitive instructions; return its successors."""
        pc = start
        while (pc & (PAGE - 1)) <= PAGE - 4:
            gpa = pc + to_gpa
            length, word = decode(self._word(gpa))
            covered.update(range(gpa, gpa + length, 2))
            if length == 4 and is_sensitive(word):
                self._patch(vcpu, pc, gpa, word)
            ends, nexts = successors(pc, length, word)
            if ends:
                return nexts
            pc += length
        return []                                 # runs off the page: the next page's scan

    def _sweep(self, vcpu, gva: int, page: int, covered: set) -> None:
        """Patch the sensitive pattern wherever descent did not reach (every halfword)."""
        base_gpa, base_gva = page << 12, gva & ~(PAGE - 1)
        for off in range(0, PAGE - 2, 2):
            gpa = base_gpa + off
            if gpa not in covered and gpa not in self.side and is_sensitive(self._word(gpa)):
                self._patch(vcpu, base_gva + off, gpa, self._word(gpa))
                self.counters["swept"] += 1

    def _word(self, gpa: int) -> int:
        return int.from_bytes(self.vm.mem.read(gpa, 4), "little")

    def _patch(self, vcpu, gva: int, gpa: int, word: int) -> None:
        self.side[gpa] = word
        self.vm.mem.write(gpa, EBREAK.to_bytes(4, "little"))
        self.counters["patched"] += 1
        self._record(vcpu, BT_PATCH, gva, word)

    # --- a write to a scanned page -------------------------------------------------------------
    def invalidate(self, vcpu, gpa: int) -> None:
        """The guest wrote into a scanned page: forget it; restore the patched words it did
        not overwrite (the written bytes are the guest's new code)."""
        page = gpa >> 12
        for patched in [p for p in self.side if p >> 12 == page]:
            original = self.side.pop(patched)
            if self._word(patched) == EBREAK:
                self.vm.mem.write(patched, original.to_bytes(4, "little"))
        self.pages.discard(page)
        self._mark(page, False)
        self.blocks.pop(page, None)
        self.counters["invalidations"] += 1
        self._record(vcpu, BT_FLUSH, gpa, page)

    def _record(self, vcpu, code: int, tval: int, arg: int) -> None:
        self.vm.trace.record(SHADOW, time=self.vm.time(), vm=self.vm.id,
                             vcpu=getattr(vcpu, "id", 0), cause=code, tval=tval, insn=arg,
                             handler={BT_BLOCK: "bt-block", BT_PATCH: "bt-patch",
                                      BT_FLUSH: "bt-flush"}[code])


class TranslatingShadow(ShadowPaging):
    """The shadow pager with the translator's hooks: X only through a scanned fetch, and
    no W on scanned pages (a store there exits as a write-protect fault)."""

    def __init__(self, vm, translator: Translator, **kw):
        super().__init__(vm, **kw)
        self.translator = translator

    def _place(self, vcpu, root, access, gva, gpa, perms, level, pte_gpas) -> Fault:
        tr, page = self.translator, gpa >> 12
        if self.vm.mem.contains(gpa):
            if access == "fetch":
                tr.translate_page(vcpu, gva, gpa)
            elif page in tr.pages and access == "store":
                return Fault("wp", L.CAUSE_STORE_PAGE, gva, gpa, "store to translated code")
            if page in tr.pages:
                perms &= ~PTE_W                  # scanned code: a store must exit
            elif access != "fetch":
                perms &= ~PTE_X                  # not scanned: no execution before a fetch fault
        return super()._place(vcpu, root, access, gva, gpa, perms, level, pte_gpas)

    def after_pt_write(self, vcpu, gpa: int) -> None:
        """The core did a guest store we stopped (vmlab.hv.mmio.page_table_write)."""
        if (gpa >> 12) in self.translator.pages:
            self.translator.invalidate(vcpu, gpa)
            self.invalidate_gpa(gpa)             # refill: W without X until run again
            vcpu.tlb_stale = True
        if self._pt_refs[gpa >> 12] > 0:
            super().after_pt_write(vcpu, gpa)


def attach(vm) -> Translator:
    """Give ``vm`` a binary translator (before it boots): its shadow pager becomes a
    :class:`TranslatingShadow` with the same coherence strategy."""
    tr = Translator(vm)
    vm.shadow = TranslatingShadow(vm, tr, strategy=vm.shadow.strategy)
    vm.translator = tr
    # The compiled exit path fills shadow entries itself, past _place: it leaves every fetch
    # fault (the translator's scan) and every store to a scanned page to Python, and reads
    # ``tr.scanned`` to take X off the leaves of pages not scanned (vmlab.hv.fast_shadow).
    return tr


def on_breakpoint(vcpu, ex) -> str:
    """An ebreak exit: ours (a patched sensitive instruction: emulate the original on the
    virtual hart) or the guest's own (reflected, as without a translator)."""
    tr = getattr(vcpu.vm, "translator", None)
    gpa = vcpu.gva_to_gpa(ex.pc, "fetch") if tr is not None else None
    if gpa is None or gpa not in tr.side:
        return reflect_same(vcpu, ex)
    ex.insn = tr.side[gpa]
    tr.counters["emulated"] += 1
    handler = emulate_csr(vcpu, ex)
    if handler == "csr":
        vcpu.retire(ex.insn)
        return "bt"
    return handler


# ebreak exits come here; without a translator they are reflected as before
exits.HANDLERS.setdefault(L.CAUSE_BREAKPOINT, on_breakpoint)
