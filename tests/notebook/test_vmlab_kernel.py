"""The "Python 3 (vmlab)" kernel: IPython with ``%load_ext vmlab`` already done."""
from __future__ import annotations

import pytest

from nb_kernels import execute, running_kernel

pytestmark = pytest.mark.usefixtures("kernel_env")


@pytest.fixture(scope="module")
def py(kernel_env):
    with running_kernel("vmlab") as kc:
        # Compile the machine once, with room to spare: with a cold numba cache on a busy
        # host that alone can outlast the tests' per-message waits (and the interrupt test
        # must interrupt a running guest, not the compiler).
        execute(kc, "%%asm\n_start: li a0, 1\n    ecall\n", timeout=900)
        execute(kc, "%vm run", timeout=900)
        execute(kc, "%vm reset", timeout=900)
        yield kc


def test_extension_is_preloaded(py):
    cell = execute(py, "%%asm demo --run\n_start: li a0, 5\n    li a1, 6\n    mul a0, a0, a1\n    ecall\n")
    assert cell.status == "ok", cell.text
    assert "trap: Environment call from M-mode at pc 0x80000008 (ecall)" in cell.text
    assert "a0 = 0x000000000000001e  (30)" in cell.text
    value = execute(py, "print(vm.reg('a0'), type(demo).__name__)")
    assert value.text.strip() == "30 Program"


def test_asm_error_points_at_the_cells_own_line(py):
    # line 1 is the %%asm line itself; the typo is on line 3 of the cell as shown
    cell = execute(py, "%%asm\n    li a0, 1\n    adi a0, a0, 1\n")
    assert cell.status == "error"
    tb = cell.of_type("error")[0]["content"]["traceback"]
    assert tb[0] == "AsmError: 1 error in this cell"
    assert tb[1].startswith("cell line 3, column 5: error: unknown instruction 'adi'")
    assert tb[3] == "    " + "    " + "^~~"


def test_vm_step_regs_mem_reset(py):
    execute(py, "%%asm\n_start: li t0, 0x80000100\n li t1, 0x41\n sb t1, 0(t0)\n ecall\n")
    step = execute(py, "%vm step 3")
    assert "t0 = 0x0000000080000100" in step.text and "next: 0x8000" in step.text
    execute(py, "%vm run")
    mem = execute(py, "%vm mem 0x80000100 16")
    assert mem.text.startswith("80000100: 41 00")
    execute(py, "%vm reset")
    assert execute(py, "print(hex(vm.pc), vm.reg('t0'))").text.strip() == "0x80000000 0"


def test_rich_display_of_a_machine_and_a_program(py):
    execute(py, "%vm reset")          # tests may run in any order (xdist): start clean
    cell = execute(py, "vm")
    data = cell.of_type("execute_result")[0]["content"]["data"]
    assert data["text/plain"].startswith("<Machine 16 MiB, pc=0x80000000, M-mode")
    assert "class='vmlab-machine'" in data["text/html"]
    prog = execute(py, "%%asm p --no-load\n_start: nop\n")
    html = prog.of_type("execute_result")[0]["content"]["data"]["text/html"]
    assert "vmlab-program" in html and "nop" in html


def test_widgets_are_displayed_as_widget_views(py):
    execute(py, "%vm reset")          # makes the notebook's machine if this test runs first
    cell = execute(py, "from vmlab.viz import Registers\nr = Registers(vm)\nr")
    data = cell.of_type("execute_result")[0]["content"]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "<vmlab Registers>"
    comms = [m for m in cell.outputs if m["msg_type"] == "comm_open"]
    assert comms, "the widget's model was never opened in the front end"


def test_interrupt_stops_a_runaway_vm_run(py):
    execute(py, "%%asm\n_start: li t0, 0x10000000\n li t1, 'R'\n sb t1, 0(t0)\n li t1, 10\n"
                " sb t1, 0(t0)\n1: addi a5, a5, 1\n j 1b\n")
    execute(py, "vmlab_session.budget = 10**12")
    msg_id = py.execute("%vm run")
    # the run prints nothing until it ends, so wait for the machine to be busy a moment
    while True:
        msg = py.get_iopub_msg(timeout=120)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "busy"):
            break
    import time
    time.sleep(1.0)           # not an assertion: gives the guest time to loop
    py.manager.interrupt_kernel()
    reply = py.get_shell_msg(timeout=120)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = py.get_shell_msg(timeout=120)
    assert reply["content"]["status"] == "ok"
    count = execute(py, "print(vm.reg('a5') > 1000, vm.console_output.strip())")
    assert count.text.strip() == "True R"


def test_rich_display_of_a_vm_an_exit_and_a_trace(py):
    code = ("from vmlab.hv import Hypervisor\nfrom vmlab.guests import teachos\n"
            "g = Hypervisor().create_vm(ram_size=64 << 20)\ng.boot(kernel=teachos.build().elf)\n"
            "ex = g.vcpus[0].run(1_000_000)\n")
    assert execute(py, code).status == "ok"
    vm_html = execute(py, "g").of_type("execute_result")[0]["content"]["data"]["text/html"]
    assert "class='vmlab-vm'" in vm_html and "vCPU" in vm_html
    exit_html = execute(py, "ex").of_type("execute_result")[0]["content"]["data"]["text/html"]
    assert "class='vmlab-exit'" in exit_html and "guest pc" in exit_html
    trace_html = execute(py, "g.trace").of_type("execute_result")[0]["content"]["data"]["text/html"]
    assert "class='vmlab-trace'" in trace_html and "exit" in trace_html


def test_console_widget_input_reaches_the_guest(py):
    """A line typed into the Console widget (a comm message from the front end) is read by
    the guest from its UART; the guest echoes it, so the console shows it back."""
    echo = ("%%asm echo\n_start: li t0, 0x10000000\n"
            "1: lbu t1, 5(t0)\n andi t1, t1, 1\n beqz t1, 1b\n"      # wait for a byte
            " lbu t2, 0(t0)\n sb t2, 0(t0)\n li t3, 10\n bne t2, t3, 1b\n ecall\n")
    assert execute(py, echo).status == "ok"
    cell = execute(py, "from vmlab.viz import Console\nc = Console(vm)\nprint(c.comm.comm_id)")
    comm_id = cell.text.strip().splitlines()[-1]
    msg = py.session.msg("comm_msg", {"comm_id": comm_id, "data": {
        "method": "custom", "content": {"type": "input", "text": "hi there\n"}}})
    py.shell_channel.send(msg)
    run = execute(py, "%vm run 1000000\nc.refresh()\nprint(repr(c.text[-9:]))")
    assert "trap: Environment call from M-mode" in run.text
    assert "'hi there\\n'" in run.text          # the console keeps earlier tests' output too
