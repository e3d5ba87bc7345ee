"""teachos, the teaching OS: GNU binutils build the same bytes as vmlab.asm, and it prints
the same console output on QEMU (with Debian's OpenSBI) and on vmlab's own machine,
whatever the timer period."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from oracles import need_tool
from vmlab.guests import teachos

DISK_TEXT = "Hello from sector 0 of the disk!"

BOOT = [
    "teachos: booting on hart 0",
    "teachos: Sv39 paging on (RAM: one 1 GiB page, devices: one 2 MiB page)",
]


def expected(disk_line: str, disk_says: str) -> list[str]:
    """The console from teachos's first line to its last, with or without a disk."""
    return BOOT + [
        disk_line,
        "teachos: starting 3 processes",
        "pid 1: round 1 of 3, sum 500000500000",
        "pid 2: round 1 of 3, sum 1000001000000",
        disk_says,
        "pid 3: now reading kernel memory at 0x80200000",
        "pid 3: load page fault at 0x80200000 (pc 0x11b6), killed",
        "pid 1: round 2 of 3, sum 1000001000000",
        "pid 2: round 2 of 3, sum 2000002000000",
        "pid 1: round 3 of 3, sum 1500001500000",
        "pid 2: round 3 of 3, sum 3000003000000",
        "teachos: all processes are done",
        "  pid 1 (count): exit status 0",
        "  pid 2 (count): exit status 0",
        "  pid 3 (reader): killed by load page fault",
        "teachos: powering off",
    ]


WITH_DISK = expected("virtio-blk: a disk of 8 sectors", f"pid 3: the disk says: {DISK_TEXT}")



def teachos_lines(console: str) -> list[str]:
    """teachos's own lines: everything from its first line on (the firmware's banner
    comes before), without carriage returns."""
    start = console.find(BOOT[0])
    assert start >= 0, f"teachos never started; console:\n{console[-2000:]}"
    return console[start:].replace("\r", "").rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def program():
    return teachos.build()


@pytest.fixture
def disk(tmp_path) -> Path:
    """An 8-sector raw disk image whose sector 0 holds DISK_TEXT and a newline."""
    path = tmp_path / "disk.img"
    data = bytearray(8 * 512)
    text = (DISK_TEXT + "\n").encode()
    data[:len(text)] = text
    path.write_bytes(bytes(data))
    return path


def with_tick(period: int):
    """teachos assembled with another timer period (in `time` units)."""
    from vmlab.asm import assemble
    src, n = re.subn(r"(\.equ TICK,\s*)\d+", rf"\g<1>{period}", teachos.source())
    assert n == 1
    return assemble(src, base=teachos.KERNEL_BASE, filename="teachos.s")


# ---- the source -------------------------------------------------------------------------

def test_parts_are_small_and_explained():
    for name in teachos.PARTS:
        text = teachos.part(name)
        assert text.startswith(f"# {name}.s -- "), f"{name}.s must open with a header comment"
        assert text.count("\n") <= 300, f"{name}.s has grown past 300 lines"


def test_build_has_entry_and_ticks(program):
    assert program.entry == teachos.KERNEL_BASE == program.sections[".text"].addr
    assert program.symbols["_start"] == teachos.KERNEL_BASE
    assert "ticks" in program.symbols
    # the user programs fill exactly one page of their own
    assert program.symbols["user_end"] - program.symbols["user_start"] == 4096
    assert program.symbols["user_start"] % 4096 == 0


def test_line_of_maps_back_to_parts():
    lines = teachos.source().split("\n")
    for name in teachos.PARTS:
        body = teachos.part(name).split("\n")
        banner = lines.index(f"# ==== {name}.s") + 1          # 1-based line numbers
        for k in (1, 7, len(body) - 1):
            assert teachos.line_of(banner + k) == (name, k)
            assert lines[banner + k - 1] == body[k - 1]


def test_gnu_as_and_ld_build_the_same_bytes(program, gnu_as, gnu_ld, tmp_path):
    from elftools.elf.elffile import ELFFile
    src, obj, exe = tmp_path / "teachos.s", tmp_path / "teachos.o", tmp_path / "teachos.elf"
    script = tmp_path / "teachos.ld"
    src.write_text(teachos.source())
    script.write_text(teachos.linker_script())
    run([gnu_as, f"-march={teachos.GNU_MARCH}", "-mno-relax", "-o", str(obj), str(src)])
    run([gnu_ld, "-nostdlib", "--no-relax", "--build-id=none", "-T", str(script),
         "-o", str(exe), str(obj)])
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        gnu = {s.name: s for s in elf.iter_sections() if s["sh_flags"] & 2}
        assert set(gnu) == set(program.sections)
        for name, ours in program.sections.items():
            theirs = gnu[name]
            assert (theirs["sh_addr"], theirs["sh_size"]) == (ours.addr, ours.size), name
            if not ours.nobits:
                assert theirs.data() == ours.data, f"{name}: the bytes differ"
        assert elf["e_entry"] == program.entry
        symtab = elf.get_section_by_name(".symtab")
        assert symtab.get_symbol_by_name("ticks")[0]["st_value"] == program.symbols["ticks"]


# ---- QEMU -------------------------------------------------------------------------------

def qemu(program, fw_jump: Path, tmp_path, disk: Path | None,
         extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    exe = need_tool("qemu-system-riscv64", "qemu-system-misc")
    kernel = tmp_path / "teachos.elf"
    program.write_elf(kernel)
    cmd = [exe, "-M", "virt", "-m", "128M", "-nographic", "-bios", str(fw_jump),
           "-kernel", str(kernel), "-global", "virtio-mmio.force-legacy=false", *extra]
    if disk is not None:
        # bus=virtio-mmio-bus.0 puts the disk in the first slot, 0x1000_1000 (QEMU fills
        # the slots from the last one, 0x1000_8000, otherwise)
        cmd += ["-drive", f"file={disk},if=none,format=raw,id=hd0",
                "-device", "virtio-blk-device,drive=hd0,bus=virtio-mmio-bus.0"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_qemu_runs_it(program, opensbi_fw_jump, tmp_path, disk):
    r = qemu(program, opensbi_fw_jump, tmp_path, disk)
    assert teachos_lines(r.stdout) == WITH_DISK
    assert r.returncode == 0            # SBI SRST powered the machine off


@pytest.mark.slow
def test_qemu_without_a_disk(program, opensbi_fw_jump, tmp_path):
    r = qemu(program, opensbi_fw_jump, tmp_path, None)
    assert teachos_lines(r.stdout) == expected(
        "virtio-blk: no disk (device id 0)", "pid 3: there is no disk to read")
    assert r.returncode == 0


@pytest.mark.slow
def test_qemu_traps_match_the_code(program, opensbi_fw_jump, tmp_path, disk):
    """QEMU's trap log (-d int) against what teachos's code does: one SBI set_timer per
    timer interrupt (plus the first), four probes (TIME, SRST, STA -- which OpenSBI
    lacks, so no set_shmem follows -- and HSM), one HSM hart_get_status (hart 1: there is
    none, so no hart_start, IPI or RFENCE follows) and a shutdown; one page fault."""
    log = tmp_path / "int.log"
    r = qemu(program, opensbi_fw_jump, tmp_path, disk, ("-d", "int", "-D", str(log)))
    assert teachos_lines(r.stdout) == WITH_DISK
    traps = re.findall(r"async:(\d), cause:([0-9a-f]+), epc:0x([0-9a-f]+)", log.read_text())
    kernel = [(int(a), int(c, 16)) for a, c, pc in traps if int(pc, 16) >= teachos.KERNEL_BASE]
    user = [(int(a), int(c, 16)) for a, c, pc in traps if int(pc, 16) < 0x10000]
    timer_irqs = sum(1 for a, c, pc in traps if (int(a), int(c, 16)) == (1, 5))
    assert timer_irqs >= 1, "no timer interrupt: nothing was preempted"
    assert kernel.count((0, 9)) == 4 + 1 + (1 + timer_irqs) + 1  # ecalls from S to the SBI
    assert user.count((0, 13)) == 1                               # pid 3's load page fault
    # system calls: 32 per count process (a getpid, 3 rounds of 8 writes, a getpid and a
    # yield, an exit) and 13 for the reader; more when a write had to wait for its turn
    assert user.count((0, 8)) >= 2 * 32 + 13


# ---- vmlab's machine --------------------------------------------------------------------

def vmlab_run(program, fw_jump: Path, disk: Path | None, budget: int = 300_000_000):
    """Boot OpenSBI + teachos on vmlab's virt machine: (console, ticks, machine counters)."""
    from vmlab.machine import Machine
    m = Machine(drive=str(disk) if disk is not None else None)
    m.boot_virt(bios=fw_jump, kernel=program.elf)
    r = m.run(instructions=budget)
    assert r.instructions < budget, "teachos did not power off"
    ticks = int.from_bytes(m.read_mem(program.symbols["ticks"], 8), "little")
    return m.console_output, ticks, m.counters


@pytest.mark.slow
def test_vmlab_runs_it_like_qemu(program, opensbi_fw_jump, disk):
    console, ticks, counters = vmlab_run(program, opensbi_fw_jump, disk)
    assert teachos_lines(console) == WITH_DISK
    # the kernel counted every supervisor timer interrupt the machine delivered, and made
    # one SBI set_timer call for each (plus the first, four probes, one HSM status and the
    # shutdown)
    assert ticks == counters["interrupts"]["supervisor_timer"]
    assert counters["exceptions"]["supervisor_ecall"] == 7 + ticks
    assert counters["exceptions"]["load_page_fault"] == 1
    assert counters["exceptions"]["user_ecall"] >= 2 * 32 + 13
    # and there were enough for real preemption: each round of a count process is
    # ~4 M instructions, several ticks long
    assert ticks >= 6


@pytest.mark.slow
def test_vmlab_without_a_disk(program, opensbi_fw_jump):
    console, _, _ = vmlab_run(program, opensbi_fw_jump, None)
    lines = teachos_lines(console)
    # vmlab's board has no virtio-mmio slot without a drive; QEMU's has an empty one
    assert lines[2].startswith("virtio-blk: no disk (")
    assert lines[:2] + lines[3:] == BOOT + expected("", "pid 3: there is no disk to read")[3:]


@pytest.mark.slow
@pytest.mark.parametrize("period", [2_500, 40_000])
def test_output_does_not_depend_on_the_timer_period(period, opensbi_fw_jump, disk):
    console, ticks, counters = vmlab_run(with_tick(period), opensbi_fw_jump, disk)
    assert teachos_lines(console) == WITH_DISK
    assert ticks == counters["interrupts"]["supervisor_timer"] > 0


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed:\n{r.stderr}")


# ---- as a guest of vmlab's hypervisor ----------------------------------------------------

def hv_run(program, disk: Path, bios: Path | None = None, budget: int = 300_000_000):
    """Boot teachos in a VM (SBI from the hypervisor, or OpenSBI in virtual M-mode)."""
    from vmlab.hv import Hypervisor
    vm = Hypervisor().create_vm(ram_size=128 << 20, drive=str(disk))
    vm.boot(kernel=program.elf, bios=bios)
    r = vm.run(instructions=budget)
    assert r.instructions < budget, "teachos did not power off"
    return vm


@pytest.mark.slow
def test_hv_runs_it_as_a_guest(program, disk):
    from vmlab.hv.trace import EXIT, INJECT, INTERRUPT_FLAG
    vm = hv_run(program, disk)
    # the hypervisor offers STA, but writes the record only when it schedules the vCPU on
    # a pCPU (vmlab.hv.sched); vm.run() alone never does, so teachos has nothing to say
    assert teachos_lines(vm.console_output) == WITH_DISK
    assert vm.sbi_calls[0x535441] == 1                  # but it did register its record
    ticks = vm.mem.read64(program.symbols["ticks"])
    exits, injected = vm.trace.by_cause(EXIT), vm.trace.by_cause(INJECT)
    s_timer = INTERRUPT_FLAG | 5
    # one timer exit per tick, each reflected into the guest, which counted it
    assert exits[s_timer] == injected[s_timer] == ticks >= 6
    # SBI calls (ecalls from vS): four probes, STA's set_shmem, one HSM status (no hart 1),
    # one set_timer per tick and the first, shutdown
    assert exits[9] == 8 + ticks
    # every system call and pid 3's page fault (the only one teachos causes: it maps
    # everything up front) went into the guest kernel
    assert injected[8] == exits[8] >= 2 * 32 + 13
    assert injected.get(13) == 1 and 12 not in injected and 15 not in injected


@pytest.mark.slow
def test_hv_runs_it_under_opensbi_in_virtual_m_mode(program, disk, opensbi_fw_jump):
    vm = hv_run(program, disk, bios=opensbi_fw_jump)
    assert teachos_lines(vm.console_output) == WITH_DISK
