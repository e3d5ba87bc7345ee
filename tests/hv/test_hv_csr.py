"""CSR and trap emulation: one program run bare (M-mode from reset) and as a guest (virtual
M-mode) must leave the same results -- the hypervisor emulates privileged instructions on a
virtual hart with the machine's own semantics, so every WARL mask, view, delegation and
status-stack detail has to come out identical."""
from __future__ import annotations

import pytest
from hv_guest import boot

from vmlab.asm import assemble
from vmlab.hv.csr_emul import kind
from vmlab.hv.trace import EXIT, INJECT
from vmlab.machine import Machine

PROBED = ("mstatus medeleg mideleg mie mtvec mcounteren menvcfg pmpcfg0 pmpaddr0 pmpaddr9 "
          "stvec sstatus sie scounteren sscratch mscratch sepc mepc satp mip sip scause "
          "mtval misa mhartid senvcfg").split()

PROGRAM = r'''
        .equ TEST, 0x100000
        .macro save reg
        sd \reg, 0(s11)
        addi s11, s11, 8
        .endm
        .text
        .globl _start
_start: la s11, results
        la t0, mtrap
        csrw mtvec, t0
''' + "".join(f'''
        li t1, -1
        csrrw t2, {c}, t1
        save t2
        csrr t3, {c}
        save t3
        csrw {c}, t2
        csrrsi t3, {c}, 0
        save t3
''' for c in PROBED) + r'''
        li t0, (1 << 2) | (1 << 8)      # delegate illegal instruction and ecall from U to S
        csrw medeleg, t0
        la t0, strap
        csrw stvec, t0
        li t0, 3 << 11
        csrc mstatus, t0
        li t0, 1 << 11                  # MPP = S
        csrs mstatus, t0
        csrsi mstatus, 8                # MIE: must come back as MPIE after mret
        la t0, s_code
        csrw mepc, t0
        mret
s_code: csrr t0, sstatus
        save t0
        csrr t0, mstatus                # illegal in S: delegated, to strap
        ecall                           # ecall from S: not delegated, to mtrap
        csrwi sscratch, 7
        csrr t0, sscratch
        save t0
        li t0, 1 << 8
        csrc sstatus, t0                # SPP = U
        csrsi sstatus, 2                # SIE
        la t0, u_code
        csrw sepc, t0
        sret
u_code: ecall                           # delegated: strap
        csrr t0, sstatus                # illegal from U: strap
        sret                            # illegal from U: strap
        .word 0xffffffff                # a genuinely illegal word: strap
        ebreak                          # not delegated: mtrap, which ends the run

        .balign 4
strap:  csrr t0, scause
        save t0
        csrr t0, stval
        save t0
        csrr t0, sepc
        save t0
        csrr t0, sstatus
        save t0
        addi t0, t0, 0
        csrr t0, sepc
        addi t0, t0, 4
        csrw sepc, t0
        sret

        .balign 4
mtrap:  csrr t0, mcause
        save t0
        csrr t0, mtval
        save t0
        csrr t0, mepc
        save t0
        csrr t0, mstatus
        save t0
        csrr t1, mcause
        li t2, 3
        beq t1, t2, done
        csrr t0, mepc
        addi t0, t0, 4
        csrw mepc, t0
        mret
done:   li t0, TEST
        li t1, 0x5555
        sw t1, 0(t0)
1:      j 1b
        .data
        .balign 8
results: .space 8 * 200
'''


@pytest.fixture(scope="module")
def program():
    return assemble(PROGRAM)


def test_same_results_bare_and_as_a_guest(program):
    bare = Machine(ram_size=8 << 20, h_extension=False)   # a vCPU has no H (vmlab.hv.vcpu)
    bare.load_elf(program.elf)
    r = bare.run(instructions=100_000)
    assert (r.reason, r.exit_code) == ("halt", 0)

    _, vm = boot(program.elf, bios=True)
    g = vm.run(instructions=100_000)
    assert (g.reason, g.exit_code) == ("halt", 0)

    base, n = program.symbols["results"], 8 * 200
    expected, got = bare.read_mem(base, n), vm.mem.read(base, n)
    words = [int.from_bytes(got[i:i + 8], "little") for i in range(0, n, 8)]
    want = [int.from_bytes(expected[i:i + 8], "little") for i in range(0, n, 8)]
    assert words == want
    assert sum(w != 0 for w in want) > 40                  # the program really recorded things
    assert want[4] == 0xB3FF                               # medeleg's WARL mask (no H), read back
    for reg in range(1, 32):
        if reg not in (10, 11):                            # a0/a1: boot arguments
            assert vm.vcpus[0].reg(reg) == bare.reg(reg), f"x{reg}"


def test_exits_are_handled_by_the_right_handlers(program):
    _, vm = boot(program.elf, bios=True)
    vm.run(instructions=100_000)
    h = vm.trace.handler_counts
    assert h["csr"] >= 3 * len(PROBED) and h["mret"] == 4 and h["sret"] == 6
    # reflected: two writes to the read-only mhartid, mstatus from S, ecall from S, ecall from
    # U, csrr and sret from U, the bad word, ebreak -- into the mode the virtual medeleg chose
    reflected = [(e.cause, e.handler) for e in vm.trace.events() if e.kind == "inject"]
    assert [c for c, _ in reflected] == [2, 2, 2, 9, 8, 2, 2, 2, 3]
    assert vm.trace.count(INJECT) == 9 and vm.trace.count(EXIT, 9) == 1


@pytest.mark.parametrize("word,name", [
    (0x30002573, "csr"), (0x10200073, "sret"), (0x30200073, "mret"), (0x10500073, "wfi"),
    (0x12000073, "sfence.vma"), (0x12b50073, "sfence.vma"), (0x0000_0073, "reflect"),
    (0xffffffff, "reflect"), (0x0000_4073, "reflect")])
def test_illegal_instructions_are_sub_dispatched_by_instruction(word, name):
    assert kind(word) == name


COUNTERS = r'''
        .text
        .globl _start
_start: la t0, mtrap
        csrw mtvec, t0
        csrwi mcounteren, 2     # S may read time only
        csrwi scounteren, 0     # U may read nothing
        li t0, 3 << 11
        csrc mstatus, t0
        li t0, 1 << 11
        csrs mstatus, t0        # MPP = S
        la t0, s_code
        csrw mepc, t0
        mret
s_code: rdtime t0               # allowed
        rdcycle t0              # illegal: to mtrap
        li t0, 1 << 8
        csrc sstatus, t0
        la t0, u_code
        csrw sepc, t0
        sret
u_code: rdtime t0               # illegal in U: scounteren.TM is clear
        ebreak
        .balign 4
mtrap:  csrr t1, mcause
        la t2, log
        add t2, t2, s0
        sd t1, 0(t2)
        csrr t1, mtval
        sd t1, 8(t2)
        addi s0, s0, 16
        li t3, 3
        csrr t1, mcause
        beq t1, t3, done
        csrr t1, mepc
        addi t1, t1, 4
        csrw mepc, t1
        mret
done:   li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
1:      j 1b
        .data
        .balign 8
log:    .space 64
'''


def test_counter_enables_decide_which_counter_reads_trap():
    prog = assemble(COUNTERS)
    bare = Machine(ram_size=8 << 20)
    bare.load_elf(prog.elf)
    assert bare.run(instructions=10_000).reason == "halt"
    _, vm = boot(prog.elf, bios=True)
    assert vm.run(instructions=10_000).reason == "halt"
    base = prog.symbols["log"]
    assert vm.mem.read(base, 64) == bare.read_mem(base, 64)
    log = [int.from_bytes(vm.mem.read(base + 8 * i, 8), "little") for i in range(6)]
    assert log[0::2] == [2, 2, 3]                  # rdcycle in S, rdtime in U, then ebreak
    assert log[1] == 0xC00022F3 and log[3] == 0xC01022F3


def test_a_reflected_trap_breaks_the_lr_sc_reservation():
    from hv_guest import guest
    body = r'''
        la t0, trap
        csrw stvec, t0
        la a0, word
        lr.d t1, (a0)
        sc.d s0, t1, (a0)       # no trap in between: succeeds (0)
        lr.d t1, (a0)
        csrr t2, mstatus        # illegal in vS: reflected into the guest's handler
        sc.d s1, t1, (a0)       # the trap broke the reservation: fails (nonzero)
        li a1, 0
        j shutdown
        .balign 4
trap:   csrr t3, sepc
        addi t3, t3, 4
        csrw sepc, t3
        sret
    '''
    _, vm = boot(guest(body, ".balign 8\nword: .dword 1"))
    assert vm.run(instructions=10_000).reason == "halt"
    v = vm.vcpus[0]
    assert v.reg(8) == 0 and v.reg(9) != 0


def test_emulated_instructions_count_in_minstret_as_on_the_bare_hart():
    src = r'''
        .text
        .globl _start
_start: csrw minstret, zero
        csrr s0, minstret
        li t0, 10
1:      addi t0, t0, -1
        bnez t0, 1b
        csrr s1, minstret
        csrwi mcountinhibit, 4  # stop counting instructions
        addi t0, t0, 1
        addi t0, t0, 1
        csrr s2, minstret
        csrwi mcountinhibit, 0
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
2:      j 2b
'''
    elf = assemble(src).elf
    bare = Machine(ram_size=8 << 20)
    bare.load_elf(elf)
    assert bare.run(instructions=10_000).reason == "halt"
    _, vm = boot(elf, bios=True)
    assert vm.run(instructions=10_000).reason == "halt"
    got = [vm.vcpus[0].reg(r) for r in (8, 9, 18)]
    assert got == [bare.reg(r) for r in (8, 9, 18)]
    assert got[1] - got[0] == 22 and got[2] == got[1] + 1


MPRV = r'''
        .text
        .globl _start
_start: la t0, mtrap
        csrw mtvec, t0
        la t0, root             # Sv39: gva 0x4000_0000 (1 GiB) -> gpa 0x8000_0000
        li t1, (0x80000000 >> 12 << 10) | 0xcf
        sd t1, 8(t0)
        srli t0, t0, 12
        li t1, 8 << 60
        or t0, t0, t1
        csrw satp, t0
        sfence.vma
        la t2, word
        li t3, 0x80000000
        sub t2, t2, t3
        li t3, 0x40000000
        add t2, t2, t3          # the gva of word
        li t0, (1 << 17) | (1 << 11)
        csrs mstatus, t0        # MPRV with MPP = S: M-mode loads and stores use S's view
        ld s0, 0(t2)
        li t1, 77
        sd t1, 8(t2)
        csrc mstatus, t0
        la t4, word
        ld s1, 8(t4)            # the store landed in word + 8
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
1:      j 1b
        .balign 4
mtrap:  j mtrap
        .data
        .balign 4096
root:   .space 4096
word:   .dword 0x1234, 0
'''


def test_mprv_loads_and_stores_in_virtual_m_mode_go_through_the_guest_tables():
    elf = assemble(MPRV).elf
    bare = Machine(ram_size=8 << 20)
    bare.load_elf(elf)
    assert bare.run(instructions=10_000).reason == "halt"
    _, vm = boot(elf, bios=True)
    assert vm.run(instructions=10_000).reason == "halt"
    v = vm.vcpus[0]
    assert (bare.reg(8), bare.reg(9)) == (0x1234, 77)
    assert (v.reg(8), v.reg(9)) == (0x1234, 77)
