"""Errors a student can act on: where (file, line, column), what (the offending text), why."""
from __future__ import annotations

import pytest

from vmlab.asm import AsmError, assemble
from vmlab.cli import main as vmlab_main


def errors(source: str) -> list:
    with pytest.raises(AsmError) as info:
        assemble(source, filename="lab.s")
    return info.value.diagnostics


def test_unknown_mnemonic_suggests_the_closest():
    (d,) = errors("    nop\n    addd a0, a1, a2\n")
    assert (d.file, d.line, d.column, d.text) == ("lab.s", 2, 5, "addd")
    assert "unknown instruction 'addd'" in d.message and "did you mean 'add'" in d.message


def test_unknown_directive_suggests_the_closest():
    (d,) = errors(".wrod 5\n")
    assert "did you mean '.word'" in d.message


def test_immediate_out_of_range_names_the_range():
    (d,) = errors("addi a0, a0, 5000\n")
    assert (d.line, d.column, d.text) == (1, 14, "5000")
    assert "-2048..2047" in d.message


def test_shift_amount_out_of_range():
    (d,) = errors("slli a0, a0, 64\n")
    assert "0..63" in d.message


def test_undefined_symbol():
    (d,) = errors("_start:\n  j nowhere\n")
    assert (d.line, d.text) == (2, "nowhere")
    assert "undefined symbol 'nowhere'" in d.message


def test_misaligned_branch_target():
    (d,) = errors("_start: beq a0, a1, _start + 1\n")
    assert "misaligned branch: the target 0x80000001 is at an odd address" == d.message
    assert d.text == "_start + 1"


def test_branch_out_of_range_for_explicit_compressed_form():
    (d,) = errors("_start: c.j far\n.skip 4096\nfar: ret\n")
    assert "out of range" in d.message and "-2048..2046" in d.message


def test_wrong_register_for_compressed_instruction():
    (d,) = errors("c.lw a6, 0(a0)\n")
    assert "x8..x15" in d.message and d.text == "a6"


def test_several_errors_are_all_reported_in_line_order():
    ds = errors("foo\nli a0, 1\naddi a0, a0, 9999\nj missing\n.align 99\n")
    assert [d.line for d in ds] == [1, 3, 4, 5]


def test_macro_errors_point_at_the_invocation():
    (d,) = errors(".macro bump r\naddi \\r, \\r, 4096\n.endm\nnop\nbump a0\n")
    assert d.line == 5 and "in macro 'bump'" in d.message


def test_duplicate_label():
    (d,) = errors("x: nop\nx: nop\n")
    assert "already defined" in d.message and d.line == 2


def test_unterminated_blocks():
    assert "without '.endr'" in errors(".rept 3\nnop\n")[0].message
    assert "missing .endif" in errors(".if 1\nnop\n")[0].message


def test_diagnostic_text_format():
    (d,) = errors("addi a0, a0, 5000\n")
    assert str(d) == "lab.s:1:14: error: immediate 5000 out of range: allowed -2048..2047: '5000'"


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text("nop\naddd a0, a1, a2\nj nowhere\n")
    assert vmlab_main(["asm", str(src), "-o", str(tmp_path / "bad.elf")]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2:1: error: unknown instruction 'addd'" in err
    assert f"{src}:3:3: error: undefined symbol 'nowhere'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "bad.elf").exists()


def test_a_pseudo_instruction_reports_its_problem_once():
    ds = errors("_start: la a0, missing\n  call nowhere\n")
    assert [(d.line, d.text) for d in ds] == [(1, "missing"), (2, "nowhere")]


def test_misspelt_names_get_suggestions():
    ds = errors("_start: csrr a0, mstatuss\n  j _strat\n")
    assert "undefined symbol 'mstatuss' (did you mean CSR 'mstatus'?)" == ds[0].message
    assert "undefined symbol '_strat' (did you mean '_start'?)" == ds[1].message


def test_load_from_a_register_asks_for_an_offset():
    (d,) = errors("lw a0, a1\n")
    assert d.message == "expected a memory operand like 0(a1)" and d.text == "a1"
