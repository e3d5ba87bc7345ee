"""The sandbox a submission runs in: ``python -m vmlab.grading.jail CONFIG -- COMMAND...``.

It sets itself up, then becomes COMMAND (the grading worker) with ``execve``.  It runs in a
process of its own, not in a ``preexec_fn``: the grader may be multi-threaded (Dask), and
Python code between ``fork`` and ``exec`` is unsafe there.  What it enforces:

- **limits** (always): address space (RLIMIT_AS), CPU seconds, file size, open files, no core
  dumps; the grader adds the wall-time limit and kills everything left at the end;
- **processes** (root, with a pids cgroup): at most ``pids`` tasks, counted across every
  descendant, so a fork bomb stops at the limit; the grader kills the whole cgroup afterwards.
  Without the cgroup, an ordinary user gets RLIMIT_NPROC (what the user runs now + ``pids``);
- **files** (root, with mount namespaces): every mount read-only except the working
  directory; a private empty ``/dev/shm``; the submissions, output and secret directories
  hidden under empty tmpfs; then the capabilities that could undo this (mounting, ptrace,
  raising limits, ...) are dropped from the bounding set;
- **processes, again**: a new pid namespace for the worker's children, so the student's
  kernel cannot see or signal any process outside it.

Without root the limits and the process-group kill still hold; the rest is reported as not
enforced (``vmlab grade`` prints which parts are).
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_PDEATHSIG = 24, 1
#: capabilities that would let a root process undo the jail or reach outside it
DROP_CAPS = {"CHOWN": 0, "DAC_READ_SEARCH": 2, "FOWNER": 3, "KILL": 5, "SETPCAP": 8,
             "LINUX_IMMUTABLE": 9, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_MODULE": 16,
             "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_ADMIN": 21,
             "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25, "MKNOD": 27,
             "AUDIT_CONTROL": 30, "MAC_ADMIN": 33, "SYSLOG": 34, "BPF": 39, "PERFMON": 38}
#: mounts left writable/untouched: kernel interfaces a Python process needs
KEEP = ("/proc", "/sys", "/dev")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else s.encode()
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def set_limits(limits: dict) -> None:
    """RLIMITs for this process and everything it starts."""
    for name, value in (("RLIMIT_AS", limits.get("memory")), ("RLIMIT_CPU", limits.get("cpu")),
                        ("RLIMIT_FSIZE", limits.get("fsize")), ("RLIMIT_NOFILE", limits.get("nofile")),
                        ("RLIMIT_CORE", 0)):
        if value is not None:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def user_tasks(uid: int) -> int:
    """Processes and threads this uid has now (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def limit_processes(pids: int) -> bool:
    """Without a cgroup: RLIMIT_NPROC at what this user runs now plus ``pids`` (root ignores
    RLIMIT_NPROC, so this only holds for an ordinary user)."""
    if os.geteuid() == 0:
        return False
    n = user_tasks(os.getuid()) + pids
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    return True


def join_cgroup(cgroup: str | None) -> None:
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def mountpoints() -> list[str]:
    """Every mount point, from /proc/self/mountinfo (field 5), shortest first."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    return sorted(set(points), key=len)


def _kept(point: str) -> bool:
    return any(point == k or point.startswith(k + "/") for k in KEEP)


def read_only_world(workdir: str, hide: list[str]) -> None:
    """In a new (private) mount namespace: all read-only but ``workdir``; ``hide`` made empty."""
    _mount(workdir, workdir, None, MS_BIND)   # a mount of its own, so it stays writable
    for point in mountpoints():
        if _kept(point) or point == workdir:
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError:
            pass  # a mount that is already read-only, or one we may not touch
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path in hide:
        if os.path.isdir(path) and not workdir.startswith(path.rstrip("/") + "/"):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=755")


def drop_capabilities() -> None:
    for cap in DROP_CAPS.values():
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # a cap this kernel doesn't know: ignored


def die_with_parent() -> None:
    """If the process that started us dies, so do we (and, as init, our whole namespace)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def enter(config: dict) -> list[str]:
    """Set the jail up; return what was enforced (the worker reports it)."""
    die_with_parent()
    enforced = ["limits"]
    try:
        join_cgroup(config.get("cgroup"))
        enforced += ["pids"] if config.get("cgroup") else []
    except OSError:
        pass                     # reported: "pids" is missing from what was enforced
    set_limits(config.get("limits", {}))
    if "pids" not in enforced and limit_processes(config.get("limits", {}).get("pids", 128)):
        enforced.append("nproc")
    if os.geteuid() == 0 and config.get("namespaces", True) and _unshare():
        # first of all: nothing mounted from here on may propagate back to the host (on a
        # systemd host "/" is a shared mount, and a new namespace starts as its peer)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _become_init()
        # /proc of the new namespace: the worker sees (and may clean up) only its own processes
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        read_only_world(config["workdir"], config.get("hide", []))
        drop_capabilities()
        enforced += ["read-only filesystem", "pid namespace"]
    return enforced


def _unshare() -> bool:
    """New mount and pid namespaces, or False where this kernel or container refuses them
    (then the submission runs with the limits only, and says so)."""
    return _libc.unshare(CLONE_NEWNS | CLONE_NEWPID) == 0


def _become_init() -> None:
    """Fork: the child is pid 1 of the new pid namespace and goes on to exec the worker.

    (A process that called unshare(CLONE_NEWPID) may not start threads itself; its children
    live in the new namespace.)  The parent waits and passes the exit status on; when the
    child exits, the kernel kills everything left in its namespace.
    """
    pid = os.fork()
    if pid == 0:
        die_with_parent()
        return
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    command = argv[argv.index("--") + 1:]
    enforced = enter(config)
    env = dict(config.get("env", {}), VMLAB_JAIL=",".join(enforced))
    os.chdir(config["workdir"])
    os.execvpe(command[0], command, env)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
