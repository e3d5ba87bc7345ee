"""SBI from the hypervisor: a kernel started in virtual S-mode calls it with ecall."""
from __future__ import annotations

from hv_guest import boot, guest

from vmlab.hv import sbi
from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG


def test_legacy_putchar_and_srst_shutdown():
    _, vm = boot(guest("la a0, msg\n call puts\n li a1, 0\n j shutdown", 'msg: .asciz "hi\\n"'))
    r = vm.run(instructions=100_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    assert vm.console_output == "hi\n"
    assert vm.trace.count(EXIT, 9) == 4           # 3 putchar + 1 system_reset, as ecall from vS
    assert vm.sbi_calls[sbi.EXT_SRST] == 1


def test_base_calls_return_error_and_value():
    body = r'''
        li a7, 0x10
        li a6, 0            # get_spec_version
        ecall
        mv s0, a0
        mv s1, a1
        li a6, 3            # probe_extension(DBCN)
        li a0, 0x4442434E
        ecall
        mv s2, a1
        li a6, 3            # probe_extension(an unknown one)
        li a0, 0x12345
        ecall
        mv s3, a1
        li a7, 0x54494D45
        li a6, 7            # TIME has only function 0
        ecall
        mv s4, a0
        ebreak
    '''
    _, vm = boot(guest(body))
    vm.run(instructions=1000)
    v = vm.vcpus[0]
    assert (v.reg(8), v.reg(9)) == (0, 2 << 24)
    assert v.reg(18) == 1 and v.reg(19) == 0
    assert v.reg(20) == (sbi.ERR_NOT_SUPPORTED & (2**64 - 1))


def test_dbcn_write_takes_a_guest_physical_buffer():
    body = r'''
        li a7, 0x4442434E
        li a6, 0
        li a0, 5
        la a1, msg
        li a2, 0
        ecall
        mv s0, a1
        li a6, 2
        li a0, 0x21        # write_byte('!')
        ecall
        li a1, 0
        j shutdown
    '''
    _, vm = boot(guest(body, 'msg: .ascii "dbcn!"'))
    vm.run(instructions=1000)
    assert vm.console_output == "dbcn!!"
    assert vm.vcpus[0].reg(8) == 5


def test_hsm_status_and_start_of_a_second_vcpu():
    body = r'''
        csrr t0, sstatus    # (exits: csr)
        bnez a0, second
        li a7, 0x48534D
        li a6, 2            # hart_get_status(1): stopped
        li a0, 1
        ecall
        mv s0, a1
        li a6, 0            # hart_start(1, second, 42)
        li a0, 1
        la a1, second
        li a2, 42
        ecall
        mv s1, a0
1:      la t0, flag
        ld t1, 0(t0)
        beqz t1, 1b
        li a1, 0
        j shutdown
second: la t0, flag        # a0 = hart id 1, a1 = opaque
        sd a1, 0(t0)
2:      j 2b
    '''
    _, vm = boot(guest(body, ".balign 8\nflag: .dword 0"), vcpus=2)
    r = vm.run(instructions=200_000)
    assert r.reason == "halt"
    v0, v1 = vm.vcpus
    assert v0.reg(8) == sbi.HSM_STOPPED and v0.reg(9) == 0
    assert v1.reg(10) == 1 and v1.reg(11) == 42 and v1.priv == 1


def test_srst_reboot_starts_the_guest_again_with_ram_kept():
    body = r'''
        li t0, 0x80100000       # outside the image: survives the reboot
        ld t1, 0(t0)
        addi t1, t1, 1
        sd t1, 0(t0)
        la a0, msg
        call puts
        li t0, 2
        beq t1, t0, 1f
        li a7, 0x53525354
        li a6, 0
        li a0, 1                # cold reboot
        li a1, 0
        ecall
1:      li a1, 0
        j shutdown
    '''
    _, vm = boot(guest(body, 'msg: .asciz "boot\\n"'))
    r = vm.run(instructions=10_000)
    assert r.reason == "reset"
    vm.reboot()
    r = vm.run(instructions=10_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    assert vm.console_output == "boot\nboot\n"


#: a guest that sends itself an IPI and waits in its handler for scause (in s0)
IPI_BODY = r'''
        la t0, trap
        csrw stvec, t0
        csrsi sie, 2            # SSIE
        csrsi sstatus, 2        # SIE
        li a7, 0x735049
        li a6, 0
        li a0, 1                # hart_mask: hart 0
        li a1, 0                # hart_mask_base
        ecall
1:      beqz s0, 1b
        li a1, 0
        j shutdown
        .balign 4
trap:   csrr s0, scause
        csrci sip, 2            # acknowledge
        sret
'''


def test_ipi_to_itself_is_a_supervisor_software_interrupt():
    _, vm = boot(guest(IPI_BODY))
    assert vm.run(instructions=10_000).reason == "halt"
    assert vm.vcpus[0].reg(8) == (1 << 63) | 1
    assert vm.trace.count(INJECT, INTERRUPT_FLAG | 1) == 1
