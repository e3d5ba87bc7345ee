"""The process that runs a submission, inside the jail: ``python -m vmlab.grading.worker``.

It reads its request (JSON) from stdin, runs the submission, collects the artifacts the
grader asked for, and writes ``{"artifacts", "notes", "jail"}`` as JSON to a pipe
(one from the grader that the student's kernel never inherits).  It knows no checker,
no expected value and no hidden seed: only the inputs the grader chose to send.

- a notebook runs in a fresh Jupyter kernel through nbclient, cell by cell; a cell that
  errors or times out is noted and the rest still run; a cell that kills its kernel is
  skipped on a rerun, so the work in the other cells still counts;
- a ``.py`` file runs the same way, one cell per top-level statement;
- a ``.s`` file is never executed here: it is assembled, and the program is the artifact.
"""
from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import sys

import nbformat

#: how often a notebook is rerun after a cell killed its kernel
MAX_RERUNS = 3
#: bytes of the student's cells' output kept (the rest is dropped, never stored)
MAX_OUTPUT = 4 << 20


def load_notebook(path: str):
    if path.endswith(".ipynb"):
        return nbformat.read(path, as_version=4)
    with open(path, encoding="utf-8", errors="replace") as f:
        cells = [nbformat.v4.new_code_cell(src) for src in split_statements(f.read())]
    return nbformat.v4.new_notebook(cells=cells)


def split_statements(source: str) -> list[str]:
    """A ``.py`` file as one cell per top-level statement, so that a statement that has to
    be skipped (it killed the kernel, or ran too long) costs only itself."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return [source]          # run as it is: the kernel reports the error as a cell would
    lines = source.splitlines(keepends=True)
    starts = [min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) for n in body]
    ends = starts[1:] + [len(lines) + 1]
    return ["".join(lines[a - 1:b - 1]) for a, b in zip(starts, ends)] or [source]


def kill_strays(keep: set[int]) -> int:
    """SIGKILL every process of this pid namespace but ``keep``; only as its init (pid 1),
    where /proc shows nothing else.  Used when a cell times out: whatever it left running
    (a fork bomb's copies) must not starve the kernel we still need."""
    if os.getpid() != 1:
        return 0
    killed = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            try:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def _client_class():
    """nbclient's NotebookClient, where a cell past its time limit ends its kernel.

    Interrupting is not enough: a cell may ignore SIGINT, or leave copies of itself running
    (a fork bomb) that starve the kernel.  So the kernel and everything else in the sandbox
    is killed, and the notebook is rerun without that cell (see :func:`run_notebook`).
    """
    from nbclient import NotebookClient

    class Client(NotebookClient):
        timed_out = 0
        kept = 0                 # bytes of output kept so far (the last cell's always is)

        def output(self, outs, msg, display_id, cell_index):
            """Keep at most MAX_OUTPUT bytes of a submission's output: a cell that prints
            without end must not fill this process's memory."""
            size = len(json.dumps(msg.get("content", {})))
            last = cell_index == len(self.nb.cells) - 1
            if not last and Client.kept + size > MAX_OUTPUT:
                return None
            Client.kept += 0 if last else size
            return super().output(outs, msg, display_id, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            Client.timed_out += 1
            if kill_strays({1}) == 0:        # not our own namespace: interrupting is all we may do
                return await super()._async_handle_timeout(timeout, cell)
            await asyncio.sleep(3)           # the kernel's death is noticed by nbclient's poller
            kill_strays({1})
            return None
    return Client


def extraction_cell(requests: dict, nonce: str):
    code = ("import json as _vmlab_json\n"
            "from vmlab.grading.artifacts import collect as _vmlab_collect\n"
            f"print({nonce!r} + _vmlab_collect(_vmlab_json.loads({json.dumps(requests)!r}), globals()))")
    return nbformat.v4.new_code_cell(code)


def run_cells(nb, requests: dict, nonce: str, skip: set, cell_timeout: int, notes: list):
    """Run every code cell not in ``skip``, then the extraction cell.

    Returns the extraction cell's output text, or ``("dead", index)`` when a cell killed the
    kernel.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    NotebookClient = _client_class()
    work = nbformat.v4.new_notebook(cells=[c for i, c in enumerate(nb.cells)
                                           if c.cell_type == "code" and i not in skip])
    index = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in skip]
    work.cells.append(extraction_cell(requests, nonce))
    client = NotebookClient(work, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, shutdown_kernel="immediate",
                            resources={"metadata": {"path": os.getcwd()}})
    with client.setup_kernel():
        for k, cell in enumerate(work.cells):
            where = f"cell {index[k] + 1}" if k < len(index) else "collecting the answers"
            before = NotebookClient.timed_out
            try:
                client.execute_cell(cell, k)
            except DeadKernelError:
                why = (f"ran past the {cell_timeout} s limit per cell" if NotebookClient.timed_out > before
                       else "killed the Python kernel")
                notes.append(f"{where} {why}; it is skipped and the notebook rerun")
                return ("dead", index[k] if k < len(index) else None)
            except CellTimeoutError:
                notes.append(f"{where} ran past the {cell_timeout} s limit per cell and was interrupted")
            if NotebookClient.timed_out > before:
                notes.append(f"{where} ran past the {cell_timeout} s limit per cell and was interrupted")
            _note_errors(cell, where, notes)
    return _stream_text(work.cells[-1])


def _note_errors(cell, where: str, notes: list) -> None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            notes.append(f"{where} raised {out.get('ename')}: {str(out.get('evalue'))[:200]}")


def _stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def parse(text: str, nonce: str) -> dict | None:
    """The artifacts JSON after the last nonce; None when there is none that parses."""
    at = text.rfind(nonce)
    if at < 0:
        return None
    try:
        return json.loads(text[at + len(nonce):].splitlines()[0])
    except (ValueError, IndexError):
        return None


def run_notebook(path: str, requests: dict, nonce: str, cell_timeout: int, notes: list) -> dict:
    try:
        nb, skip = load_notebook(path), set()
    except Exception as exc:  # not a notebook: the student's problem, graded as no answers
        notes.append(f"the submission is not a readable notebook ({type(exc).__name__}: {exc})"[:300])
        return {}
    for _ in range(MAX_RERUNS + 1):
        out = run_cells(nb, requests, nonce, skip, cell_timeout, notes)
        if not isinstance(out, tuple):
            return parse(out, nonce) or {}
        if out[1] is None:
            break
        skip.add(out[1])
    notes.append("the answers could not be collected")
    return {}


def run_assembly(path: str, requests: dict, notes: list) -> dict:
    from vmlab.grading.artifacts import program
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    out = {}
    for key, spec in requests.items():
        if spec["kind"] != "program":
            out[key] = {"missing": spec.get("name", key)}
            continue
        try:
            out[key] = program(source)
        except Exception as exc:  # an assembler error is the student's answer
            out[key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def main() -> int:
    request = json.loads(sys.stdin.read())
    result_fd = request["result_fd"]
    os.set_inheritable(result_fd, False)      # the student's kernel must not get this pipe
    notes: list[str] = []
    path = request["submission"]
    if path.endswith(".s") or path.endswith(".S"):
        artifacts = run_assembly(path, request["requests"], notes)
    else:
        artifacts = run_notebook(path, request["requests"], request["nonce"],
                                 request.get("cell_timeout", 60), notes)
    result = {"artifacts": artifacts, "notes": notes, "jail": os.environ.get("VMLAB_JAIL", "")}
    with os.fdopen(result_fd, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
