"""teachos on several harts: 4 vCPUs on 2 pCPUs under Credit, bare on vmlab's 4-hart
machine, and on QEMU with -smp 4 (the oracle that the SMP code is right) -- each time the
programs print what they print on one hart."""
from __future__ import annotations

from collections import Counter

import pytest
from test_teachos import BOOT, WITH_DISK, disk, qemu, teachos_lines  # noqa: F401 (disk)

from vmlab.guests import teachos
from vmlab.hv import sbi
from vmlab.hv.sched import MS, Credit, Host, RoundRobin
from vmlab.hv.trace import EXIT
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine

BOOTED = "teachos: booting on hart "
STEAL = "teachos: steal time of hart "


@pytest.fixture(scope="module")
def program():
    return teachos.build()


def without_smp_lines(lines: list[str], harts: int) -> list[str]:
    """The lines a one-hart teachos prints, whatever the steal times: drop the hart count
    and the steal times; the boot line names hart 0 whichever booted."""
    return [BOOT[0] if line.startswith(BOOTED) else line for line in lines
            if line != f"teachos: {harts} harts" and not line.startswith(STEAL)]


def per_process(lines: list[str]) -> dict[str, list[str]]:
    """Each process's own lines, in its order ("pid 2: ..." -> "2")."""
    out: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("pid "):
            out.setdefault(line.split(":")[0], []).append(line)
    return out


def same_as_one_hart(lines: list[str], one: list[str], harts: int) -> None:
    assert f"teachos: {harts} harts" in lines
    assert lines.index(f"teachos: {harts} harts") < lines.index("teachos: starting 3 processes")
    mine, one = without_smp_lines(lines, harts), without_smp_lines(one, 1)
    assert per_process(mine) == per_process(one)
    assert Counter(mine) == Counter(one)
    assert mine[-5:] == one[-5:]                    # the summary comes last
    steal = [line for line in lines if line.startswith(STEAL)]
    assert steal == [] or len(steal) <= harts and lines[-1 - len(steal):-1] == steal


# ---- as a guest: 4 vCPUs on 2 pCPUs ------------------------------------------------------

def smp_guest(program, vcpus: int, pcpus: int, policy=None):
    """teachos in a VM with ``vcpus`` vCPUs on ``pcpus`` pCPUs under ``policy`` (default:
    Credit), run until it powers off: (host, vm)."""
    hv = Hypervisor(Machine(ram_size=64 << 20))
    vm = hv.create_vm(ram_size=32 << 20, vcpus=vcpus)
    vm.boot(kernel=program.elf)
    host = Host(hv, pcpus=pcpus, policy=policy or Credit())
    while not vm.stopped and host.now < 2000 * MS:
        host.run(10 * MS)
    assert vm.stopped == ("halt", 0), vm.console_output[-1000:]
    return host, vm


@pytest.fixture(scope="module")
def one_vcpu(program) -> list[str]:
    host, vm = smp_guest(program, 1, 1)
    return teachos_lines(vm.console_output)


def test_four_vcpus_on_two_pcpus_print_what_one_prints(program, one_vcpu):
    host, vm = smp_guest(program, 4, 2)
    lines = teachos_lines(vm.console_output)
    same_as_one_hart(lines, one_vcpu, 4)
    assert one_vcpu[-2] == "teachos: steal time of hart 0: 0 us"      # alone: no steal
    assert all(f"{STEAL}{h}:" in vm.console_output for h in range(4))
    assert all(v.started for v in vm.vcpus)
    calls = vm.sbi_calls
    # HSM: three statuses and three starts; RFENCE: one per process that died, to the
    # other harts that run teachos
    assert calls[sbi.EXT_HSM] == 6 and calls[sbi.EXT_RFENCE] == 3
    # the processes' system calls came from more than one vCPU: they ran on several harts
    ecalls = vm.trace.records(EXIT)
    ecalls = ecalls[ecalls["cause"] == 8]
    assert len(set(ecalls["vcpu"].tolist())) >= 2
    # both pCPUs worked
    assert all(p.busy_ns > 0 for p in host.pcpus)


def test_four_vcpus_twice_give_the_same_trace(program):
    a, _ = smp_guest(program, 4, 2)
    b, _ = smp_guest(program, 4, 2)
    assert a.trace_hash() == b.trace_hash()
    assert a.now == b.now


def test_two_vcpus_sharing_one_pcpu_report_steal(program, one_vcpu):
    """Two vCPUs of one VM on one pCPU steal from each other (round robin with 1 ms
    slices, so that they take turns within teachos's ~25 ms; under Credit a vCPU started
    later has no credit until the next 30 ms period): each hart's steal time, as the host
    last reported it, is the ready time the host's metrics counted when it last ran."""
    host, vm = smp_guest(program, 2, 1, RoundRobin(slice_ns=MS))
    lines = teachos_lines(vm.console_output)
    same_as_one_hart(lines, one_vcpu, 2)
    for hart in range(2):
        steal = int(next(x for x in lines if x.startswith(f"teachos: steal time of hart {hart}:"))
                    .split(":")[2].split()[0])
        assert steal > 0
        assert steal == host.view(vm, hart)._ready_ns // 1000


def test_an_idle_hart_is_woken_by_an_ipi(program, one_vcpu):
    """A process waiting for the console turn sleeps; when the turn is passed to it, the
    kernel wakes an idle hart with an SBI IPI (3 vCPUs on 2 pCPUs, 0.5 ms round robin:
    harts go idle while the processes sleep), and the output stays the same."""
    host, vm = smp_guest(program, 3, 2, RoundRobin(slice_ns=MS // 2))
    same_as_one_hart(teachos_lines(vm.console_output), one_vcpu, 3)
    assert vm.sbi_calls[sbi.EXT_IPI] > 0
    woken = [v for v in host.vcpus if v._wakes > 0 and v.id > 0]
    assert woken, "no secondary vCPU ever woke from wfi"


# ---- bare: vmlab's machine and QEMU ------------------------------------------------------

@pytest.mark.slow
def test_vmlab_machine_with_four_harts(program, opensbi_fw_jump, disk):
    """OpenSBI on all four harts (its lottery picks the boot hart), teachos starts the
    other three through it, and prints what it prints on one hart."""
    outs = []
    for _ in range(2):
        m = Machine(harts=4, drive=str(disk))
        m.boot_virt(bios=opensbi_fw_jump, kernel=program.elf)
        r = m.run(instructions=600_000_000)
        assert r.reason == "halt", m.console_output[-1000:]
        outs.append(m.console_output)
    same_as_one_hart(teachos_lines_any_hart(outs[0]), WITH_DISK, 4)
    assert outs[0] == outs[1]                     # deterministic, bare too


@pytest.mark.slow
def test_qemu_with_four_harts(program, opensbi_fw_jump, tmp_path, disk):
    """The oracle: QEMU's virt board with -smp 4 (its harts really run in parallel, on
    host threads) runs the same kernel to the same output."""
    for _ in range(3):                      # races would show as a hang or a different order
        r = qemu(program, opensbi_fw_jump, tmp_path, disk, ("-smp", "4"))
        assert r.returncode == 0, r.stdout[-1000:]
        same_as_one_hart(teachos_lines_any_hart(r.stdout), WITH_DISK, 4)


def teachos_lines_any_hart(console: str) -> list[str]:
    """teachos_lines, for a console whose boot hart may be any (QEMU's lottery)."""
    start = console.find(BOOTED)
    assert start >= 0, console[-2000:]
    return console[start:].replace("\r", "").rstrip("\n").split("\n")

