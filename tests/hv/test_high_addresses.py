"""Guests at the top of the address space, and exits in every corner of it.

Guest values are unsigned 64-bit: a kernel at 0xffff_ffff_8000_0000 or in the top megapage
of Sv39 has a pc >= 2**63, and a guest may fault on any address.  Nothing of that may reach
the host as an exception.

- ``top_kernel.s``: a kernel of our own in the top megapage (0xffff_ffff_ffe0_0000) runs a
  U-mode program (syscalls, faults from low code on high and non-canonical addresses), then
  probes from the top: loads, stores and jumps to the corners of the 64-bit space, an sret
  to a non-canonical target, CSRs holding values >= 2**63, an SBI call, UART accesses.  It
  logs every trap it takes.  Bare, as a guest in virtual M-mode (its own firmware) and as a
  guest kernel in virtual S-mode (the hypervisor's SBI), the log must be the same.
- Exits handed to the hypervisor directly, with pcs and trap values in every corner.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hv_guest import boot

from vmlab.asm import assemble
from vmlab.errors import InternalError
from vmlab.hv import exits
from vmlab.machine import Machine
from vmlab.machine import layout as L

SOURCE = Path(__file__).with_name("top_kernel.s").read_text()
TOP = 0xFFFF_FFFF_FFE0_0000
UVA = 0x4000_0000
GLOBAL_START = "        .globl _start\n_start:"

#: (scause, stval) of every trap the kernel logs, in order; sepc checked where it is known
EXPECTED = [
    (8, 0), (13, 0x5000_0000), (13, TOP), (15, 0x8000_0000_0000_0000), (8, 0), (8, 0),
    (13, 0x8000_0000_0000_0000), (13, 0x7FFF_FFFF_FFFF_FFF8), (13, 0x0000_0040_0000_0000),
    (15, 0xFFFF_FFFF_C000_0000), (15, 0xFFFF_FFC0_0000_0000),
    (12, 0x8000_0000_0000_0000), (2, 0), (12, 0x0000_003F_FFFF_F000),
    (12, 0x7FFF_FFFF_FFFF_F000),
]
SEPC = {11: 0x8000_0000_0000_0000, 12: 0xFFFF_FFFF_FFFF_FFFC, 13: 0x0000_003F_FFFF_F000,
        14: 0x7FFF_FFFF_FFFF_F000}

ACCESS_FAULT = {L.CAUSE_FETCH_PAGE: L.CAUSE_FETCH_ACCESS, L.CAUSE_LOAD_PAGE: L.CAUSE_LOAD_ACCESS,
                L.CAUSE_STORE_PAGE: L.CAUSE_STORE_ACCESS}

#: pcs and addresses at the edges of the 64-bit space and of Sv39's two halves
CORNERS = [0, 4, 0x3F_FFFF_FFFC, 0x40_0000_0000, 0x7FFF_FFFF_FFFF_FFFC, 0x8000_0000_0000_0000,
           0xFFFF_FFC0_0000_0000, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_FFE0_0000,
           0xFFFF_FFFF_FFFF_FFFC, 0xFFFF_FFFF_FFFF_FFFE]


def build(entry: str):
    """The kernel with _start at its M-mode entry ("m") or its S-mode entry ("s")."""
    src = SOURCE.replace("{entry_m}", GLOBAL_START if entry == "m" else "")
    return assemble(src.replace("{entry_s}", GLOBAL_START if entry == "s" else ""))


def read_log(read, program) -> list[tuple[int, int, int]]:
    raw = read(program.symbols["log"], 24 * len(EXPECTED))
    return [struct.unpack_from("<QQQ", raw, 24 * i) for i in range(len(EXPECTED))]


def check_log(log):
    assert [(c, t) for c, t, _ in log] == EXPECTED
    for i, sepc in SEPC.items():
        assert log[i][2] == sepc
    assert all(TOP <= e for _, _, e in log[6:11])       # probes ran from the top megapage
    assert all(UVA <= e < UVA + 0x1000 for _, _, e in log[:6])


@pytest.fixture(scope="module")
def bare_log():
    program = build("m")
    m = Machine(ram_size=8 << 20)
    m.boot_virt(kernel=program.elf)         # in M-mode from the ELF's entry, as QEMU -bios none
    r = m.run(instructions=1_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    assert b"T\n" in m.console_bytes
    return read_log(m.read_mem, program)


def test_top_kernel_bare(bare_log):
    check_log(bare_log)


@pytest.mark.parametrize("shadow", ["sfence", "write-protect"])
@pytest.mark.parametrize("entry", ["m", "s"])
def test_top_kernel_as_a_guest(entry, shadow, bare_log):
    """entry m: the guest is its own firmware in virtual M-mode; s: a kernel in virtual
    S-mode with the hypervisor's SBI.  Either way: the bare machine's log, exactly."""
    program = build(entry)
    hv, vm = boot(program.elf, bios=entry == "m", shadow=shadow)
    r = vm.run(instructions=1_000_000)
    assert (r.reason, r.exit_code) == ("halt", 0)
    assert "T\n" in vm.console_output
    log = read_log(vm.mem.read, program)
    check_log(log)
    assert log == bare_log


# ---- exits handed to the hypervisor directly -----------------------------------------------

@pytest.fixture
def vcpu():
    """A vCPU of a VM whose guest is in virtual S-mode, with stvec set and the trace on."""
    program = assemble(".text\n.globl _start\n_start: j _start\n")
    hv, vm = boot(program.elf)
    v = vm.vcpus[0]
    v.row[L.STVEC] = L.RAM_BASE + 0x100
    return v


CSRRW_SSCRATCH_A0 = 0x14051573          # csrrw a0, sscratch, a0
SRET, MRET = 0x10200073, 0x30200073


@pytest.mark.parametrize("pc", CORNERS)
def test_emulated_instructions_at_every_pc(vcpu, pc):
    vcpu.set_reg(10, pc)                # a CSR value >= 2**63 as well, in the corners
    ex = exits.dispatch(vcpu, L.CAUSE_ILLEGAL, CSRRW_SSCRATCH_A0, pc)
    assert ex.handler == "csr" and vcpu.pc == (pc + 4) % (1 << 64)
    assert vcpu.csr("sscratch") == pc
    ex = exits.dispatch(vcpu, L.CAUSE_ECALL_U, 0, pc)          # SBI from vS: pc + 4
    assert ex.handler == "sbi" and vcpu.pc == (pc + 4) % (1 << 64)


@pytest.mark.parametrize("target", CORNERS)
def test_sret_and_mret_to_every_target(vcpu, target):
    vcpu.row[L.SEPC] = target - (1 << 64) if target >> 63 else target
    ex = exits.dispatch(vcpu, L.CAUSE_ILLEGAL, SRET, L.RAM_BASE)
    assert ex.handler == "sret" and vcpu.pc == target & ~1      # (sepc's bit 0 reads as 0)
    vcpu.row[L.PRIV] = L.PRIV_S
    ex = exits.dispatch(vcpu, L.CAUSE_ILLEGAL, MRET, target)    # mret from vS: illegal
    assert ex.handler == "reflect" and vcpu.pc == L.RAM_BASE + 0x100
    assert vcpu.csr("sepc") == target & ~1 and vcpu.csr("stval") == MRET


@pytest.mark.parametrize("cause", [L.CAUSE_LOAD_PAGE, L.CAUSE_STORE_PAGE, L.CAUSE_FETCH_PAGE,
                                   L.CAUSE_LOAD_ACCESS, L.CAUSE_MISALIGNED_STORE,
                                   L.CAUSE_BREAKPOINT])
@pytest.mark.parametrize("pc", CORNERS[::2])
def test_faults_at_every_address_are_reflected(vcpu, cause, pc):
    for tval in CORNERS:
        vcpu.row[L.PRIV] = L.PRIV_S
        vcpu.row[L.MEDELEG] = 0xB1FF    # as a firmware would delegate them
        ex = exits.dispatch(vcpu, cause, tval, pc)
        assert ex.handler in ("reflect", "mmio", "fill"), ex
        if ex.handler == "reflect":
            assert vcpu.csr("sepc") == pc and vcpu.csr("stval") == tval
            # (with guest paging off, a page fault of the real hart is an access fault for
            # the guest: there is no guest memory at that address)
            assert vcpu.csr("scause") in (cause, ACCESS_FAULT.get(cause))
        vcpu.set_pc(pc)


def test_a_defect_stops_the_run_with_one_line(monkeypatch):
    """A handler that raises (a defect of ours): the run stops with one line naming the
    guest pc and the cause; the VM is left as it was, for inspection."""
    program = assemble(".text\n.globl _start\n_start: nop\nbad: csrr a0, sscratch\n j _start\n")
    bad = program.symbols["bad"]
    hv, vm = boot(program.elf, fast_exits=False)     # the Python handler is the one broken

    def broken(vcpu, ex):
        raise KeyError("a bug")
    monkeypatch.setitem(exits.HANDLERS, L.CAUSE_ILLEGAL, broken)
    with pytest.raises(InternalError) as err:
        vm.run(instructions=1000)
    message = str(err.value)
    assert "\n" not in message
    assert "illegal_instruction" in message and f"guest pc {bad:#x}" in message
    assert vm.vcpus[0].pc == bad and vm.vcpus[0].reg(0) == 0


def test_compiled_helpers_see_one_type_whatever_came_first(tmp_path):
    """A reflected trap with a small tval, then one >= 2**63, then the reverse, in a fresh
    process: take_trap is called from Python with int64 arguments only (one signature)."""
    script = tmp_path / "order.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_high_addresses import boot, exits, L, assemble
from vmlab.machine.trap import take_trap
hv, vm = boot(assemble(".text\\n.globl _start\\n_start: j _start\\n").elf)
v = vm.vcpus[0]
v.row[L.MEDELEG] = 0xB1FF
for tval in (4, 1 << 63, (1 << 64) - 1, 0):
    v.row[L.PRIV] = L.PRIV_S
    exits.dispatch(v, L.CAUSE_LOAD_ACCESS, tval, 0xFFFFFFFFFFFFF000)
    assert v.csr("stval") == tval, tval
print(sorted(set(str(s) for s in take_trap.signatures)))
""")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    signatures = eval(p.stdout.strip().splitlines()[-1])
    assert len(signatures) == 1 and "uint64" not in signatures[0]


def test_the_command_line_prints_an_internal_error_as_one_line(monkeypatch, tmp_path, capsys):
    from vmlab.cli import main
    elf = tmp_path / "guest.elf"
    # an illegal instruction no compiled handler takes: it reaches the Python table
    elf.write_bytes(assemble(".text\n.globl _start\n_start: .word 0\n j _start\n").elf)

    def broken(vcpu, ex):
        raise ValueError("a bug\nwith a second line")
    monkeypatch.setitem(exits.HANDLERS, L.CAUSE_ILLEGAL, broken)
    status = main(["run", "--hv", "--kernel", str(elf), "-n", "1000"])
    err = capsys.readouterr().err.strip()
    assert status == 1 and "\n" not in err and "Traceback" not in err
    assert err.startswith("vmlab run: internal error: ValueError (a bug)")
    assert "illegal_instruction" in err and "guest pc 0x80000000" in err
