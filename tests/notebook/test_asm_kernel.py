"""The RISC-V assembly kernel, started for real through jupyter_client."""
from __future__ import annotations


import pytest

from nb_kernels import execute, running_kernel

pytestmark = pytest.mark.usefixtures("kernel_env")


@pytest.fixture(scope="module")
def asm(kernel_env):
    with running_kernel("vmlab-asm") as kc:
        yield kc


def test_kernelspec_language(asm):
    info = asm.kernel_info(reply=True, timeout=60)["content"]
    assert info["language_info"]["name"] == "riscv-asm"
    assert info["implementation"] == "vmlab-asm"


def test_registers_persist_and_changes_are_shown(asm):
    execute(asm, "%reset")
    first = execute(asm, "li a0, 40\nli a1, -1\n")
    assert first.status == "ok"
    assert "a0 = 0x0000000000000028  (40)   was 0x0" in first.text
    assert "a1 = 0xffffffffffffffff  (-1)" in first.text
    second = execute(asm, "addi a0, a0, 2\n")
    assert "a0 = 0x000000000000002a  (42)   was 0x28" in second.text
    # a1 did not change in the second cell, so it is not listed
    assert "a1 =" not in second.text


def test_labels_from_earlier_cells(asm):
    execute(asm, "%reset")
    lib = execute(asm, "%lib\ndouble:\n    add a0, a0, a0\n    ret\n")
    assert "labels: double" in lib.text
    cell = execute(asm, "li a0, 21\ncall double\n")
    assert cell.status == "ok"
    assert "(42)" in cell.text


def test_console_output_is_streamed(asm):
    execute(asm, "%reset")
    code = """
    li t0, 0x10000000
    li t1, 'h'
    sb t1, 0(t0)
    li t1, 'i'
    sb t1, 0(t0)
    li t1, 10
    sb t1, 0(t0)
"""
    cell = execute(asm, code)
    streams = [m["content"]["text"] for m in cell.of_type("stream")]
    assert "hi\n" in "".join(streams)


def test_error_points_at_the_cells_line_and_column(asm):
    cell = execute(asm, "li a0, 1\nli a1, 2\nlw a0, 5(zz)\n")
    assert cell.status == "error"
    assert cell.reply["content"]["ename"] == "AsmError"
    tb = cell.of_type("error")[0]["content"]["traceback"]
    assert tb[0] == "cell line 3, column 10: error: expected a register"
    assert tb[1].strip() == "lw a0, 5(zz)"
    assert tb[2].index("^") == 4 + 9        # four spaces of indent, then column 10


def test_error_line_after_commands_keeps_numbering(asm):
    cell = execute(asm, "%reset\n\nnop\nbogus a0\n")
    tb = cell.of_type("error")[0]["content"]["traceback"]
    assert tb[0].startswith("cell line 4, column 1: error: unknown instruction 'bogus'")


def test_unhandled_trap_stops_the_cell(asm):
    execute(asm, "%reset")
    cell = execute(asm, "li a0, 7\necall\nli a0, 8\n")
    assert "trap: Environment call from M-mode" in cell.text
    assert "(ecall)" in cell.text
    assert "(7)" in cell.text and "(8)" not in cell.text


def test_percent_commands(asm):
    execute(asm, "%reset")
    execute(asm, "%lib\nvalue: .dword 0x1122334455667788\n")
    dump = execute(asm, "%mem value 8")
    assert "88 77 66 55 44 33 22 11" in dump.text
    execute(asm, "%reset")
    execute(asm, "%lib\nli a2, 5\nli a3, 6\n")
    execute(asm, "%regs")          # no run: pc still at the cell's start
    step = execute(asm, "%step")
    assert "a2 = 0x0000000000000005" in step.text and "a3 =" not in step.text
    assert "li" in step.text or "addi" in step.text
    bad = execute(asm, "%frobnicate")
    assert bad.status == "error" and "unknown command %frobnicate" in bad.text


def test_interrupt_stops_a_runaway_cell(asm):
    execute(asm, "%reset")
    execute(asm, "%budget 100_000_000_000")
    # The cell prints a line, then loops forever; once the line arrives the loop is running.
    code = """
    li t0, 0x10000000
    li t1, 'L'
    sb t1, 0(t0)
    li t1, 10
    sb t1, 0(t0)
1:  addi a5, a5, 1
    j 1b
"""
    msg_id = asm.execute(code)
    while True:
        msg = asm.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            break
    km = asm.manager
    km.interrupt_kernel()
    reply = asm.get_shell_msg(timeout=120)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = asm.get_shell_msg(timeout=120)
    assert reply["content"]["status"] == "ok"
    # drain that cell's outputs and check it said it was interrupted after real work
    texts = []
    while True:
        msg = asm.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "display_data":
            texts.append(msg["content"]["data"]["text/plain"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert texts and texts[0].startswith("interrupted")
    # the kernel is alive and the machine kept its state: a5 counted loop iterations
    after = execute(asm, "%budget 100_000_000\nmv a0, a5\n")
    assert after.status == "ok" and "a0 = " in after.text
