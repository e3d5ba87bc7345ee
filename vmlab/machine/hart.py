"""The hot loop: fetch, decode and execute unprivileged RV64IMAC instructions.

:func:`exec_hart` runs one hart until it has done ``limit`` instructions or meets something
that needs a wider view: a SYSTEM instruction (CSR access, ecall, mret, wfi, sfence.vma --
left for :func:`vmlab.machine.system.exec_system`), an exception, a device access, a
breakpoint.  It returns how many steps it took (an instruction that traps is a step too, so
a guest that faults forever still uses up its budget).

Its pieces: fetch.py (the fetch window), alu.py (arithmetic on numbers), loadstore.py (the
loads' and stores' fast paths and slow ends); here the switch on (opcode, funct3), other()
for the instructions it leaves, and settle() for whatever is not a plain success.

Why this shape -- measured with ``vmlab bench``'s workload, CPU time, medians of 5-9 runs
of 10^8 instructions, each variant in the same process as the tree before the split
(208-215 MIPS; unicorn 170-173):
- numba compiles each ``@jit`` function on its own; LLVM inlines the small ones, and then
  their arguments -- arrays, tuples, several return values -- cost nothing: fetch_word,
  load, store, write_rd.  The loop as it is: 225-228 MIPS against 206-215 for the single
  340-line function before (ratio to unicorn 1.29 against 1.19-1.23; identical code run
  twice differs by up to 3%).  Each compiled function adds to the cold compile, so the
  tiny ones that take only numbers, or run rarely, are numba-inlined instead (in_window,
  take_fault, time_allowed): cold compile 44.2 s CPU, as before the split.
- numba counts a reference for every array a function takes; LLVM drops the pairs only if
  the function uses each array alike on every path.  A load helper that wrote rd only on
  its fast path kept atomic reference counting on every load and was no longer inlined:
  71.6 MIPS.  (tests/machine/test_hot_helpers.py guards this.)
- The switch itself cannot leave this function.  As a plain ``@jit`` callee (too big for
  LLVM to inline: a real call per instruction) the loop ran at 12.9 MIPS; with numba's
  ``inline="always"`` (which copies the arrays, with reference counting, at every step)
  at 23.1 MIPS.  So the cases stay here, one line each, as a table.
- Carrying the fetched bits of a compressed instruction in ``tval`` through the fetch (as
  before the split) instead of returning ``raw``: -6%.
"""
from __future__ import annotations

import numpy as np

from vmlab.isa.instructions import BY_MNEMONIC
from vmlab.isa.paging import (HGATP_VMID_MASK, HGATP_VMID_SHIFT, SATP_ASID_MASK, SATP_ASID_SHIFT,
                              SATP_MODE_SHIFT, SATP_MODE_SV39)
from vmlab.machine.alu import alu, alu_imm, branch, compute, imm_i, imm_j, imm_u
from vmlab.machine.atomics import exec_amo
from vmlab.machine.bits import sext32, srl
from vmlab.machine.csr import MISA_M, has_h
from vmlab.machine.fetch import NO_WINDOW, fetch_slow, fetch_word, in_window
from vmlab.machine.fphart import exec_float, is_float
from vmlab.machine.jit import jit
from vmlab.machine.layout import (
    ACC_FETCH, ACC_LOAD, ACC_STORE, C_FAULT, C_FAULT_TVAL, C_INSTRET, C_MMIO, C_NBP, C_RAM_BASE,
    TLB_CTX, TLB_PPAGE, TLB_TAG,
    C_RAM_SIZE, C_SKIP_BP, C_SLICE_POS, C_SYS_INSN, C_TLB_HIT, CAUSE_ILLEGAL, D_TICKS,
    D_TOHOST, MCYCLE, MINSTRET, MISA, MS_MPP, MS_MPP_SHIFT, MS_MPRV, MS_MXR, MS_SUM, MSTATUS, PC,
    PRIV, PRIV_M, PRIV_S, SATP, MCOUNTEREN, MCOUNTINHIBIT, SCOUNTEREN, TLB_COLS, TLB_SETS,
    XREG, C_HGATP, C_VSATP, HCOUNTEREN, HGATP, HTIMEDELTA, MS_MPV, VIRT, VSATP, VSSTATUS,
    C_EXIT, C_GUEST_VA, C_MMIO_RD, C_MMIO_SIGNED, CAUSE_VIRTUAL, EXIT_MMIO, EXIT_NONE,
    HS_HU, HS_SPVP, HSTATUS, PRIV_U, C_FAULT_TINST, CAUSE_LOAD_GUEST_PAGE, CAUSE_STORE_GUEST_PAGE,
)
from vmlab.machine.bus import load_slow, ram_offset, store_slow
from vmlab.machine.loadstore import (
    CHECK, DONE, HTIF, LEAVE, SLOW_LOAD, SLOW_STORE, STOP, DataView, extend, finish_htif,
    finish_load, finish_store, load, store,
)
from vmlab.machine.mmu import CTX_VIRT, context, guest_context, vs_mode_bit
from vmlab.machine.tinst import access_va, transformed
from vmlab.machine.trap import enter_trap


# Access widths and funct3 values of loads and stores, as numpy scalars: numba compiles a
# separate copy of a function for every *literal* int passed to it (the compiler makes these
# constants anyway once it has inlined the call).
W1, W2, W4, W8 = np.int64(1), np.int64(2), np.int64(4), np.int64(8)
LB, LH, LW, LD, LBU, LHU, LWU = (np.int64(f3) for f3 in (0, 1, 2, 3, 4, 5, 6))
SB, SH, SW, SD = (np.int64(f3) for f3 in (0, 1, 2, 3))


def switch_key(mnemonic: str) -> int:
    """The key of the first switch in exec_hart for an instruction: its opcode bits 6..2 and
    funct3 (bits 14..12), taken from the instruction's row in the table (vmlab.isa), so that
    the hand-written decoder cannot drift from it."""
    match = BY_MNEMONIC[mnemonic].match
    return ((match >> 2) & 31) | (((match >> 12) & 7) << 5)


(K_ADDI, K_BEQ, K_BNE, K_BLT, K_BGE, K_BLTU, K_BGEU, K_ADD, K_XOR, K_ANDI, K_XORI, K_ORI,
 K_SLLI, K_SRLI, K_LD, K_LBU, K_LW, K_LB, K_LWU, K_LH, K_LHU, K_SD, K_SB, K_SW, K_SH,
 K_JALR, K_ADDIW, K_JAL, K_LUI) = (switch_key(m) for m in (
    "addi", "beq", "bne", "blt", "bge", "bltu", "bgeu", "add", "xor", "andi", "xori", "ori",
    "slli", "srli", "ld", "lbu", "lw", "lb", "lwu", "lh", "lhu", "sd", "sb", "sw", "sh",
    "jalr", "addiw", "jal", "lui"))


@jit
def data_view(c, dev, ctl, h):
    """What loads and stores need to know for a stretch (loadstore.DataView).  Translation
    and the TLB context: MPRV makes M-mode loads and stores use MPP's view (and MPV's: a
    guest's).  A guest (V=1) always translates, through its vsatp and the hgatp left in
    ctl for the walk."""
    satp, st, priv, virt = c[SATP], c[MSTATUS], c[PRIV], c[VIRT]
    if priv == PRIV_M and (st & MS_MPRV):
        priv = (st & MS_MPP) >> MS_MPP_SHIFT
        virt = 1 if priv != PRIV_M and (st & MS_MPV) else 0
    if virt != 0:
        vs = c[VSSTATUS]
        ctl[C_HGATP + h], ctl[C_VSATP + h] = c[HGATP], c[VSATP]
        ctx = guest_context(srl(c[VSATP], SATP_ASID_SHIFT) & SATP_ASID_MASK,
                            srl(c[HGATP], HGATP_VMID_SHIFT) & HGATP_VMID_MASK, priv,
                            (vs & MS_SUM) != 0, ((vs | st) & MS_MXR) != 0, (st & MS_MXR) != 0,
                            False) | vs_mode_bit(c[VSATP])
        return DataView((h * 3 + ACC_LOAD) * TLB_SETS * TLB_COLS,
                        (h * 3 + ACC_STORE) * TLB_SETS * TLB_COLS, True, ctx, ctl[C_RAM_BASE],
                        ctl[C_RAM_SIZE], dev[D_TOHOST], c[VSATP], h)
    vm = srl(satp, SATP_MODE_SHIFT) == SATP_MODE_SV39 and priv != PRIV_M
    ctx = context(srl(satp, SATP_ASID_SHIFT) & SATP_ASID_MASK, priv, (st & MS_SUM) != 0, (st & MS_MXR) != 0)
    return DataView((h * 3 + ACC_LOAD) * TLB_SETS * TLB_COLS,
                    (h * 3 + ACC_STORE) * TLB_SETS * TLB_COLS, vm, ctx, ctl[C_RAM_BASE],
                    ctl[C_RAM_SIZE], dev[D_TOHOST], satp, h)


@jit
def fetch_context(c):
    """Translation and TLB context of instruction fetch (no MPRV here); a guest's always
    translates (fetch.fetch_page picks vsatp)."""
    priv = c[PRIV]
    if c[VIRT] != 0:
        return True, guest_context(srl(c[VSATP], SATP_ASID_SHIFT) & SATP_ASID_MASK,
                                   srl(c[HGATP], HGATP_VMID_SHIFT) & HGATP_VMID_MASK, priv,
                                   False, False, False, False) | vs_mode_bit(c[VSATP])
    satp = c[SATP]
    vm = srl(satp, SATP_MODE_SHIFT) == SATP_MODE_SV39 and priv != PRIV_M
    return vm, context(srl(satp, SATP_ASID_SHIFT) & SATP_ASID_MASK, priv, False, False)


@jit(inline="always")
def time_allowed(c):
    """May rdtime read the clock here?  Else it traps (the counter-enable CSRs decide; a
    guest needs hcounteren too)."""
    priv = c[PRIV]
    return priv == PRIV_M or ((c[MCOUNTEREN] & 2) != 0
                              and (priv == PRIV_S or (c[SCOUNTEREN] & 2) != 0)
                              and (c[VIRT] == 0 or (c[HCOUNTEREN] & 2) != 0))


@jit(inline="always")
def first_window(tlb, ctl, h, pc, vm, ctx):
    """The fetch window on pc's page when it opens without a call: no breakpoint set, and
    pc's page translated by a TLB hit (or not translated) into RAM -- the window
    fetch.open_page would open, from the same TLB entry.  Otherwise none, and the first
    fetch opens it (fetch_slow) as always.  The hypervisor enters this loop afresh at
    every exit; the call that opened the window was ~7 % of an exit's CPU time."""
    if ctl[C_NBP] > 0:
        return NO_WINDOW
    page = pc & ~0xFFF
    pa = page
    if vm:
        e = tlb[h, ACC_FETCH, (page >> 12) & (TLB_SETS - 1)]
        if e[TLB_TAG] != page >> 12 or e[TLB_CTX] != ctx:
            return NO_WINDOW
        pa = e[TLB_PPAGE]
    elif page < 0 or page >= (1 << 56):
        return NO_WINDOW
    off = ram_offset(ctl, pa, 4096)
    if off < 0:
        return NO_WINDOW
    return page, np.int64(0xFFE), off - page


@jit
def write_rd(r, rd, result):
    """Write an ALU result (ok, value) to rd; an encoding the ALU does not know is illegal."""
    ok, v = result
    if ok:
        r[rd] = v
        return DONE
    return CAUSE_ILLEGAL


@jit(inline="always")
def take_fault(ctl):
    """(cause, tval) a slow path reported, clearing the report; (DONE, 0) if none."""
    cause = ctl[C_FAULT]
    if cause < 0:
        return DONE, 0
    ctl[C_FAULT] = -1
    return cause, ctl[C_FAULT_TVAL]


@jit
def other(r, mem, tlb, dev, io, ctl, c, w, pc, npc, dv, pos):
    """What the switches leave: SYSTEM (rdtime here, the rest by the run loop), LR/SC/AMOs
    and F/D (out of line), fences (nothing to do: one hart at a time, no cache), and
    illegal instructions.  Returns a cause for the hot loop (loadstore.DONE ...)."""
    op = w & 0x7F
    if op == 0x73 and ((w >> 12) & 7) == 4:             # HLV, HLVX, HSV
        ctl[C_SLICE_POS] = pos                          # a device may read the clock
        return exec_hlsv(r, mem, tlb, dev, io, ctl, c, w, dv.h)
    if op == 0x73:
        if (w & 0xFFFFF07F) == 0xC0102073 and time_allowed(c):  # rdtime: mtime, 10 MHz
            r[(w >> 7) & 31] = (dev[D_TICKS] + pos) // 100 + (c[HTIMEDELTA] if c[VIRT] else 0)
            return DONE
        ctl[C_SYS_INSN] = w | ((npc - pc) << 32)
        return LEAVE
    if op == 0x2F or is_float(op):
        c[PC] = pc
        ctl[C_SLICE_POS] = pos                          # a device may read the clock
        mmio = ctl[C_MMIO]
        if op == 0x2F:
            exec_amo(c, tlb, mem, ctl, dv.h, w, dv.vm, dv.ctx)
        else:
            exec_float(c, tlb, mem, dev, io, ctl, dv.h, w, dv.vm, dv.ctx)
        return STOP if ctl[C_MMIO] != mmio else CHECK      # (a device store: interrupts?)
    if op == 0x0F and ((w >> 12) & 7) <= 1:               # fence, fence.i
        return DONE
    return CAUSE_ILLEGAL


@jit
def exec_hlsv(r, mem, tlb, dev, io, ctl, c, w, h):
    """HLV/HLVX/HSV: a load or store made as the guest would make it -- V=1 at privilege
    hstatus.SPVP, two-stage translation, the guest's SUM and MXR -- from HS-mode or M-mode
    (or U-mode if hstatus.HU).  A guest (V=1) may not: a virtual-instruction exception.
    Returns a cause for the hot loop like finish_load (CHECK: a fault waits in ctl)."""
    size, signed, hlvx, store = hlsv_form(w)
    if size == 0 or not has_h(c):
        return CAUSE_ILLEGAL
    if c[VIRT] != 0:
        return CAUSE_VIRTUAL
    if c[PRIV] == PRIV_U and not (c[HSTATUS] & HS_HU):
        return CAUSE_ILLEGAL
    st, vs = c[MSTATUS], c[VSSTATUS]
    ctl[C_HGATP + h], ctl[C_VSATP + h] = c[HGATP], c[VSATP]
    ctx = guest_context(srl(c[VSATP], SATP_ASID_SHIFT) & SATP_ASID_MASK,
                        srl(c[HGATP], HGATP_VMID_SHIFT) & HGATP_VMID_MASK,
                        PRIV_S if c[HSTATUS] & HS_SPVP else PRIV_U, (vs & MS_SUM) != 0,
                        ((vs | st) & MS_MXR) != 0, (st & MS_MXR) != 0, hlvx) | vs_mode_bit(c[VSATP])
    va, mmio = r[(w >> 15) & 31], ctl[C_MMIO]
    if store:
        store_slow(tlb, mem, dev, io, ctl, h, c[VSATP], va, size, r[(w >> 20) & 31], ctx, True)
    else:
        raw = load_slow(tlb, mem, dev, io, ctl, h, c[VSATP], va, size, ACC_LOAD, ctx, True)
        f3 = (3 if size == 8 else 2 if size == 4 else 1 if size == 2 else 0) | (0 if signed else 4)
        if ctl[C_FAULT] < 0:
            r[(w >> 7) & 31] = extend(raw, f3)
            if ctl[C_EXIT] == EXIT_MMIO:               # Python finishes it (virtio)
                ctl[C_MMIO_RD], ctl[C_MMIO_SIGNED] = (w >> 7) & 31, f3
    if ctl[C_FAULT] >= 0:
        ctl[C_GUEST_VA] = 1                            # its tval is a guest virtual address
        return CHECK
    return STOP if ctl[C_MMIO] != mmio or ctl[C_EXIT] != EXIT_NONE else DONE


@jit
def hlsv_form(w):
    """(size, signed, hlvx, store) of an HLV/HLVX/HSV word; size 0 if it is none of them.
    funct7 is 0b0110 ww s (ww: log2 of the size, s: store); for loads rs2 says signed (0),
    unsigned (1) or HLVX (3, halfword and word only); stores have rd = 0."""
    f7, rs2, rd = w >> 25, (w >> 20) & 31, (w >> 7) & 31
    if (f7 >> 3) != 0b0110 or ((w >> 12) & 7) != 4:
        return 0, False, False, False
    size = 1 << ((f7 >> 1) & 3)
    if f7 & 1:
        return (size if rd == 0 else 0), False, False, True
    ok = rs2 == 0 or (rs2 == 1 and size < 8) or (rs2 == 3 and (size == 2 or size == 4))
    return (size if ok else 0), rs2 == 0, rs2 == 3, False


@jit
def settle(cause, r, mem, tlb, dev, io, ctl, w, raw, dv, pos):
    """After the switch, for anything but DONE: finish a load or store the fast path left,
    collect an exception a slow path reported.  Returns (cause, tval) -- DONE, STOP, LEAVE
    or an exception cause with its mtval (an illegal instruction reports its bits)."""
    if cause == SLOW_LOAD:
        cause = finish_load(r, mem, tlb, dev, io, ctl, w, dv, pos)
    elif cause == SLOW_STORE:
        cause = finish_store(r, mem, tlb, dev, io, ctl, w, dv, pos)
    elif cause == HTIF:
        cause = finish_htif(r, mem, tlb, dev, io, ctl, w, dv)
    fault, tval = take_fault(ctl)
    if fault >= 0:
        cause = fault
        if dv.ctx & CTX_VIRT:                           # a guest's access (V=1, or M-mode's
            ctl[C_GUEST_VA] = 1                         # MPRV with MPV): tval is a GVA
        if (fault == CAUSE_LOAD_GUEST_PAGE or fault == CAUSE_STORE_GUEST_PAGE) \
                and ctl[C_FAULT_TINST] == 0:            # explicit: not the walk's own access
            ctl[C_FAULT_TINST] = transformed(w, (raw & 3) != 3, tval - access_va(r, w))
    elif cause == CHECK:
        cause = DONE
    if cause == CAUSE_ILLEGAL or cause == CAUSE_VIRTUAL:
        tval = raw
    return cause, tval


@jit
def end_stretch(c, ctl, pc, n, hits, skip_bp, pos0, cause, tval):
    """Write the loop's locals back, take the exception that ended it, count what was done.
    Every step counts against the budget and the cycle counter, a trap included (so a guest
    that only traps still runs out of budget); only completed instructions count as retired."""
    c[XREG] = 0
    c[PC] = pc
    ntrap = 0
    if cause >= 0:
        enter_trap(c, ctl, cause, tval, False, c[VIRT] != 0 or ctl[C_GUEST_VA] != 0)
        ctl[C_GUEST_VA] = 0
        n += 1
        ntrap = 1
    ctl[C_SKIP_BP] = skip_bp
    ctl[C_SLICE_POS] = pos0 + n
    ctl[C_TLB_HIT] += hits
    ctl[C_INSTRET] += n - ntrap
    inhibit = c[MCOUNTINHIBIT]
    if not (inhibit & 4):
        c[MINSTRET] += n - ntrap
    if not (inhibit & 1):
        c[MCYCLE] += n
    return n


@jit
def exec_hart(cpu, mem, tlb, tlbf, dev, io, ctl, rvc, h, limit):
    """Run hart ``h`` for at most ``limit`` steps; returns the steps taken.  Each step:
    fetch, one switch, and for anything but a plain success (``cause`` left at DONE)
    settle().  The loop's state lives in locals, written back by end_stretch()."""
    c = cpu[h]
    r = c[XREG:XREG + 32]
    pc, pos0 = c[PC], ctl[C_SLICE_POS]
    fvm, fctx = fetch_context(c)
    dv = data_view(c, dev, ctl, h)
    win, skip_bp = first_window(tlb, ctl, h, pc, fvm, fctx), ctl[C_SKIP_BP]  # (fetch.py)
    n = hits = 0                                # steps taken, TLB hits of loads and stores
    # Machine(m_extension=False) clears misa.M: the ALU then rejects the M instructions.  A
    # flag into the ALU cost 4-8% here (vmlab bench, CPU MIPS 210/201 against 217/219 without);
    # a test-and-break before the switch had cost a third.
    has_m = (c[MISA] & MISA_M) != 0
    cause, tval = DONE, 0
    while n < limit:
        if in_window(win, pc):                  # the common case: one load
            w, raw, npc = fetch_word(mem, rvc, pc, win[2])
        else:
            w, raw, npc, win, skip_bp = fetch_slow(tlb, mem, ctl, rvc, h, c, pc, fvm, fctx,
                                                   win, skip_bp)
            if w < 0:                           # a breakpoint, or a fetch fault
                cause, tval = take_fault(ctl)
                break
        rd, rs1, rs2 = (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31
        # One switch on (opcode, funct3) for the common instructions -- LLVM turns the chain
        # of == tests into a jump table: one indirect jump per instruction.  Loads and stores
        # have a case per width, so that the size is a constant.
        k = ((w >> 2) & 31) | (((w >> 12) & 7) << 5)
        if k == K_ADDI:   r[rd] = r[rs1] + imm_i(w)                                 # addi (li, mv, nop)
        elif k == K_BEQ:  npc = branch(0, pc, npc, w, r[rs1], r[rs2])               # beq
        elif k == K_BNE:  npc = branch(1, pc, npc, w, r[rs1], r[rs2])               # bne
        elif k == K_BLT:  npc = branch(4, pc, npc, w, r[rs1], r[rs2])               # blt
        elif k == K_BGE:  npc = branch(5, pc, npc, w, r[rs1], r[rs2])               # bge
        elif k == K_BLTU: npc = branch(6, pc, npc, w, r[rs1], r[rs2])               # bltu
        elif k == K_BGEU: npc = branch(7, pc, npc, w, r[rs1], r[rs2])               # bgeu
        elif k == K_ADD:  cause = write_rd(r, rd, alu(0, w >> 25, r[rs1], r[rs2], has_m))  # add sub mul
        elif k == K_XOR:  cause = write_rd(r, rd, alu(4, w >> 25, r[rs1], r[rs2], has_m))  # xor div
        elif k == K_ANDI: r[rd] = r[rs1] & imm_i(w)                                 # andi
        elif k == K_XORI: r[rd] = r[rs1] ^ imm_i(w)                                 # xori
        elif k == K_ORI:  r[rd] = r[rs1] | imm_i(w)                                 # ori
        elif k == K_SLLI: cause = write_rd(r, rd, alu_imm(1, w, r[rs1]))            # slli
        elif k == K_SRLI: cause = write_rd(r, rd, alu_imm(5, w, r[rs1]))            # srli srai
        elif k == K_LD:   cause, hits = load(r, mem, tlbf, w, dv, hits, W8, LD)     # ld
        elif k == K_LBU:  cause, hits = load(r, mem, tlbf, w, dv, hits, W1, LBU)    # lbu
        elif k == K_LW:   cause, hits = load(r, mem, tlbf, w, dv, hits, W4, LW)     # lw
        elif k == K_LB:   cause, hits = load(r, mem, tlbf, w, dv, hits, W1, LB)     # lb
        elif k == K_LWU:  cause, hits = load(r, mem, tlbf, w, dv, hits, W4, LWU)    # lwu
        elif k == K_LH:   cause, hits = load(r, mem, tlbf, w, dv, hits, W2, LH)     # lh
        elif k == K_LHU:  cause, hits = load(r, mem, tlbf, w, dv, hits, W2, LHU)    # lhu
        elif k == K_SD:   cause, hits = store(r, mem, tlbf, w, dv, hits, W8, SD)    # sd
        elif k == K_SB:   cause, hits = store(r, mem, tlbf, w, dv, hits, W1, SB)    # sb
        elif k == K_SW:   cause, hits = store(r, mem, tlbf, w, dv, hits, W4, SW)    # sw
        elif k == K_SH:   cause, hits = store(r, mem, tlbf, w, dv, hits, W2, SH)    # sh
        elif k == K_JALR: r[rd], npc = npc, (r[rs1] + imm_i(w)) & ~1                # jalr
        elif k == K_ADDIW: r[rd] = sext32(r[rs1] + imm_i(w))                        # addiw
        elif (k == K_JAL or k == K_JAL + 32 or k == K_JAL + 64 or k == K_JAL + 96 or
              k == K_JAL + 128 or k == K_JAL + 160 or k == K_JAL + 192 or k == K_JAL + 224):
            r[rd], npc = npc, pc + imm_j(w)                                         # jal (any funct3)
        elif (k == K_LUI or k == K_LUI + 32 or k == K_LUI + 64 or k == K_LUI + 96 or
              k == K_LUI + 128 or k == K_LUI + 160 or k == K_LUI + 192 or k == K_LUI + 224):
            r[rd] = imm_u(w)                                                        # lui (any funct3)
        else:                                   # the rest, by opcode alone (alu.compute)
            ok, v = compute(w, pc, r[rs1], r[rs2], has_m)
            r[rd] = v if ok else r[rd]
            cause = DONE if ok else other(r, mem, tlb, dev, io, ctl, c, w, pc, npc, dv, pos0 + n)
        if cause != DONE:                       # the rare cases
            if cause == LEAVE and ctl[C_FAULT] < 0:
                break                           # a SYSTEM insn (settle would change nothing)
            cause, tval = settle(cause, r, mem, tlb, dev, io, ctl, w, raw, dv, pos0 + n)
            if cause == STOP:                   # done, but the stretch ends after it
                cause, limit = DONE, n + 1
            elif cause != DONE:                 # not done: an exception, a SYSTEM insn
                break
        r[0] = 0
        pc = npc
        n += 1
    return end_stretch(c, ctl, pc, n, hits, skip_bp, pos0, cause, tval)
