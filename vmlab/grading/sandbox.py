"""Start a submission in the jail and bring back its artifacts (the grading process's side).

The submission gets a fresh working directory (HOME and TMPDIR point into it), a private
copy of the compiled-machine cache (so a lab notebook starts in a second, and no submission
can leave compiled code behind for the next one), the student id and course in its
environment, and nothing else of the grader's: not its environment, not its memory (a new
interpreter, not a fork), not the secret.  Afterwards everything it started is killed.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import vmlab

#: where a pids cgroup (v1) is mounted on most Linux machines
PIDS_V1 = Path("/sys/fs/cgroup/pids")
#: set by :func:`snapshot_cache` for the grading processes of a batch
CACHE_ENV = "VMLAB_GRADING_NUMBA_CACHE"


@dataclass
class Limits:
    wall: float = 300.0         #: seconds for the whole submission
    cell: int = 60              #: seconds for one notebook cell
    memory: int = 6 << 30       #: bytes of address space per process (numba maps a lot)
    cpu: int = 300              #: CPU seconds per process
    pids: int = 128             #: tasks (processes and threads) in all
    fsize: int = 64 << 20       #: bytes per file written


@dataclass
class RunOutput:
    artifacts: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    jail: str = ""
    log: str = ""
    seconds: float = 0.0
    error: str | None = None    #: an infrastructure problem (not the student's doing)


def make_cgroup(pids: int) -> Path | None:
    """A pids cgroup of our own, or None where there is none we may create."""
    if not (PIDS_V1 / "cgroup.procs").exists() or not os.access(PIDS_V1, os.W_OK):
        return None
    path = PIDS_V1 / f"vmlab-grade-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(pids))
        return path
    except OSError:
        return None


def kill_cgroup(path: Path | None) -> None:
    """SIGKILL every task in the cgroup until it is empty, then remove it."""
    if path is None:
        return
    for _ in range(100):
        pids = (path / "cgroup.procs").read_text().split()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    try:
        path.rmdir()
    except OSError:
        pass


def numba_cache() -> Path | None:
    """The compiled-machine cache a sandbox gets a copy of: the batch's own snapshot (see
    :func:`snapshot_cache`), else this version's shared cache (see vmlab.machine.jit)."""
    private = os.environ.get(CACHE_ENV)
    if private and Path(private).is_dir():
        return Path(private)
    import numba
    from vmlab.machine import jit  # noqa: F401  (sets numba's cache directory)
    path = Path(numba.config.CACHE_DIR)
    return path if path.is_dir() else None


def snapshot_cache() -> Path:
    """A cache of the batch's own, complete before the first submission runs.

    The shared cache is pruned and rewritten by other vmlab processes (other versions of the
    sources keep only a few directories); a sandbox that finds it gone compiles the machine
    for itself, many times slower.  So the batch copies it once, compiles whatever is missing
    into the copy (``vmlab.notebook.warm``), and every sandbox copies from there.
    """
    dest = Path(tempfile.mkdtemp(prefix="vmlab-grade-cache-"))
    shared = numba_cache()
    if shared is not None:
        try:
            shutil.copytree(shared, dest, dirs_exist_ok=True)
        except shutil.Error:
            pass  # entries rewritten meanwhile: the warm-up below compiles them
    subprocess.run([sys.executable, "-m", "vmlab.notebook.warm"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=dict(os.environ, NUMBA_CACHE_DIR=str(dest)), check=False)
    os.environ[CACHE_ENV] = str(dest)
    return dest


def prepare_workdir(submission: Path, cache: Path | None) -> Path:
    work = Path(tempfile.mkdtemp(prefix="vmlab-grade-"))
    os.chmod(work, 0o700)
    for sub in ("tmp", ".cache", ".ipython", ".jupyter/runtime"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submission, work / ("submission" + "".join(submission.suffixes[-1:])))
    if cache is not None:
        try:
            shutil.copytree(cache, work / ".cache" / "numba")
        except shutil.Error:
            pass  # another process rewrote an entry meanwhile: numba recompiles what is missing
    return work


def sandbox_env(work: Path, student: str, course: str) -> dict:
    root = str(Path(vmlab.__file__).resolve().parents[1])
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
            "TMPDIR": str(work / "tmp"), "XDG_CACHE_HOME": str(work / ".cache"),
            "NUMBA_CACHE_DIR": str(work / ".cache" / "numba"),
            "IPYTHONDIR": str(work / ".ipython"), "JUPYTER_RUNTIME_DIR": str(work / ".jupyter/runtime"),
            "JUPYTER_CONFIG_DIR": str(work / ".jupyter"), "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
            "PYTHONPATH": root, "PYTHONHASHSEED": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "VMLAB_STUDENT": student, "VMLAB_COURSE": course}


def safe_to_hide(path: str) -> bool:
    """A folder may be hidden from a submission unless the worker needs what is inside it."""
    needed = [Path(vmlab.__file__).resolve().parents[1], Path(sys.prefix).resolve(),
              Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent]
    p = Path(path).resolve()
    return p != Path("/") and not any(n == p or p in n.parents for n in needed)


def run(submission: Path, requests: dict, student: str, course: str, limits: Limits,
        hide: list[str] = ()) -> RunOutput:
    """Run one submission in the jail; never raises for anything the submission does."""
    start = time.perf_counter()
    work = prepare_workdir(Path(submission), numba_cache())
    cgroup = make_cgroup(limits.pids)
    try:
        hide = [h for h in hide if safe_to_hide(h)]
        out = _run_jailed(work, requests, student, course, limits, hide, cgroup)
    finally:
        kill_cgroup(cgroup)
        shutil.rmtree(work, ignore_errors=True)
    out.seconds = time.perf_counter() - start
    return out


def _run_jailed(work, requests, student, course, limits, hide, cgroup) -> RunOutput:
    read_end, write_end = os.pipe()
    nonce = "vmlab-artifacts-" + secrets.token_hex(8) + ":"
    name = next(p.name for p in work.iterdir() if p.name.startswith("submission"))
    config = {"workdir": str(work), "hide": hide, "cgroup": str(cgroup) if cgroup else None,
              "env": sandbox_env(work, student, course),
              "limits": {"memory": limits.memory, "cpu": limits.cpu, "fsize": limits.fsize, "nofile": 1024,
                         "pids": limits.pids}}
    request = {"submission": str(work / name), "requests": requests, "nonce": nonce,
               "cell_timeout": limits.cell, "result_fd": write_end}
    cmd = [sys.executable, "-m", "vmlab.grading.jail", json.dumps(config), "--",
           sys.executable, "-m", "vmlab.grading.worker"]
    with open(work.parent / f"{work.name}.log", "w+b") as log:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                    pass_fds=(write_end,), start_new_session=True)
        finally:
            os.close(write_end)
        result = _collect(proc, read_end, json.dumps(request).encode(), limits.wall)
        log.seek(0)
        text = log.read()[-4000:].decode("utf-8", "replace")
    os.unlink(log.name)
    return _interpret(result, proc, text)


def _collect(proc, read_end: int, request: bytes, wall: float) -> dict:
    """Send the request, wait at most ``wall`` seconds, read the result pipe."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: _read_all(read_end, chunks), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        proc.wait(timeout=wall)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc)
    reader.join(timeout=5)
    return {"timed_out": timed_out, "data": b"".join(chunks)}


def _read_all(fd: int, chunks: list, limit: int = 16 << 20) -> None:
    with os.fdopen(fd, "rb") as f:
        while sum(map(len, chunks)) < limit:
            data = f.read(65536)
            if not data:
                break
            chunks.append(data)


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _interpret(result: dict, proc, log: str) -> RunOutput:
    if result["data"]:
        try:
            data = json.loads(result["data"])
            return RunOutput(data.get("artifacts") or {}, list(data.get("notes") or []),
                             data.get("jail", ""), log)
        except ValueError:
            pass
    if result["timed_out"]:
        return RunOutput(notes=["the submission ran past its time limit and was stopped"], log=log)
    if "Traceback" in log and "vmlab/grading/" in log:
        return RunOutput(log=log, error=f"the grading worker failed (exit {proc.returncode}): "
                                        f"{log.strip().splitlines()[-1][:300]}")
    return RunOutput(notes=[f"the submission's process ended without answers (exit {proc.returncode})"], log=log)
