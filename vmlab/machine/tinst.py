"""What mtinst/htinst say about a guest-page fault, so that a hypervisor need not read the
guest's code to handle it.

On a guest-page fault the trap writes into mtinst (to M) or htinst (to HS) one of:

- a *pseudoinstruction*, when the fault came from the VS-stage walk's own access to the
  guest's page table: ``0x3000`` for reading an entry, ``0x3020`` for writing its A/D bits
  (the encodings of ``ld``/``sd x0, 0(x0)`` with bits 1:0 clear, so no real instruction);
- the *transformed instruction*, when an explicit load or store faulted: the instruction
  with its immediate cleared and its rs1 field replaced by the offset of the faulting
  address within the access (nonzero only for a misaligned access faulting on its second
  page), bit 1 clear if it was compressed.  With htval (the guest-physical address >> 2) this
  is all an MMIO emulator needs: which register to load or store, how wide, signed or not.

The spec allows 0 for every other trap, and this hart writes 0 there.
"""
from __future__ import annotations

from vmlab.isa.instructions import BY_MNEMONIC
from vmlab.machine.alu import imm_i, imm_s
from vmlab.machine.jit import jit

#: the pseudoinstructions of a VS-stage walk's 64-bit read and write
TINST_IMPLICIT_LOAD, TINST_IMPLICIT_STORE = 0x3000, 0x3020

# major opcodes (bits 6:0), from the instruction table
OP_LOAD, OP_LOAD_FP, OP_STORE, OP_STORE_FP, OP_AMO, OP_SYSTEM = (
    BY_MNEMONIC[m].match & 0x7F for m in ("lw", "flw", "sw", "fsw", "amoadd.w", "hlv.w"))
F3_HLSV = (BY_MNEMONIC["hlv.w"].match >> 12) & 7     # HLV/HLVX/HSV: SYSTEM with funct3 4
RS1_FIELD = 31 << 15
KEEP_LOAD = 0x7FFF           # funct3, rd, opcode
KEEP_STORE = 0x01F0707F      # rs2, funct3, opcode


@jit
def access_va(r, w):
    """The address a load, store, AMO or HLV/HSV ``w`` names (registers as before it ran)."""
    op = w & 0x7F
    if op == OP_LOAD or op == OP_LOAD_FP:
        return r[(w >> 15) & 31] + imm_i(w)
    if op == OP_STORE or op == OP_STORE_FP:
        return r[(w >> 15) & 31] + imm_s(w)
    return r[(w >> 15) & 31]


@jit
def transformed(w, compressed, offset):
    """The transformed instruction of ``w`` (a compressed one's 32-bit expansion if
    ``compressed``) for a fault ``offset`` bytes into its access; 0 if ``w`` is not a load,
    store, AMO/LR/SC or HLV/HSV (no transformation is defined for it)."""
    op = w & 0x7F
    if op == OP_LOAD or op == OP_LOAD_FP:
        t = w & KEEP_LOAD
    elif op == OP_STORE or op == OP_STORE_FP:
        t = w & KEEP_STORE
    elif op == OP_AMO or (op == OP_SYSTEM and ((w >> 12) & 7) == F3_HLSV):
        t = w & ~RS1_FIELD
    else:
        return 0
    t |= (offset & 31) << 15
    return t & ~2 if compressed else t
