"""CSR and trap-cause tables: names as objdump prints them, layouts consistent with the spec."""
from __future__ import annotations

import subprocess

import pytest

from vmlab.isa import (CAUSES, CSR_BY_NAME, CSRS, EXCEPTIONS, INTERRUPTS, cause_of, csr_name,
                       csr_number)

#: csrrs a0, CSR, zero with the CSR number in bits 31:20
_CSRRS_A0 = 0x00002573


def _objdump_csr_names(gnu_as, gnu_objdump, tmp_path, priv_spec: str) -> dict[int, str]:
    """The name objdump prints for each of the 4096 CSR numbers (absent: printed as a number)."""
    major, minor = priv_spec.split(".")
    src = [f".attribute priv_spec, {major}", f".attribute priv_spec_minor, {minor}"]
    src += [f".insn {_CSRRS_A0 | n << 20:#x}" for n in range(4096)]
    (tmp_path / "c.s").write_text("\n".join(src) + "\n")
    subprocess.run([gnu_as, "-march=rv64imafdc_zicsr", "-o", str(tmp_path / "c.o"),
                    str(tmp_path / "c.s")], check=True)
    out = subprocess.run([gnu_objdump, "-d", "-M", "no-aliases", str(tmp_path / "c.o")],
                         capture_output=True, text=True, check=True).stdout
    names = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[2].strip() == "csrrs":
            number = int(parts[1], 16) >> 20
            name = parts[3].split(",")[1]
            if not name.startswith("0x"):
                names[number] = name
    assert len(names) > 100, "objdump output not understood"
    return names


@pytest.mark.parametrize("priv_spec", ["1.11", "1.12"])
def test_csr_names_are_objdumps(priv_spec, gnu_as, gnu_objdump, tmp_path):
    theirs = _objdump_csr_names(gnu_as, gnu_objdump, tmp_path, priv_spec)
    ours = {n: csr_name(n, priv_spec) for n in range(4096) if csr_name(n, priv_spec)}
    diff = {hex(n): (theirs.get(n), ours.get(n)) for n in set(theirs) | set(ours)
            if theirs.get(n) != ours.get(n)}
    assert not diff, f"(objdump, table): {diff}"


def test_privilege_and_read_only_follow_the_number():
    assert CSR_BY_NAME["mstatus"].priv == 3 and not CSR_BY_NAME["mstatus"].read_only
    assert CSR_BY_NAME["sstatus"].priv == 1
    assert CSR_BY_NAME["cycle"].priv == 0 and CSR_BY_NAME["cycle"].read_only
    assert CSR_BY_NAME["mhartid"].read_only


def test_names_and_numbers_are_unique():
    assert len({c.name for c in CSRS}) == len(CSRS)
    assert len({c.number for c in CSRS}) == len(CSRS)
    assert csr_number("satp") == 0x180


def test_field_layouts_do_not_overlap():
    for csr in CSRS:
        seen = 0
        for f in csr.fields:
            assert f.msb >= f.lsb and f.msb < 64, (csr.name, f.name)
            assert seen & f.mask == 0, (csr.name, f.name)
            seen |= f.mask


def test_sstatus_is_a_view_of_mstatus():
    m, s = CSR_BY_NAME["mstatus"], CSR_BY_NAME["sstatus"]
    by_name = {f.name: f for f in m.fields}
    for f in s.fields:
        assert by_name[f.name] == f


def test_interrupt_bits_are_interrupt_codes():
    """Bit i of mip/mie is the interrupt whose cause code is i."""
    for f in CSR_BY_NAME["mip"].fields:
        cause = INTERRUPTS[f.lsb]
        if f.name == "SGEI":                    # H: a guest's external interrupt, to HS
            assert cause.name == "supervisor_guest_external"
            continue
        level = {"S": "supervisor", "M": "machine", "VS": "virtual_supervisor"}[f.name[:-2]]
        kind = {"SI": "software", "TI": "timer", "EI": "external"}[f.name[-2:]]
        assert cause.name == f"{level}_{kind}"


def test_medeleg_covers_delegable_exceptions():
    delegable = {int(f.name[1:]) for f in CSR_BY_NAME["medeleg"].fields}
    assert delegable <= set(EXCEPTIONS)
    assert 11 not in delegable  # an ecall from M-mode can't be delegated down


def test_cause_values():
    assert cause_of(2).name == "illegal_instruction"
    timer = cause_of((1 << 63) | 5)
    assert timer.interrupt and timer.mcause == (1 << 63) | 5
    assert cause_of(14) is None
    assert all(c.tval == "0" for c in CAUSES if c.interrupt)
