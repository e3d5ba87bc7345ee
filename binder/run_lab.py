"""Run labs top to bottom and measure what they take; run by ``binder/check`` inside the
environment it built (so only what ``binder/requirements.txt`` and ``postBuild`` installed
is importable here).

``python run_lab.py LAB.ipynb ...``  executes each lab in a fresh kernel of its own
kernelspec, with the lab's folder as working directory (as JupyterLab does), and prints one
JSON line per lab: seconds, the kernel's peak resident memory (``VmHWM``: the guest runs
inside the kernel process, so this is kernel + guest) and the first error, if any.

``python run_lab.py --server LAB.ipynb`` starts JupyterLab, opens the lab in it the way a
browser does (the page, the notebook, a kernel session) and prints the server's own peak.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CELL_TIMEOUT = 600          # seconds; lab 03's guest is the longest cell


def peak_rss_kib(pid: int) -> int:
    """The high-water mark of a process's resident memory, from the kernel's own bookkeeping."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


def run_lab(path: Path) -> dict:
    """Execute every cell of one lab in a fresh kernel; stop at the first error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=nb.metadata.kernelspec.name,
                            resources={"metadata": {"path": str(path.parent)}})
    result = {"lab": path.stem, "error": None}
    start = time.perf_counter()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except CellExecutionError as exc:
            result["error"] = str(exc)[-2000:]
        result["kernel_peak_kib"] = peak_rss_kib(pid)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, method: str = "GET", body: dict | None = None, timeout: float = 60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _wait_until_up(base: str, token: str, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode}")
        try:
            _get(f"{base}/api/status", token, timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("JupyterLab did not answer within 120 s")


def server_peak(lab: Path) -> dict:
    """JupyterLab's own peak while it serves one lab with a live kernel session."""
    root, token, port = lab.parent.parent, secrets.token_hex(16), free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, rel = f"http://127.0.0.1:{port}", f"{lab.parent.name}/{lab.name}"
    try:
        _wait_until_up(base, token, proc)
        _get(f"{base}/lab/tree/{rel}", token)                   # the page a browser loads
        _get(f"{base}/api/contents/{rel}?content=1", token)      # the notebook it opens
        session = json.loads(_get(f"{base}/api/sessions", token, "POST",
                                  {"path": rel, "type": "notebook", "kernel": {"name": "python3"}}))
        time.sleep(5)                                           # the kernel starts and reports in
        peak = peak_rss_kib(proc.pid)
        _get(f"{base}/api/sessions/{session['id']}", token, "DELETE")
        return {"lab": lab.stem, "server_peak_kib": peak}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--server"]:
        print(json.dumps(server_peak(Path(argv[1]).resolve())), flush=True)
        return 0
    status = 0
    for arg in argv:
        result = run_lab(Path(arg).resolve())
        print(json.dumps(result), flush=True)
        status |= result["error"] is not None
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
