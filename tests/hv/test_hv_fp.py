"""Floating point for guests: the f registers and fcsr are part of a vCPU, and the guest's
*virtual* sstatus/mstatus.FS governs them as the hart's FS governs a bare program -- Off makes
every F/D instruction and fcsr access an illegal instruction that the guest's own handler
gets; any change of FP state makes the virtual FS Dirty and SD set; two vCPUs sharing one
real hart never see each other's registers or flags."""
from __future__ import annotations

import numpy as np
from hv_guest import boot, program

from vmlab.asm import assemble
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L

FS_SHIFT, SD = 13, 1 << 63
FP_WORDS = slice(L.FREG, L.FREG + 32)
MARCH = "rv64gc"


def fs_of(status: int) -> int:
    return (status >> FS_SHIFT) & 3


def word_at(vm, gpa: int) -> int:
    return int.from_bytes(vm.mem.read(gpa, 8), "little")


# ---------------------------------------------------------------- FS Off, Initial, Clean, Dirty
FS_STATES = r'''
        la t0, trap
        csrw stvec, t0
        la s11, log
        li t0, 3 << 13
        csrc sstatus, t0            # FS = Off (also its reset value)
        li t0, 0x4000
        fmv.d.x f2, t0              # illegal while Off: reflected
l_off1: fadd.d f1, f2, f3
l_off2: csrr t1, fflags
        li t0, 1 << 13
        csrs sstatus, t0            # FS = Initial
        csrr s2, sstatus            # Initial: SD clear
        li t0, 7
        fcvt.d.l f4, t0
        li t0, 0
        fcvt.d.l f5, t0
        fdiv.d f6, f4, f5           # 7/0: +inf and DZ
        csrr s3, sstatus            # Dirty, SD set
        frflags s4
        li t0, 3 << 13
        csrc sstatus, t0
        li t0, 2 << 13
        csrs sstatus, t0            # FS = Clean: SD clear again
        csrr s5, sstatus
        la t0, out
        fsd f6, 0(t0)               # a store reads FP state only: still Clean
        csrr s6, sstatus
        fmv.d f7, f6                # a register write: Dirty
        csrr s7, sstatus
        li a1, 0
        j shutdown
        .balign 4
trap:   csrr t3, scause
        sd t3, 0(s11)
        csrr t3, stval
        sd t3, 8(s11)
        csrr t3, sepc
        sd t3, 16(s11)
        addi s11, s11, 24
        addi t3, t3, 4
        csrw sepc, t3
        sret
'''


def test_virtual_fs_off_initial_clean_dirty_and_sd():
    prog = program(FS_STATES, ".balign 8\nlog: .space 96\nout: .dword 0", march=MARCH)
    _, vm = boot(prog.elf)
    assert vm.run(instructions=20_000).reason == "halt"
    v, log = vm.vcpus[0], prog.symbols["log"]
    traps = [tuple(word_at(vm, log + 24 * i + 8 * k) for k in range(3)) for i in range(4)]
    assert [t[0] for t in traps] == [2, 2, 2, 0]            # fmv.d.x, fadd.d, csrr: illegal
    for cause, tval, sepc in traps[:3]:
        assert tval == int.from_bytes(vm.mem.read(sepc, 4), "little")   # the trapping word
    assert [t[2] for t in traps[1:3]] == [prog.symbols["l_off1"], prog.symbols["l_off2"]]
    assert v.row[L.FREG + 2] == 0                            # nothing ran while Off
    s2, s3, s5, s6, s7 = (v.reg(r) for r in (18, 19, 21, 22, 23))
    assert (fs_of(s2), s2 & SD) == (1, 0)
    assert (fs_of(s3), s3 & SD) == (3, SD)
    assert v.reg(20) == 0x08                                 # DZ, read by the guest
    assert (fs_of(s5), s5 & SD) == (2, 0) and s6 == s5
    assert (fs_of(s7), s7 & SD) == (3, SD)
    assert word_at(vm, prog.symbols["out"]) == 0x7FF0_0000_0000_0000
    assert v.row[L.FREG + 7] == v.row[L.FREG + 6] == 0x7FF0_0000_0000_0000
    assert v.csr("fflags") == 0x08 and fs_of(v.csr("mstatus")) == 3
    assert vm.trace.handler_counts["reflect"] >= 3


def test_a_run_without_fp_changes_leaves_the_virtual_fs_clean():
    """Only a Dirty real FS is copied back: a guest that never touches FP keeps FS as set."""
    body = r'''
        li t0, 2 << 13
        csrs sstatus, t0
        li t1, 1000
1:      addi t1, t1, -1
        bnez t1, 1b
        csrr s2, sstatus
        li a1, 0
        j shutdown
    '''
    _, vm = boot(program(body, march=MARCH).elf)
    v = vm.vcpus[0]
    v.row[FP_WORDS] = np.arange(32) * 3 + 1
    assert vm.run(instructions=20_000).reason == "halt"
    assert fs_of(v.reg(18)) == 2 and not v.reg(18) & SD
    assert list(v.row[FP_WORDS]) == [3 * i + 1 for i in range(32)]


# ---------------------------------------------------------------- two vCPUs on one hart
def worker(seed: int, rm: int) -> str:
    """FP work whose result depends on every register it carries, its rounding mode and
    flags: what it leaves must not depend on who else ran on the hart in between."""
    return rf'''
        li t0, 1 << 13
        csrs sstatus, t0
        csrwi frm, {rm}
        li t0, {seed}
        fcvt.d.l f1, t0
        li t0, 3
        fcvt.d.l f2, t0
        fcvt.s.l f10, t0
        li s3, 300
1:      fdiv.d f3, f1, f2, dyn
        fadd.d f1, f3, f1, dyn
        fdiv.s f11, f10, f10, dyn
        fsqrt.d f4, f3, dyn
        fmadd.d f5, f4, f4, f1, dyn
        addi s3, s3, -1
        bnez s3, 1b
        csrr s4, fcsr
        li a1, 0
        j shutdown
    '''


def fp_state(vm) -> tuple:
    v = vm.vcpus[0]
    return tuple(int(x) for x in v.row[FP_WORDS]) + (v.csr("fcsr"), v.reg(20))


def test_two_vcpus_on_one_hart_never_mix_fp_state():
    alone = []
    for seed, rm in ((12345, 1), (-987654321, 3)):
        _, vm = boot(program(worker(seed, rm), march=MARCH).elf)
        assert vm.run(instructions=100_000).reason == "halt"
        alone.append(fp_state(vm))
    assert alone[0] != alone[1] and alone[0][32] >> 5 == 1 and alone[1][32] >> 5 == 3

    hv = Hypervisor(Machine(ram_size=40 << 20))
    vms = []
    for seed, rm in ((12345, 1), (-987654321, 3)):
        vm = hv.create_vm(ram_size=8 << 20)
        vm.boot(kernel=program(worker(seed, rm), march=MARCH).elf)
        vms.append(vm)
    for _ in range(2000):                          # 37 instructions at a time, alternately
        if all(vm.stopped for vm in vms):
            break
        for vm in vms:
            if not vm.stopped:
                vm.run(instructions=37)
    assert [fp_state(vm) for vm in vms] == alone


# ---------------------------------------------------------------- the same program bare and as a guest
BARE_VS_GUEST = r'''
        .text
        .globl _start
_start: li t0, 1 << 13
        csrs mstatus, t0
        la a0, data
        la a1, results
        fld f1, 0(a0)
        fld f2, 8(a0)
        flw f3, 16(a0)
        c.fld f8, 24(a0)
        fdiv.d f4, f1, f2, rtz
        fdiv.d f5, f1, f2, rup
        fmadd.d f6, f4, f5, f1, rdn
        fsqrt.d f7, f2
        fcvt.w.d t1, f1, rmm
        fcvt.wu.d t2, f8                # negative: invalid, 0
        fcvt.s.d f9, f1
        fmin.d f10, f8, f2
        fclass.d t3, f8
        fadd.s f11, f3, f3
        fmul.d f12, f1, f1              # overflow
        fsgnjn.d f13, f2, f8
        fcvt.d.lu f14, t1
        feq.d t4, f1, f1
        frcsr t5
        fsd f4, 0(a1)
        c.fsd f8, 72(a1)
        fsd f5, 8(a1)
        fsw f11, 16(a1)
        sd t1, 24(a1)
        sd t2, 32(a1)
        sd t3, 40(a1)
        sd t4, 48(a1)
        sd t5, 56(a1)
        csrr t6, mstatus
        sd t6, 64(a1)
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
1:      j 1b
        .data
        .balign 8
data:   .dword 0x7fe1ccf385ebc8a0       # a large double
        .dword 0x4008000000000000       # 3.0
        .word 0x3fc00000                # 1.5f
        .word 0
        .dword 0xc00921fb54442d18       # -pi
results: .space 80
'''


def test_the_same_fp_program_bare_and_as_a_guest():
    prog = assemble(BARE_VS_GUEST, march=MARCH)
    bare = Machine(ram_size=8 << 20)
    bare.load_elf(prog.elf)
    assert bare.run(instructions=10_000).reason == "halt"
    _, vm = boot(prog.elf, bios=True)
    assert vm.run(instructions=10_000).reason == "halt"
    base = prog.symbols["results"]
    assert vm.mem.read(base, 80) == bare.read_mem(base, 80)
    assert list(vm.vcpus[0].row[FP_WORDS]) == list(bare.cpu[0, FP_WORDS])
    assert vm.vcpus[0].csr("fcsr") == int(bare.cpu[0, L.FCSR]) != 0
    mstatus = word_at(vm, base + 64)
    assert fs_of(mstatus) == 3 and mstatus & SD
