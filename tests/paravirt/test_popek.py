"""Popek and Goldberg on our machine: the quirk that makes a sensitive instruction not
trap, the guest that trap-and-emulate then gets wrong, and binary translation fixing it."""
from __future__ import annotations

import pytest

from vmlab.asm import assemble
from vmlab.guests import popek
from vmlab.hv import translate
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.machine import layout as L

KEY = 0x9E3779B1


def run_bare(prog, quirk: bool) -> Machine:
    m = Machine(ram_size=8 << 20)
    m.load_elf(prog.elf)
    m.pc = prog.symbols["_start"]
    translate.set_sensitive_read(m, quirk)
    assert m.run(instructions=1_000_000).reason == "halt"
    return m


def run_guest(prog, quirk: bool, bt: bool, entry: str = "s_start"):
    hv = Hypervisor(Machine(ram_size=32 << 20))
    vm = hv.create_vm(ram_size=8 << 20)
    translate.set_sensitive_read(hv.machine, quirk)
    tr = translate.attach(vm) if bt else None
    vm.boot(kernel=prog.elf)
    vm.vcpus[0].set_pc(prog.symbols[entry])
    assert vm.run(instructions=10_000_000).reason == "halt"
    return vm, tr


@pytest.fixture(scope="module")
def prog():
    return popek.build(KEY)


@pytest.mark.parametrize("quirk", [False, True])
def test_bare_metal_is_right_with_or_without_the_quirk(prog, quirk):
    # the kernel runs in real S-mode: its reads of sstatus are legal and real
    assert run_bare(prog, quirk).console_output == popek.expected(KEY)


def test_trap_and_emulate_is_right_on_a_hart_that_keeps_the_rule(prog):
    vm, _ = run_guest(prog, quirk=False, bt=False)
    assert vm.console_output == popek.expected(KEY)
    assert vm.trace.handler_counts["csr"] == 2 * popek.KEY_BITS + 1   # every read exits


def test_trap_and_emulate_is_wrong_with_the_quirk(prog):
    vm, _ = run_guest(prog, quirk=True, bt=False)
    assert vm.console_output == popek.expected(0)      # the real SIE, always 0
    # the reads no longer exit: only the csrsi/csrci (and the last csrci) do
    assert vm.trace.handler_counts["csr"] == popek.KEY_BITS + 1


def test_binary_translation_makes_it_right_again(prog):
    vm, tr = run_guest(prog, quirk=True, bt=True)
    assert vm.console_output == popek.expected(KEY)
    assert tr.counters["emulated"] == popek.KEY_BITS   # each read: patched, trapped, emulated
    assert tr.counters["blocks"] > 5 and tr.counters["patched"] >= 1
    names = [e.handler for e in vm.trace.events() if e.kind == "shadow"]
    assert names.count("bt-block") == tr.counters["blocks"]
    assert names.count("bt-patch") == tr.counters["patched"]
    patched = prog.symbols["read_back"]                # where the sensitive read sits
    assert any(e.handler == "bt-patch" and e.tval == patched and e.insn == 0x10002373
               for e in vm.trace.events())
    assert vm.trace.handler_counts["bt"] == popek.KEY_BITS


def test_the_translator_leaves_a_guests_own_ebreak_to_the_guest():
    # vS kernel: stvec -> handler that records scause and skips; ebreak must reach it
    src = """
    .option norvc
    .globl _start
_start:
    la t0, handler
    csrw stvec, t0
    ebreak
    la t0, result
    sd s1, 0(t0)
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    ecall
handler:
    csrr s1, scause
    csrr t0, sepc
    addi t0, t0, 4
    csrw sepc, t0
    sret
    .data
    .balign 4096
result: .dword 0
"""
    prog = assemble(src)
    vm, tr = run_guest(prog, quirk=True, bt=True, entry="_start")
    assert vm.mem.read64(prog.symbols["result"]) == L.CAUSE_BREAKPOINT
    assert tr.counters["emulated"] == 0


SELF_MODIFYING = """
    .option norvc
    .globl _start
_start:
    csrsi sstatus, 2            # virtual SIE = 1
    call slot                   # the slot's first version: a0 = 7
    la t0, result
    sd a0, 0(t0)
    la t0, template             # write `csrr a0, sstatus` into the slot (a translated page)
    lw t1, 0(t0)
    la t0, slot
    sw t1, 0(t0)
    fence.i
    call slot                   # the new version must be scanned before it runs
    andi a0, a0, 2
    la t0, result
    sd a0, 8(t0)
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    ecall
slot:
    li a0, 7
    ret
    .data
    .balign 4096
template: .word 0x10002573      # csrr a0, sstatus (as data: never scanned)
    .balign 8
result: .dword 0, 0
"""


@pytest.mark.parametrize("bt, sie", [(True, 2), (False, 0)])
def test_code_written_after_translation_is_scanned_again(bt, sie):
    prog = assemble(SELF_MODIFYING)
    vm, tr = run_guest(prog, quirk=True, bt=bt, entry="_start")
    result = prog.symbols["result"]
    assert vm.mem.read64(result) == 7
    assert vm.mem.read64(result + 8) == sie
    if bt:
        assert tr.counters["invalidations"] == 1 and tr.counters["emulated"] == 1


@pytest.mark.parametrize("text, sensitive", [
    ("csrr a0, sstatus", True), ("csrrc t1, sstatus, zero", True),
    ("csrrsi a5, sstatus, 0", True), ("csrrci a5, sstatus, 0", True),
    ("csrs sstatus, a0", False), ("csrrsi a5, sstatus, 1", False), ("csrw sstatus, a0", False),
    ("csrr a0, sscratch", False), ("csrr a0, mstatus", False), ("addi a0, a0, 1", False),
])
def test_which_instructions_are_sensitive(text, sensitive):
    word = int.from_bytes(assemble(".option norvc\n" + text).image[:4], "little")
    assert translate.is_sensitive(word) is sensitive


@pytest.mark.parametrize("quirk", [False, True])
def test_the_quirk_on_the_bare_hart(quirk):
    """U-mode `csrr t1, sstatus`: an illegal-instruction trap, or (quirk) the real value;
    a write still traps either way."""
    src = """
    .option norvc
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    csrsi mstatus, 2            # mstatus.SIE = 1 (so the real sstatus shows SIE), MPP = U
    li t0, 0x1800
    csrc mstatus, t0
    la t0, user
    csrw mepc, t0
    li t1, -1
    mret
user:
    csrr t1, sstatus
    csrw sstatus, zero
    j user
trap:
    csrr t2, mcause
    la t0, result
    sd t1, 0(t0)
    sd t2, 8(t0)
    li t0, 0x100000
    li t3, 0x5555
    sw t3, 0(t0)
    .data
result: .dword 0, 0
"""
    prog = assemble(src)
    m = run_bare(prog, quirk)
    value = int.from_bytes(m.read_mem(prog.symbols["result"], 8), "little")
    assert int.from_bytes(m.read_mem(prog.symbols["result"] + 8, 8), "little") == L.CAUSE_ILLEGAL
    if quirk:       # the read went through (the real SIE is 1), the write trapped
        assert value & 2 and value != (1 << 64) - 1
    else:           # the read trapped: t1 still holds -1
        assert value == (1 << 64) - 1


def test_teachos_runs_the_same_under_the_translator(tmp_path):
    """A whole kernel (teachos: paging, processes, a disk) through the translator: every page
    it runs is scanned first, and it prints exactly what it prints without one."""
    from vmlab.guests import teachos
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"Hello from sector 0 of the disk!\n".ljust(4096, b"\0"))
    prog, outs = teachos.build(), []
    for bt in (False, True):
        hv = Hypervisor(Machine(ram_size=192 << 20))
        vm = hv.create_vm(ram_size=128 << 20, drive=disk)
        translate.set_sensitive_read(hv.machine, bt)
        tr = translate.attach(vm) if bt else None
        vm.boot(kernel=prog.elf)
        assert vm.run(instructions=200_000_000).reason == "halt"
        vm.close_devices()
        outs.append(vm.console_output)
    assert "teachos: powering off" in outs[0] and outs[1] == outs[0]
    assert tr.counters["pages"] >= 2 and tr.counters["blocks"] > 50
