"""The SBI under the hw backend: the same guests as tests/hv/test_hv_sbi.py, now running in
VS-mode -- their ecalls are exits of cause 10 and go to the same handlers; an IPI arrives
through hvip.VSSIP and the guest takes it itself (no injection)."""
from __future__ import annotations

import pytest

import hv_guest
import test_hv_sbi
from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG

SAME_TESTS = ("test_base_calls_return_error_and_value",
              "test_dbcn_write_takes_a_guest_physical_buffer",
              "test_hsm_status_and_start_of_a_second_vcpu",
              "test_srst_reboot_starts_the_guest_again_with_ram_kept")


@pytest.fixture
def hw_boot(monkeypatch):
    """test_hv_sbi's guests booted under the hw backend; the VMs they made, for a look."""
    made = []

    def boot(*args, **kwargs):
        hv, vm = hv_guest.boot(*args, backend="hw", **kwargs)
        made.append(vm)
        return hv, vm

    monkeypatch.setattr(test_hv_sbi, "boot", boot)
    return made


@pytest.mark.parametrize("name", SAME_TESTS)
def test_the_shadow_sbi_tests_pass_under_hw(name, hw_boot):
    getattr(test_hv_sbi, name)()
    vm = hw_boot[-1]
    assert vm.backend == "hw" and vm.trace.count(EXIT, 9) == 0 < vm.trace.count(EXIT, 10)


def test_ipi_is_taken_by_the_guest_itself(hw_boot):
    """test_hv_sbi's IPI guest: the software interrupt reaches the guest's handler (scause =
    interrupt 1, as on a bare hart) through hvip.VSSIP -- no injection record."""
    _, vm = test_hv_sbi.boot(test_hv_sbi.guest(test_hv_sbi.IPI_BODY))
    assert vm.run(instructions=10_000).reason == "halt"
    assert vm.vcpus[0].reg(8) == (1 << 63) | 1
    assert vm.backend == "hw" and vm.trace.count(INJECT, INTERRUPT_FLAG | 1) == 0
    assert vm.sbi_calls[0x735049] == 1
