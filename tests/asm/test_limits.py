"""What GNU as refuses or warns about, and the limits that keep a short source from asking
for unbounded work: each case here was reproduced against vmlab before it was fixed."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

import vmlab.asm.assembler as assembler_module
from asm_oracle import compare
from vmlab.asm import AsmError, assemble
from vmlab.asm.pseudo import NAMES

REPO = Path(__file__).parents[2]


def _errors(source: str, **kw) -> list[str]:
    with pytest.raises(AsmError) as info:
        assemble(source, **kw)
    return [d.message for d in info.value.diagnostics if d.severity == "error"]


def _gnu_messages(source: str, gnu_as: str, tmp_path: Path) -> list[tuple[int, str, str]]:
    """(line, "Error"/"Warning", message) from GNU as's stderr."""
    src = tmp_path / "t.s"
    src.write_text(source)
    r = subprocess.run([gnu_as, "-march=rv64imac_zicsr_zifencei", "-o", str(tmp_path / "t.o"),
                        str(src)], capture_output=True, text=True)
    return [(int(m[1]), m[2], m[3]) for m in re.finditer(r":(\d+): (Error|Warning): (.*)", r.stderr)]


# --- large constants and truncation: as GNU as ------------------------------------------------
def test_li_of_a_constant_wider_than_64_bits_is_refused_as_gnu_as_does(gnu_as, tmp_path):
    source = "li a0, 9999999999999999999999999999\nli a1, 0x10000000000000000\n"
    ours = _errors(source)
    theirs = _gnu_messages(source, gnu_as, tmp_path)
    assert [kind for _, kind, _ in theirs] == ["Error", "Error"]
    assert all("unsupported large constant" in m for m in ours + [m for _, _, m in theirs])


def test_li_of_every_64_bit_spelling_still_works(gnu_as, gnu_ld):
    source = ("li a0, 0xffffffffffffffff\nli a1, -9223372036854775808\n"
              "li a2, -9223372036854775809\nli a3, 18446744073709551615\n")
    assert compare(source, gnu_as, gnu_ld) == []


TRUNCATED = """\
.word 0x100000000
.byte 256
.byte -129
.byte -128
.half 65536
.half -32769
.word 0xffffffff
.dword 0x10000000000000000
.byte 99999999999999999999
.quad 99999999999999999999
"""


def test_truncating_data_warns_with_gnu_as_words(gnu_as, gnu_ld, tmp_path):
    prog = assemble(TRUNCATED)
    ours = [(w.line, w.message) for w in prog.warnings]
    theirs = [(line, msg) for line, kind, msg in _gnu_messages(TRUNCATED, gnu_as, tmp_path)
              if kind == "Warning"]
    assert ours == theirs and len(ours) == 6
    assert compare(TRUNCATED, gnu_as, gnu_ld) == []      # and the bytes are GNU's too


def test_cli_prints_warnings_and_succeeds(tmp_path):
    src = tmp_path / "w.s"
    src.write_text(".byte 256\n")
    r = _cli("asm", str(src), "-o", str(tmp_path / "w.elf"))
    assert r.returncode == 0
    assert r.stderr == f"{src}:1:7: warning: value 0x100 truncated to 0x0: '256'\n"


def test_a_5000_digit_literal_is_one_line(tmp_path):
    src = tmp_path / "big.s"
    src.write_text("li a0, " + "9" * 5000 + "\n.word " + "1" * 5000 + "\n")
    r = _cli("asm", str(src))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 3 and all(len(line) < 200 for line in lines)
    assert "unsupported large constant" in lines[0]


# --- addresses ---------------------------------------------------------------------------------
def test_a_section_past_the_top_of_the_address_space_is_an_error():
    assert any("past the top of the 64-bit address space" in m
               for m in _errors("nop\nnop\n", base=0xFFFFFFFFFFFFFFFE))
    assert assemble("addi a0, a0, 100\n", base=0xFFFFFFFFFFFFFFFC).sections[".text"].end == 1 << 64


@pytest.mark.parametrize("base", ["-4096", "0x10000000000000000", "12abc"])
def test_cli_bad_base_is_one_line(base, tmp_path):
    src = tmp_path / "t.s"
    src.write_text("nop\n")
    r = _cli("asm", str(src), "--base", base)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--base" in r.stderr


def test_api_refuses_a_negative_base():
    with pytest.raises(ValueError):
        assemble("nop\n", base=-4096)


# --- input that is not text ----------------------------------------------------------------------
def test_nul_bytes_give_one_line_without_echoing_them(tmp_path):
    src = tmp_path / "bin.s"
    src.write_bytes(b"nop\n\x7fELF\x02\x01\x00\x00\x1b[2J\xff\xfe" * 50)
    r = subprocess.run([sys.executable, "-m", "vmlab", "asm", str(src)], capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1
    assert b"\x00" not in r.stderr and b"\x1b" not in r.stderr and b"ELF" not in r.stderr
    with pytest.raises(AsmError):
        assemble("nop\n\0")


def test_control_characters_in_a_diagnostic_are_escaped():
    with pytest.raises(AsmError) as info:
        assemble("nop \x1b[2J\n")
    assert "\x1b" not in str(info.value)


# --- budgets -------------------------------------------------------------------------------------
def test_a_macro_that_doubles_its_argument_stops():
    messages = _errors(".macro grow s\ngrow \\s\\s\n.endm\ngrow x\n")
    assert any("longer than 65536 characters" in m for m in messages)


def test_nested_rept_is_bounded_by_the_statement_budget(monkeypatch):
    monkeypatch.setattr(assembler_module, "MAX_STATEMENTS", 50_000)
    messages = _errors(".rept 100000\n.rept 100000\nnop\n.endr\n.endr\n")
    assert messages == ["more than 50,000 statements to assemble (a .rept or macro that "
                        "repeats too much?)"]


def test_a_macro_that_calls_itself_twice_stops_after_a_few_errors():
    with pytest.raises(AsmError) as info:
        assemble(".macro twice\ntwice\ntwice\n.endm\ntwice\n")
    assert 1 <= len(info.value.diagnostics) <= 201
    assert "stopping here" in info.value.diagnostics[-1].message


@pytest.mark.parametrize("directive", [".space 0x7fffffffffff", ".zero 0x8000000000",
                                       ".skip -1", ".fill 0x100000000, 8, 1", ".rept 1 << 40"])
def test_huge_sizes_are_errors(directive):
    messages = _errors(directive + "\nnop\n.endr\n" if directive.startswith(".rept") else directive + "\n")
    assert any("out of range" in m for m in messages)


def test_the_sections_together_have_a_byte_budget(monkeypatch):
    monkeypatch.setattr(assembler_module, "MAX_BYTES", 1 << 20)
    messages = _errors(".space 0x80000\n.space 0x80000\n.fill 0x10000, 8, 0\n.space 16\n")
    assert messages == ["the sections would hold more than 1 MiB (the assembler's limit)"] * 2


# --- the short forms of issue 13, and their error messages --------------------------------------
def test_a_pseudo_instruction_with_wrong_operands_never_suggests_itself():
    for name in sorted(NAMES):
        for operands in ["a0, a1, a2, a3, a4, a5", "(", "1 +"]:
            try:
                assemble(f"{name} {operands}\n", march="rv64gc")
            except AsmError as exc:
                assert f"did you mean '{name}'" not in str(exc), (name, operands)


def test_jr_with_wrong_operands_names_its_forms():
    (message,) = _errors("jr a0, a1, a2\n")
    assert message.startswith("'jr' does not take these operands; it is written jr rs1 |")


# --- -march and the ELF it writes ---------------------------------------------------------------
@pytest.mark.parametrize("march", ["rv64imac", "rv64ima", "rv64imafdc", "rv64gc", "rv64imafd",
                                   "rv64imafc", "rv64g"])
def test_elf_flags_are_gnu_as_s(march, gnu_as, tmp_path):
    from elftools.elf.elffile import ELFFile
    from asm_oracle import gnu_march
    src = tmp_path / "t.s"
    src.write_text("nop\n")
    subprocess.run([gnu_as, f"-march={gnu_march(march)}", "-o", str(tmp_path / "t.o"), str(src)],
                   check=True)
    with open(tmp_path / "t.o", "rb") as f:
        theirs = ELFFile(f)["e_flags"]
    (tmp_path / "ours.elf").write_bytes(assemble("nop\n", march=march).elf)
    with open(tmp_path / "ours.elf", "rb") as f:
        assert ELFFile(f)["e_flags"] == theirs


@pytest.mark.parametrize("march", ["rv32imac", "rv64imxc", "rv64", "rv64imac_zbb", "gc"])
def test_bad_march_is_one_line(march, tmp_path):
    src = tmp_path / "t.s"
    src.write_text("nop\n")
    r = _cli("asm", str(src), "--march", march)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "-march" in r.stderr


def test_fp_needs_f_or_d_in_march():
    assert _errors("fadd.s fa0, fa1, fa2\n") == [
        "'fadd.s' needs the F extension, not in this -march"]
    assert _errors("fld fa0, 0(sp)\n", march="rv64imafc") == [
        "'fld' needs the D extension, not in this -march"]


# --- scale -----------------------------------------------------------------------------------------
def test_memory_per_line_stays_small():
    """A straight run of instructions costs tens of bytes a line, not hundreds (it was
    ~680 bytes: one statement object, one item and one line-map entry each)."""
    tracemalloc.start()
    try:
        assemble("nop\naddi sp, sp, -16\nsd ra, 8(sp)\nret\n" * 25_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / 100_000 < 150


def test_line_map_still_maps_every_instruction():
    prog = assemble("_start: nop\n li a0, 0x12345678\n\n f: .word 7\n ret\n")
    # c.nop, then lui + addiw (4 + 4 bytes), then the .word, then c.ret
    assert dict(prog.line_map) == {0x80000000: 1, 0x80000002: 2, 0x80000006: 2, 0x8000000a: 4,
                                   0x8000000e: 5}


def test_cli_errors_into_a_closed_pipe_exit_quietly(tmp_path):
    src = tmp_path / "bad.s"
    src.write_text("bogus a0\n" * 150)
    proc = subprocess.Popen([sys.executable, "-m", "vmlab", "asm", str(src)],
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO)))
    proc.stderr.readline()
    proc.stderr.close()           # what `2>&1 | head -1` does
    assert proc.wait(timeout=120) == 1     # 120 would mean Python failed flushing at exit


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vmlab", *argv], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)


def test_suggestions_compare_with_a_bounded_number_of_names(monkeypatch):
    """An undefined symbol in a program of a million labels: the "did you mean" search
    looks at names of about the same length and first letter only (it used to run difflib
    over every label, minutes per error)."""
    import difflib

    from vmlab.asm import errors
    seen = []
    real = difflib.get_close_matches

    def spy(word, possibilities, *args, **kw):
        seen.append(len(possibilities))
        return real(word, possibilities, *args, **kw)

    monkeypatch.setattr(difflib, "get_close_matches", spy)
    labels = [f"label_{i}" for i in range(1_000_000)] + ["counter"]
    assert errors.closest("countre", labels) == "counter"
    assert seen and max(seen) <= 2000
