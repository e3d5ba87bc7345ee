"""Helpers for talking to real kernels (shared by the notebook tests)."""
from __future__ import annotations

from contextlib import contextmanager


def start(name: str):
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=120)
    return km, kc


@contextmanager
def running_kernel(name: str):
    """A started kernel's client (``kc.manager`` is its manager), shut down afterwards."""
    km, kc = start(name)
    kc.manager = km
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


class Cell:
    """What one execute request produced: the reply and every IOPub output, in order."""

    def __init__(self, reply, outputs):
        self.reply, self.outputs = reply, outputs

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    @property
    def text(self) -> str:
        """stdout/stderr streams and text/plain of displays and results, joined."""
        parts = []
        for msg in self.outputs:
            t, c = msg["msg_type"], msg["content"]
            if t == "stream":
                parts.append(c["text"])
            elif t in ("display_data", "execute_result"):
                parts.append(c["data"].get("text/plain", "") + "\n")
            elif t == "error":
                parts.append("\n".join(c["traceback"]) + "\n")
        return "".join(parts)

    def of_type(self, msg_type: str) -> list:
        return [m for m in self.outputs if m["msg_type"] == msg_type]


def execute(kc, code: str, timeout: float = 120, on_busy=None) -> Cell:
    """Run ``code`` and collect its outputs until the kernel is idle again."""
    msg_id = kc.execute(code)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t = msg["msg_type"]
        if t == "status":
            if msg["content"]["execution_state"] == "idle":
                break
            if msg["content"]["execution_state"] == "busy" and on_busy:
                on_busy()
            continue
        if t != "execute_input":
            outputs.append(msg)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return Cell(reply, outputs)


def wait_for_output(kc, msg_id_holder, needle: str, timeout: float = 120) -> list:
    """Read IOPub until a stream containing ``needle`` arrives (the cell is then running)."""
    seen = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        seen.append(msg)
        if msg["msg_type"] == "stream" and needle in msg["content"]["text"]:
            return seen


def require(module: str, package: str | None = None) -> None:
    """At module level: fail in CI, skip the module elsewhere, when ``module`` is missing."""
    import importlib

    import pytest

    from oracles import IN_CI
    try:
        importlib.import_module(module)
    except ImportError:
        msg = f"Python module {module} not found: install '{package or module}' (pyproject.toml)"
        if IN_CI:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg, allow_module_level=True)
