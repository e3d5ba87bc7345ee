"""Student hooks (vmlab.hv.hooks): a student's function replaces one handler of one VM while
the rest of the hypervisor runs; a broken one stops the run with one line naming it."""
from __future__ import annotations

import pytest

from tests.hv.hv_guest import boot, guest, program
from vmlab.hv import hooks
from vmlab.machine import layout as L

SSCRATCH = 0x140


def test_a_csr_hook_answers_the_guests_reads_and_sees_its_writes():
    seen = []

    def read(hart, csr):
        return 0x1234 if csr == SSCRATCH else hart[csr]

    def write(hart, csr, value):
        seen.append((csr, value))
        hart[csr] = value ^ 0xFF

    _, vm = boot(guest("""
        li t0, 0x55
        csrw sscratch, t0
        csrr s1, sscratch
        csrr s2, stvec          # not hooked: vmlab's own
        j shutdown
    """))
    hooks.csr(vm, read, write, csrs=["sscratch"])
    assert vm.run(1_000_000).reason == "halt"
    v = vm.vcpus[0]
    assert seen == [(SSCRATCH, 0x55)]
    assert v.reg(9) == 0x1234                       # s1: what the hook read
    assert v.csr("sscratch") == 0x55 ^ 0xFF         # the hook's write reached the storage
    assert vm.fast_exits is False
    assert vm.trace.handler_counts["csr"] == 3


def test_a_csr_the_guests_mode_may_not_touch_is_reflected_before_the_hook_runs():
    calls = []
    _, vm = boot(guest("""
        la t0, handler
        csrw stvec, t0
        la t0, user
        csrw sepc, t0
        sret                    # to U-mode (SPP is 0)
user:   csrr s1, sscratch       # illegal in U
        j user
        .balign 4               # stvec's base: 4-byte aligned
handler:
        csrr s2, scause
        j shutdown
    """))
    hooks.csr(vm, lambda h, c: calls.append(c) or 0, lambda h, c, v: None, csrs=["sscratch"])
    assert vm.run(1_000_000).reason == "halt"
    assert SSCRATCH not in calls
    assert vm.vcpus[0].reg(18) == L.CAUSE_ILLEGAL


def test_an_instruction_hook_can_refuse_and_the_guest_gets_an_illegal_instruction():
    def sret(hart):
        raise hooks.IllegalInstruction

    _, vm = boot(guest("""
        la t0, handler
        csrw stvec, t0
        sret
        j shutdown
        .balign 4
handler:
        csrr s1, scause
        csrr s2, stval
        j shutdown
    """))
    hooks.instruction(vm, "sret", sret)
    assert vm.run(1_000_000).reason == "halt"
    assert vm.vcpus[0].reg(9) == L.CAUSE_ILLEGAL
    assert vm.vcpus[0].reg(18) == 0x10200073        # stval: the sret's bits


def test_a_hook_that_raises_stops_the_run_with_one_line_naming_it():
    def my_broken_read(hart, csr):
        return 1 // 0

    _, vm = boot(guest("csrr s1, sscratch\nj shutdown"))
    hooks.csr(vm, my_broken_read, lambda h, c, v: None)
    with pytest.raises(hooks.HookError) as info:
        vm.run(1_000_000)
    text = str(info.value)
    assert "\n" not in text
    assert "my_broken_read" in text and "ZeroDivisionError" in text and "0x" in text
    assert info.value._render_traceback_() == [f"HookError: {text}"]
    assert vm.vcpus[0].priv == L.PRIV_S             # the VM is still there, to inspect


@pytest.mark.parametrize("garbage", ["0x10", None, 1.5, 1 << 64, True])
def test_a_hook_that_returns_garbage_is_named(garbage):
    def sloppy_read(hart, csr):
        return garbage

    _, vm = boot(guest("csrr s1, sscratch\nj shutdown"))
    hooks.csr(vm, sloppy_read, lambda h, c, v: None)
    with pytest.raises(hooks.HookError, match="sloppy_read returned a bad value"):
        vm.run(1_000_000)


def test_a_hook_writing_garbage_into_the_hart_is_named():
    def sret(hart):
        hart.pc = "somewhere"

    _, vm = boot(guest("sret\nj shutdown"))
    hooks.instruction(vm, "sret", sret)
    with pytest.raises(hooks.HookError, match="sret raised TypeError"):
        vm.run(1_000_000)


def test_the_sbi_hook_answers_the_calls_it_takes_and_leaves_the_others_to_vmlab():
    asked = []

    def my_sbi(hart, eid, fid, args):
        asked.append((eid, fid, args[0]))
        return 0, args[0] * 2

    _, vm = boot(guest("""
        li a7, 0x0A000042
        li a6, 3
        li a0, 21
        ecall
        mv s1, a0
        mv s2, a1
        j shutdown              # SRST: not the hook's
    """))
    hooks.sbi(vm, my_sbi, extensions=[0x0A000042])
    r = vm.run(1_000_000)
    assert (r.reason, asked) == ("halt", [(0x0A000042, 3, 21)])
    assert (vm.vcpus[0].reg(9), vm.vcpus[0].reg(18)) == (0, 42)


def test_an_sbi_hook_must_answer_error_and_value():
    _, vm = boot(guest("li a7, 0x10\nli a6, 0\necall\nj shutdown"))
    hooks.sbi(vm, lambda hart, eid, fid, args: 7)
    with pytest.raises(hooks.HookError, match="answers \\(error, value\\)"):
        vm.run(1_000_000)


def test_the_reflect_hook_delivers_every_reflected_trap():
    got = []

    def reflect(hart, cause, tval):
        got.append((cause, tval, hart.pc))
        hart["sepc"], hart["scause"] = hart.pc, cause
        hart.pc = hart["stvec"]

    prog = program("""
        la t0, handler
        csrw stvec, t0
here:   ebreak
        j shutdown
        .balign 4
handler:
        csrr s1, scause
        csrr s2, sepc
        j shutdown
    """)
    _, vm = boot(prog.elf)
    hooks.reflect(vm, reflect)
    assert vm.run(1_000_000).reason == "halt"
    here = prog.symbols["here"]
    assert got == [(L.CAUSE_BREAKPOINT, here, here)]
    assert (vm.vcpus[0].reg(9), vm.vcpus[0].reg(18)) == (L.CAUSE_BREAKPOINT, here)


def test_a_device_hook_serves_the_guests_loads_and_stores():
    log = []
    _, vm = boot(guest("""
        li t0, 0x10009000
        li t1, 0x77
        sw t1, 8(t0)
        lw s1, 4(t0)
        j shutdown
    """))
    hooks.device(vm, 0x1000_9000, 0x100, read=lambda off, size: 0xABC0 + off,
                 write=lambda off, size, value: log.append((off, size, value)))
    assert vm.run(1_000_000).reason == "halt"
    assert log == [(8, 4, 0x77)]
    assert vm.vcpus[0].reg(9) == 0xABC4
    with pytest.raises(ValueError, match="inside guest RAM"):
        hooks.device(vm, 0x8000_1000, 0x100, read=None, write=None)


def test_remove_gives_back_vmlabs_handlers():
    _, vm = boot(guest("csrr s1, sscratch\nj shutdown"))
    hooks.csr(vm, lambda h, c: 99, lambda h, c, v: None)
    assert hooks.hooked(vm)
    hooks.remove(vm)
    assert not hooks.hooked(vm)
    assert vm.run(1_000_000).reason == "halt"
    assert vm.vcpus[0].reg(9) == 0


def test_only_known_instructions_can_be_hooked():
    _, vm = boot(guest("j shutdown"))
    with pytest.raises(ValueError, match="sret, wfi, mret"):
        hooks.instruction(vm, "ecall", lambda h: None)


def test_the_shadow_fill_goes_to_the_pagers_own_seam():
    _, vm = boot(guest("j shutdown"))

    def my_fill(req):
        raise AssertionError("not called here")
    assert not hooks.hooked(vm)
    hooks.shadow_fill(vm, my_fill)
    assert vm.shadow.fill_hook is my_fill and vm.fast_exits is False and hooks.hooked(vm)


def test_teachos_runs_the_same_with_a_students_reflection(tmp_path):
    """The reflection hook on a whole OS: every syscall, every user page fault goes through
    it, and the console is the same as with vmlab's own reflection."""
    from vmlab.grading.lab08 import reference_reflect
    from vmlab.guests import teachos
    kernel = teachos.build()
    outputs = []
    for hooked_vm in (False, True):
        _, vm = boot(kernel.elf, ram_size=64 << 20, host_ram=96 << 20)
        if hooked_vm:
            hooks.reflect(vm, reference_reflect)
        r = vm.run(100_000_000)
        assert (r.reason, r.exit_code) == ("halt", 0)
        outputs.append((vm.console_output, vm.trace.by_cause()))
    assert outputs[0] == outputs[1]
    assert "teachos: powering off" in outputs[0][0]
