"""The hot loop: fetch, decode and execute unprivileged RV64IMAC instructions.

:func:`exec_hart` runs one hart until it has done ``limit`` instructions or meets something
that needs a wider view: a SYSTEM instruction (CSR access, ecall, mret, wfi, sfence.vma --
left for :func:`vmlab.machine.system.exec_system`), an exception, a device access, a
breakpoint.  It returns how many steps it took (an instruction that traps is a step too, so
a guest that faults forever still uses up its budget).

Fast paths stay inline: fetch from a cached page, loads and stores that hit the TLB and stay
in RAM and inside one page.  Everything else calls a separate function (bus.py, mmu.py):
keeping rare work out of the loop's body is what keeps numba's code fast.
"""
from __future__ import annotations

import numpy as np
from vmlab.machine.jit import jit

from vmlab.isa.instructions import BY_MNEMONIC
from vmlab.machine.atomics import exec_amo
from vmlab.machine.fphart import exec_float, is_float
from vmlab.machine.bits import div, divu, ltu, mulh, mulhsu, mulhu, rem, remu, sext32, srl
from vmlab.machine.bus import htif_check, load_slow, store_slow, translate
from vmlab.machine.layout import (
    ACC_FETCH, ACC_LOAD, ACC_STORE, C_BP, C_EXIT, C_FAULT, C_FAULT_TVAL, C_INSTRET, C_MMIO,
    C_MMIO_RD, C_MMIO_SIGNED, C_NBP, C_RAM_BASE, C_RAM_SIZE, C_SKIP_BP, C_SLICE_POS,
    C_SYS_INSN, C_TLB_HIT, CAUSE_FETCH_ACCESS, CAUSE_ILLEGAL, D_TICKS, D_TOHOST,
    EXIT_BREAKPOINT, EXIT_MMIO, EXIT_NONE, MCYCLE, MINSTRET, MS_MPP, MS_MPP_SHIFT, MS_MPRV,
    MS_MXR, MS_SUM, MSTATUS, PC, PRIV, PRIV_M, PRIV_S, SATP, MCOUNTEREN, MCOUNTINHIBIT,
    SCOUNTEREN, TLB_COLS, TLB_CTX, TLB_PPAGE, TLB_SETS, TLB_TAG, XREG,
)
from vmlab.machine.mmu import context
from vmlab.machine.trap import take_trap


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

# Not causes: what the first switch in exec_hart leaves in ``cause`` for the slow path of a
# load or store (a TLB miss, a device, a page-crossing access) after the switch.
SLOW_LOAD, SLOW_STORE = -2, -3


@jit
def data_context(c):
    """(translate?, TLB context) for loads and stores: MPRV makes M-mode use MPP's view."""
    satp, st, priv = c[SATP], c[MSTATUS], c[PRIV]
    if priv == PRIV_M and (st & MS_MPRV):
        priv = (st & MS_MPP) >> MS_MPP_SHIFT
    vm = srl(satp, 60) == 8 and priv != PRIV_M
    return vm, context(srl(satp, 44) & 0xFFFF, priv, (st & MS_SUM) != 0, (st & MS_MXR) != 0)


@jit
def fetch_context(c):
    satp, priv = c[SATP], c[PRIV]
    vm = srl(satp, 60) == 8 and priv != PRIV_M
    return vm, context(srl(satp, 44) & 0xFFFF, priv, False, False)


@jit(inline="always")
def alu(f3, f7, a, b):
    """OP (register-register) instructions; returns (ok, result)."""
    if f7 == 0:
        if f3 == 0:
            return True, a + b
        if f3 == 1:
            return True, a << (b & 63)
        if f3 == 2:
            return True, 1 if a < b else 0
        if f3 == 3:
            return True, 1 if ltu(a, b) else 0
        if f3 == 4:
            return True, a ^ b
        if f3 == 5:
            return True, srl(a, b & 63)
        if f3 == 6:
            return True, a | b
        return True, a & b
    if f7 == 0x20:
        if f3 == 0:
            return True, a - b
        if f3 == 5:
            return True, a >> (b & 63)
        return False, 0
    if f7 == 1:
        if f3 == 0:
            return True, a * b
        if f3 == 1:
            return True, mulh(a, b)
        if f3 == 2:
            return True, mulhsu(a, b)
        if f3 == 3:
            return True, mulhu(a, b)
        if f3 == 4:
            return True, div(a, b)
        if f3 == 5:
            return True, -1 if b == 0 else divu(a, b)
        if f3 == 6:
            return True, rem(a, b)
        return True, a if b == 0 else remu(a, b)
    return False, 0


@jit(inline="always")
def alu32(f3, f7, a, b):
    """OP-32 instructions (addw ... remuw): compute on 32 bits, sign-extend the result."""
    if f7 == 0:
        if f3 == 0:
            return True, sext32(a + b)
        if f3 == 1:
            return True, sext32(a << (b & 31))
        if f3 == 5:
            return True, sext32(srl(a & 0xFFFFFFFF, b & 31))
        return False, 0
    if f7 == 0x20:
        if f3 == 0:
            return True, sext32(a - b)
        if f3 == 5:
            return True, sext32(sext32(a) >> (b & 31))
        return False, 0
    if f7 == 1:
        if f3 == 0:
            return True, sext32(a * b)
        if f3 == 4:
            return True, sext32(div(sext32(a), sext32(b)))
        if f3 == 5:
            return True, sext32(-1 if (b & 0xFFFFFFFF) == 0 else divu(a & 0xFFFFFFFF, b & 0xFFFFFFFF))
        if f3 == 6:
            return True, sext32(rem(sext32(a), sext32(b)))
        if f3 == 7:
            bu = b & 0xFFFFFFFF
            return True, sext32(a if bu == 0 else remu(a & 0xFFFFFFFF, bu))
    return False, 0


@jit(inline="always")
def alu_imm(f3, w, a):
    """OP-IMM instructions; shifts take a 6-bit amount and a funct6 in the immediate."""
    imm = ((w >> 20) ^ 0x800) - 0x800
    if f3 == 0:
        return True, a + imm
    if f3 == 2:
        return True, 1 if a < imm else 0
    if f3 == 3:
        return True, 1 if ltu(a, imm) else 0
    if f3 == 4:
        return True, a ^ imm
    if f3 == 6:
        return True, a | imm
    if f3 == 7:
        return True, a & imm
    sh, f6 = (w >> 20) & 63, w >> 26
    if f3 == 1:
        return f6 == 0, a << sh
    if f6 == 0:
        return True, srl(a, sh)
    return f6 == 0x10, a >> sh


@jit(inline="always")
def alu_imm32(f3, w, a):
    imm = ((w >> 20) ^ 0x800) - 0x800
    sh, f7 = (w >> 20) & 31, w >> 25
    if f3 == 0:
        return True, sext32(a + imm)
    if f3 == 1:
        return f7 == 0, sext32(a << sh)
    if f3 == 5:
        if f7 == 0:
            return True, sext32(srl(a & 0xFFFFFFFF, sh))
        return f7 == 0x20, sext32(sext32(a) >> sh)
    return False, 0


@jit(inline="always")
def branch_taken(f3, a, b):
    if f3 == 0:
        return a == b
    if f3 == 1:
        return a != b
    if f3 == 4:
        return a < b
    if f3 == 5:
        return a >= b
    if f3 == 6:
        return ltu(a, b)
    return not ltu(a, b)


@jit(inline="always")
def extend(raw, f3):
    """Sign- or zero-extend a loaded value as lb/lh/lw/ld/lbu/lhu/lwu ask."""
    if f3 == 0:
        return ((raw & 0xFF) ^ 0x80) - 0x80
    if f3 == 1:
        return ((raw & 0xFFFF) ^ 0x8000) - 0x8000
    if f3 == 2:
        return sext32(raw)
    return raw


@jit
def _u16(mem, o):
    return np.int64(mem[o]) | (np.int64(mem[o + np.uint64(1)]) << 8)


@jit
def _u32(mem, o):
    return _u16(mem, o) | (_u16(mem, o + np.uint64(2)) << 16)


@jit
def load_value(mem, o, f3):
    """lb/lh/lw/ld/lbu/lhu/lwu from RAM offset o (>= 0, checked by the caller), byte by byte
    (written out, so that the compiler can merge the bytes into one load: RISC-V and the
    host are both little-endian).  The offset is made unsigned: numba adds no
    negative-index wraparound to unsigned indices, and without it the loads do merge."""
    u = np.uint64(o)
    if f3 == 3:
        return _u32(mem, u) | (_u32(mem, u + np.uint64(4)) << 32)
    if f3 == 2:
        return sext32(_u32(mem, u))
    if f3 == 0:
        return ((np.int64(mem[u]) ^ 0x80) - 0x80)
    if f3 == 4:
        return np.int64(mem[u])
    if f3 == 6:
        return _u32(mem, u)
    if f3 == 1:
        return (_u16(mem, u) ^ 0x8000) - 0x8000
    return _u16(mem, u)


@jit
def store_value(mem, o, f3, v):
    """sb/sh/sw/sd to RAM offset o (>= 0, checked by the caller)."""
    u = np.uint64(o)
    mem[u] = v & 0xFF
    if f3 >= 1:
        mem[u + np.uint64(1)] = (v >> 8) & 0xFF
        if f3 >= 2:
            mem[u + np.uint64(2)] = (v >> 16) & 0xFF
            mem[u + np.uint64(3)] = (v >> 24) & 0xFF
            if f3 == 3:
                mem[u + np.uint64(4)] = (v >> 32) & 0xFF
                mem[u + np.uint64(5)] = (v >> 40) & 0xFF
                mem[u + np.uint64(6)] = (v >> 48) & 0xFF
                mem[u + np.uint64(7)] = (v >> 56) & 0xFF


@jit
def hit_breakpoint(ctl, pc):
    for i in range(ctl[C_NBP]):
        if ctl[C_BP + i] == pc:
            return True
    return False


@jit
def breakpoint_in_page(ctl, page):
    for i in range(ctl[C_NBP]):
        if (ctl[C_BP + i] & ~0xFFF) == page:
            return True
    return False


@jit
def fetch_page(tlb, mem, ctl, h, c, pc, vm, ctx):
    """RAM offset of the 4 KiB page holding ``pc``, or -cause-1 (page or access fault)."""
    pa = translate(tlb, mem, ctl, h, c[SATP], pc & ~0xFFF, ACC_FETCH, ctx, vm)
    if pa < 0:
        return pa
    off = pa - ctl[C_RAM_BASE]
    if off < 0 or off > ctl[C_RAM_SIZE] - 4096:
        return -CAUSE_FETCH_ACCESS - 1
    return off


# ---- immediates of the base formats (spec "Immediate Encoding Variants") -------------------
@jit(inline="always")
def imm_i(w):
    return ((w >> 20) ^ 0x800) - 0x800


@jit(inline="always")
def imm_s(w):
    return ((((w >> 25) << 5) | ((w >> 7) & 31)) ^ 0x800) - 0x800


@jit(inline="always")
def imm_b(w):
    imm = (((w >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3F) << 5)
           | (((w >> 8) & 0xF) << 1))
    return (imm ^ 0x1000) - 0x1000


@jit(inline="always")
def imm_j(w):
    imm = (((w >> 31) << 20) | (((w >> 12) & 0xFF) << 12) | (((w >> 20) & 1) << 11)
           | (((w >> 21) & 0x3FF) << 1))
    return (imm ^ 0x100000) - 0x100000


@jit(inline="always")
def imm_u(w):
    return ((w & 0xFFFFF000) ^ 0x80000000) - 0x80000000


@jit
def fast_offset(tlbf, base, va, size, vm, ctx, ram_base, ram_size):
    """RAM offset for the fast path -- a TLB hit (or no translation), in RAM, inside one
    page -- or -1: then the slow path (bus.py) does the access, whatever it is.

    ``tlbf`` is the whole TLB as one flat array and ``base`` where this hart's table for
    this access kind starts: indexing a 1-D array is a shift and an add, where the 2-D
    ``tlb[h, kind][e, col]`` costs a multiply by a row length numba only knows at run time.
    """
    if (va & 0xFFF) > 4096 - size:
        return -1
    if vm:
        e = np.uint64(base + ((va >> 12) & (TLB_SETS - 1)) * TLB_COLS)
        if (tlbf[e + np.uint64(TLB_TAG)] != (va >> 12)
                or tlbf[e + np.uint64(TLB_CTX)] != ctx):
            return -1
        o = tlbf[e + np.uint64(TLB_PPAGE)] + (va & 0xFFF) - ram_base
    else:
        o = va - ram_base
    if np.uint64(o) > np.uint64(ram_size - size):    # (unsigned: o < 0 fails too)
        return -1
    return o


@jit(inline="always")
def take_fault(ctl):
    """(cause, tval) a slow path reported, clearing the report; (-1, 0) if none."""
    cause = ctl[C_FAULT]
    if cause < 0:
        return -1, 0
    ctl[C_FAULT] = -1
    return cause, ctl[C_FAULT_TVAL]


@jit
def end_stretch(c, ctl, pc, n, hits, skip_bp, pos0, cause, tval):
    """Write the loop's locals back, take the exception that ended it, count what was done.
    Every step counts against the budget and the cycle counter, a trap included (so a guest
    that only traps still runs out of budget); only completed instructions count as retired."""
    c[XREG] = 0
    c[PC] = pc
    ntrap = 0
    if cause >= 0:
        take_trap(c, ctl, cause, tval, False)
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
def fetch_fast(mem, pc, fbias):
    """The four bytes at ``pc`` inside the fetch window, as one 32-bit load (the window ends
    before the page's last halfword, so they are all on the page); a compressed instruction
    uses the low two."""
    return _u32(mem, np.uint64(pc + fbias))


@jit
def exec_hart(cpu, mem, tlb, tlbf, dev, io, ctl, rvc, h, limit):
    """Run hart ``h`` for at most ``limit`` steps; returns the steps taken.

    Its shape is measured, not chosen: the fast paths (fetch in the window, each load and
    store width, the slow path's single copy after the switch) stay written out in this
    body.  Moving them into helpers numba inlines itself, or calls returning tuples, cost
    25-45% of the speed in ``vmlab bench``; small plain functions LLVM inlines (fetch_fast,
    fast_offset, load_value) and one call after the loop (end_stretch) cost nothing."""
    c = cpu[h]
    r = c[XREG:XREG + 32]
    pc = c[PC]
    fvm, fctx = fetch_context(c)
    dvm, dctx = data_context(c)
    satp = c[SATP]
    tlbl = (h * 3 + ACC_LOAD) * TLB_SETS * TLB_COLS
    tlbs = (h * 3 + ACC_STORE) * TLB_SETS * TLB_COLS
    ram_base, ram_size = ctl[C_RAM_BASE], ctl[C_RAM_SIZE]
    tohost = dev[D_TOHOST]
    nbp, skip_bp = ctl[C_NBP], ctl[C_SKIP_BP]
    pos0 = ctl[C_SLICE_POS]
    t0 = dev[D_TICKS] + pos0            # simulated ns at step 0
    priv = c[PRIV]
    time_ok = priv == PRIV_M or ((c[MCOUNTEREN] & 2) != 0
                                 and (priv == PRIV_S or (c[SCOUNTEREN] & 2) != 0))
    # The fetch window: while pc ^ fstart < flen (unsigned), the instruction at pc starts at
    # RAM offset pc + fbias and the fast path below fetches it with one compare.  The window
    # is the cached page minus its last halfword (a 32-bit instruction there straddles two
    # pages); it is empty at first and on a page holding a breakpoint, so that those cases
    # -- and the breakpoint checks -- stay on the slow path.
    fstart, flen, fbias = -1, 0, 0     # (-1: no page is cached yet)
    n = 0                               # steps taken
    hits = 0
    cause, tval = -1, 0
    while n < limit:
        # ---- fetch (a fault leaves the loop with cause set; the trap is taken below) ----
        if np.uint64(pc ^ fstart) < np.uint64(flen):   # fast: inside the window
            w = fetch_fast(mem, pc, fbias)
            if (w & 3) == 3:
                npc = pc + 4
            else:
                w &= 0xFFFF
                tval = w                       # an illegal compressed insn reports its 16 bits
                w = rvc[w]
                npc = pc + 2
                if w == 0:
                    cause = CAUSE_ILLEGAL
                    break
        else:
            if nbp > 0:
                if skip_bp:
                    skip_bp = 0
                elif hit_breakpoint(ctl, pc):
                    ctl[C_EXIT] = EXIT_BREAKPOINT
                    break
            if (pc & ~0xFFF) != fstart:         # a new page: translate it
                off = fetch_page(tlb, mem, ctl, h, c, pc, fvm, fctx)
                if off < 0:
                    cause, tval = -off - 1, pc
                    break
                fstart = pc & ~0xFFF
                fbias = off - fstart
                flen = 0 if nbp > 0 and breakpoint_in_page(ctl, fstart) else 0xFFE
            o = np.uint64(pc + fbias)
            w = _u16(mem, o)
            if (w & 3) == 3:
                if (pc & 0xFFF) == 0xFFE:      # the upper half lies on the next page
                    off2 = fetch_page(tlb, mem, ctl, h, c, pc + 2, fvm, fctx)
                    if off2 < 0:
                        cause, tval = -off2 - 1, pc + 2
                        break
                    w |= (np.int64(mem[off2]) | (np.int64(mem[off2 + 1]) << 8)) << 16
                else:
                    w |= _u16(mem, o + np.uint64(2)) << 16
                npc = pc + 4
            else:
                tval = w
                w = rvc[w]
                npc = pc + 2
                if w == 0:
                    cause = CAUSE_ILLEGAL
                    break
        # ---- decode and execute ----------------------------------------------------------
        op = w & 0x7F
        rd = (w >> 7) & 31
        f3 = (w >> 12) & 7
        rs1 = (w >> 15) & 31
        rs2 = (w >> 20) & 31
        stop = False
        # One switch on (opcode, funct3) for the common instructions, so that each gets its
        # own case (LLVM turns this chain of == tests into a jump table): one indirect jump
        # per instruction instead of a jump on the opcode and a second one on funct3.
        # Everything else goes on to the switch on the opcode alone below.
        k = ((w >> 2) & 31) | (f3 << 5)
        if k == K_ADDI:                                   # addi (also li, mv, nop)
            r[rd] = r[rs1] + imm_i(w)
        elif k == K_BEQ:                                  # beq
            if branch_taken(0, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_BNE:                                  # bne
            if branch_taken(1, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_BLT:                                  # blt
            if branch_taken(4, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_BGE:                                  # bge
            if branch_taken(5, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_BLTU:                                 # bltu
            if branch_taken(6, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_BGEU:                                 # bgeu
            if branch_taken(7, r[rs1], r[rs2]):
                npc = pc + imm_b(w)
        elif k == K_ADD:                                  # add sub mul
            ok, v = alu(0, w >> 25, r[rs1], r[rs2])
            if ok:
                r[rd] = v
            else:
                cause = CAUSE_ILLEGAL
        elif k == K_XOR:                                  # xor div
            ok, v = alu(4, w >> 25, r[rs1], r[rs2])
            if ok:
                r[rd] = v
            else:
                cause = CAUSE_ILLEGAL
        elif k == K_ANDI:                                 # andi
            r[rd] = r[rs1] & imm_i(w)
        elif k == K_XORI:                                 # xori
            r[rd] = r[rs1] ^ imm_i(w)
        elif k == K_ORI:                                  # ori
            r[rd] = r[rs1] | imm_i(w)
        elif k == K_SLLI:                                 # slli
            ok, v = alu_imm(1, w, r[rs1])
            if ok:
                r[rd] = v
            else:
                cause = CAUSE_ILLEGAL
        elif k == K_SRLI:                                 # srli srai
            ok, v = alu_imm(5, w, r[rs1])
            if ok:
                r[rd] = v
            else:
                cause = CAUSE_ILLEGAL
        # Loads and stores, one case per width so that the size is a constant: the fast
        # path (a TLB hit in RAM within one page) inline, anything else after the switch.
        elif k == K_LD:                                   # ld
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W8, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LD)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LBU:                                  # lbu
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W1, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LBU)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LW:                                   # lw
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W4, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LW)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LB:                                   # lb
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W1, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LB)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LWU:                                  # lwu
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W4, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LWU)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LH:                                   # lh
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W2, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LH)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_LHU:                                  # lhu
            va = r[rs1] + imm_i(w)
            o = fast_offset(tlbf, tlbl, va, W2, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                r[rd] = load_value(mem, o, LHU)
                hits += dvm
            else:
                cause = SLOW_LOAD
        elif k == K_SD:                                   # sd
            va = r[rs1] + imm_s(w)
            o = fast_offset(tlbf, tlbs, va, W8, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                store_value(mem, o, SD, r[rs2])
                hits += dvm
                if tohost != 0 and o + ram_base - tohost < 8 and o + ram_base >= tohost:
                    htif_check(mem, dev, io, ctl, o + ram_base)
                    stop = True
            else:
                cause = SLOW_STORE
        elif k == K_SB:                                   # sb
            va = r[rs1] + imm_s(w)
            o = fast_offset(tlbf, tlbs, va, W1, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                store_value(mem, o, SB, r[rs2])
                hits += dvm
                if tohost != 0 and o + ram_base - tohost < 8 and o + ram_base >= tohost:
                    htif_check(mem, dev, io, ctl, o + ram_base)
                    stop = True
            else:
                cause = SLOW_STORE
        elif k == K_SW:                                   # sw
            va = r[rs1] + imm_s(w)
            o = fast_offset(tlbf, tlbs, va, W4, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                store_value(mem, o, SW, r[rs2])
                hits += dvm
                if tohost != 0 and o + ram_base - tohost < 8 and o + ram_base >= tohost:
                    htif_check(mem, dev, io, ctl, o + ram_base)
                    stop = True
            else:
                cause = SLOW_STORE
        elif k == K_SH:                                   # sh
            va = r[rs1] + imm_s(w)
            o = fast_offset(tlbf, tlbs, va, W2, dvm, dctx, ram_base, ram_size)
            if o >= 0:
                store_value(mem, o, SH, r[rs2])
                hits += dvm
                if tohost != 0 and o + ram_base - tohost < 8 and o + ram_base >= tohost:
                    htif_check(mem, dev, io, ctl, o + ram_base)
                    stop = True
            else:
                cause = SLOW_STORE
        elif k == K_JALR:                                 # jalr
            target = (r[rs1] + imm_i(w)) & ~1
            r[rd] = npc
            npc = target
        elif k == K_ADDIW:                                # addiw
            r[rd] = sext32(r[rs1] + imm_i(w))
        elif (k == K_JAL or k == K_JAL + 32 or k == K_JAL + 64 or k == K_JAL + 96
              or k == K_JAL + 128 or k == K_JAL + 160 or k == K_JAL + 192
              or k == K_JAL + 224):                       # jal (funct3's bits: part of imm)
            r[rd] = npc
            npc = pc + imm_j(w)
        elif (k == K_LUI or k == K_LUI + 32 or k == K_LUI + 64 or k == K_LUI + 96
              or k == K_LUI + 128 or k == K_LUI + 160 or k == K_LUI + 192
              or k == K_LUI + 224):                       # lui (funct3's bits: part of imm)
            r[rd] = imm_u(w)
        else:
            if op == 0x13:
                ok, v = alu_imm(f3, w, r[rs1])
                if ok:
                    r[rd] = v
                else:
                    cause = CAUSE_ILLEGAL
            elif op == 0x33:
                ok, v = alu(f3, w >> 25, r[rs1], r[rs2])
                if ok:
                    r[rd] = v
                else:
                    cause = CAUSE_ILLEGAL
            elif op == 0x17:                                  # auipc
                r[rd] = pc + imm_u(w)
            elif op == 0x1B:
                ok, v = alu_imm32(f3, w, r[rs1])
                if ok:
                    r[rd] = v
                else:
                    cause = CAUSE_ILLEGAL
            elif op == 0x3B:
                ok, v = alu32(f3, w >> 25, r[rs1], r[rs2])
                if ok:
                    r[rd] = v
                else:
                    cause = CAUSE_ILLEGAL
            elif op == 0x73:
                if (w & 0xFFFFF07F) == 0xC0102073 and time_ok:
                    r[rd] = (t0 + n) // 100
                else:
                    ctl[C_SYS_INSN] = w | ((npc - pc) << 32)
                    break
            elif op == 0x2F:
                c[PC] = pc
                ctl[C_SLICE_POS] = pos0 + n
                exec_amo(c, tlb, mem, ctl, h, w, dvm, dctx)
                cause, tval = take_fault(ctl)
            elif is_float(op):                            # F and D: one call, out of line
                c[PC] = pc
                ctl[C_SLICE_POS] = pos0 + n
                mmio = ctl[C_MMIO]
                exec_float(c, tlb, mem, dev, io, ctl, h, w, dvm, dctx)
                cause, ftval = take_fault(ctl)
                if cause != CAUSE_ILLEGAL:                # (illegal: its bits, set below)
                    tval = ftval
                stop = ctl[C_MMIO] != mmio                # a device store: see to interrupts
            elif op != 0x0F or f3 > 1:
                cause = CAUSE_ILLEGAL
        if cause != -1:
            # A load or store the fast path could not do: one copy of the slow path here
            # serves all the widths above.  It may end in an exception (cause >= 0 after).
            if cause == SLOW_LOAD:
                ctl[C_SLICE_POS] = pos0 + n
                mmio = ctl[C_MMIO]
                raw = load_slow(tlb, mem, dev, io, ctl, h, satp, va, 1 << (f3 & 3), ACC_LOAD,
                                dctx, dvm)
                cause, tval = take_fault(ctl)
                if cause < 0:
                    r[rd] = extend(raw, f3)
                    if ctl[C_EXIT] == EXIT_MMIO:          # Python finishes it (virtio)
                        ctl[C_MMIO_RD], ctl[C_MMIO_SIGNED] = rd, f3
                    stop = ctl[C_MMIO] != mmio            # a device may raise an interrupt
            elif cause == SLOW_STORE:
                ctl[C_SLICE_POS] = pos0 + n
                mmio = ctl[C_MMIO]
                store_slow(tlb, mem, dev, io, ctl, h, satp, va, 1 << (f3 & 3), r[rs2], dctx,
                           dvm)
                cause, tval = take_fault(ctl)
                stop = ctl[C_MMIO] != mmio or ctl[C_EXIT] != EXIT_NONE
            if cause >= 0:
                if cause == CAUSE_ILLEGAL and npc - pc == 4:
                    tval = w
                break
        r[0] = 0
        pc = npc
        n += 1
        if stop:
            break
    return end_stretch(c, ctl, pc, n, hits, skip_bp, pos0, cause, tval)
