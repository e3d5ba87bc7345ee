"""Differential test: random user-level RV64IMAC programs on vmlab and on unicorn.

Unicorn is QEMU's RISC-V translator packaged as a library, an implementation written by other
people from the same specification.  Both start from the same registers and data memory, run the
same forward-branching program (ALU, M extension with its division corner cases, loads and
stores, compressed forms) and must end with identical registers and memory.
"""
from __future__ import annotations

import random
import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from oracles import need_module
import rvgen

CODE = 0x8000_0000
DATA = 0x8010_0000
MAX_LEN = 48


@pytest.fixture(scope="module")
def unicorn():
    return need_module("unicorn")


@pytest.fixture(scope="module")
def machine():
    from vmlab.machine import Machine
    return Machine(ram_size=4 << 20, harts=1)


def initial_registers(regs: list[int]) -> dict[int, int]:
    """x1..x31 from hypothesis, except the two data pointers every memory access uses."""
    values = {i: regs[i - 1] for i in range(1, 32)}
    values[rvgen.DATA_REG] = DATA
    values[rvgen.SP] = DATA + 2048
    return values


def run_unicorn(code: bytes, end: int, regs: dict[int, int], data: bytes):
    from unicorn import Uc, UC_ARCH_RISCV, UC_MODE_RISCV64
    from unicorn.riscv_const import UC_RISCV_REG_PC, UC_RISCV_REG_X1
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x1000 * ((len(code) + 4 + 0xFFF) // 0x1000))
    uc.mem_map(DATA, rvgen.DATA_SIZE)
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, data)
    for i, v in regs.items():
        uc.reg_write(UC_RISCV_REG_X1 + i - 1, v)
    uc.emu_start(CODE, end, count=10 * MAX_LEN)
    assert uc.reg_read(UC_RISCV_REG_PC) == end
    return ({i: uc.reg_read(UC_RISCV_REG_X1 + i - 1) for i in range(1, 32)},
            bytes(uc.mem_read(DATA, rvgen.DATA_SIZE)))


def run_vmlab(m, code: bytes, end: int, regs: dict[int, int], data: bytes):
    m.write_mem(CODE, code + b"\x6f\x00\x00\x00")  # j . : a stop if the breakpoint were missed
    m.write_mem(DATA, data)
    for i, v in regs.items():
        m.set_reg(i, v)
    m.pc = CODE
    m.add_breakpoint(end)
    try:
        r = m.run(instructions=10 * MAX_LEN)
    finally:
        m.remove_breakpoint(end)
    assert (r.reason, m.pc) == ("breakpoint", end)
    return ({i: m.reg(i) & (2**64 - 1) for i in range(1, 32)}, m.read_mem(DATA, rvgen.DATA_SIZE))


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=st.lists(rvgen.instruction, min_size=1, max_size=MAX_LEN),
       regs=st.lists(rvgen.register_value, min_size=31, max_size=31),
       seed=st.integers(0, 2**32 - 1))
def test_same_registers_and_memory_as_unicorn(unicorn, machine, program, regs, seed):
    code, offsets = rvgen.layout(program)
    end = CODE + offsets[-1]
    start = initial_registers(regs)
    data = random.Random(seed).randbytes(rvgen.DATA_SIZE)
    want_regs, want_mem = run_unicorn(code, end, start, data)
    got_regs, got_mem = run_vmlab(machine, code, end, start, data)
    listing = "\n".join(i.text for i in program)
    for i in range(1, 32):
        assert got_regs[i] == want_regs[i], f"x{i}: {got_regs[i]:#x} != {want_regs[i]:#x}\n{listing}"
    if got_mem != want_mem:
        first = next(k for k in range(len(got_mem)) if got_mem[k] != want_mem[k])
        pytest.fail(f"data differs first at {DATA + first:#x}\n{listing}")


DIVISION_CASES = [(a, b) for a in (0, 1, -1, 7, -7, 1 << 63, (1 << 63) - 1, -(1 << 31), 1 << 31)
                  for b in (0, 1, -1, 2, -(1 << 31), 1 << 31, 1 << 63)]


@pytest.mark.parametrize("name", sorted(set(rvgen.R_OPS) | set(rvgen.R_W_OPS)))
def test_every_m_and_alu_op_on_corner_values(unicorn, machine, name):
    """Every R-type op on the values where division and overflow rules matter."""
    ops = rvgen.R_OPS if name in rvgen.R_OPS else rvgen.R_W_OPS
    opcode = rvgen.OP if name in rvgen.R_OPS else rvgen.OP_32
    f3, f7 = ops[name]
    code = rvgen.r_type(opcode, f3, f7, 10, 11, 12).to_bytes(4, "little")
    for a, b in DIVISION_CASES:
        regs = initial_registers([0] * 31)
        regs[11], regs[12] = a & (2**64 - 1), b & (2**64 - 1)
        want, _ = run_unicorn(code, CODE + 4, regs, bytes(rvgen.DATA_SIZE))
        got, _ = run_vmlab(machine, code, CODE + 4, regs, bytes(rvgen.DATA_SIZE))
        assert got[10] == want[10], f"{name} {a:#x} {b:#x}: {got[10]:#x} != {want[10]:#x}"


@settings(max_examples=3, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(program=st.lists(rvgen.instruction, min_size=500, max_size=500))
def test_generator_encodes_what_it_says(gnu_objdump, tmp_path_factory, program):
    """The test's own encoders agree with GNU objdump, so the programs are what we think."""
    code, offsets = rvgen.layout(program)
    path = tmp_path_factory.mktemp("objdump") / "code.bin"
    path.write_bytes(code)
    out = subprocess.run([gnu_objdump, "-b", "binary", "-m", "riscv:rv64",
                          "-M", "no-aliases,numeric", "-D", str(path)],
                         check=True, capture_output=True, text=True).stdout
    lines = iter(line for line in out.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line))
    for i, insn in enumerate(program):
        for part in insn.text.split("; "):  # an LR/SC pair is two instructions
            _check_line(part, next(lines), insn, i, offsets, len(program))
    assert next(lines, None) is None


def _check_line(text: str, line: str, insn, i: int, offsets: list[int], n: int) -> None:
    """One instruction of ours (``text``) against one line of objdump's listing."""
    fields = line.split("\t")
    mnemonic, _, operands = text.partition(" ")
    assert fields[2].strip() == mnemonic, f"{insn.text} | {line}"
    ours = _tokens(operands)
    theirs = _tokens(fields[3] if len(fields) > 3 else "")
    if insn.skip is not None:  # ours: "+skip"; objdump: the target address, bare hex
        ours[-1] = offsets[min(i + 1 + insn.skip, n)]
        theirs[-1] = int(theirs[-1], 16)
    else:
        ours, theirs = _numbers(ours), _numbers(theirs)
    if mnemonic == "c.addi4spn":
        ours.insert(1, "x2")
    if mnemonic in ("lui", "auipc", "c.lui"):
        ours[-1], theirs[-1] = ours[-1] & 0xFFFFF, theirs[-1] & 0xFFFFF
    assert ours == theirs, f"{insn.text} | {line}"


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[,()\s]+", text.split("#")[0].replace("sp", "x2")) if t]


def _numbers(tokens: list[str]) -> list:
    return [t if re.fullmatch(r"x\d+", t) else int(t, 0) for t in tokens]


def test_bench_workload_agrees_with_unicorn_under_sv39(unicorn):
    """The benchmark program (Sv39 page tables, S-mode, sieve/CRC/matmul) computes the same
    checksum on both: paging, privilege changes and a few hundred thousand instructions."""
    from vmlab.bench import machine as bench
    work = bench.build(3)
    ours = bench.run_vmlab(work)
    theirs = bench.run_unicorn(work, ours.instructions, bench.count_prologue(work))
    assert ours.checksum == theirs.checksum and ours.checksum
    assert theirs.note.startswith("Sv39 on"), "unicorn ran the same translated code"
