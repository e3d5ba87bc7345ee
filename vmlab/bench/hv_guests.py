"""Real guests for ``vmlab bench --hv``: the same software bare and as a guest, in one run.

- **teachos** (vmlab.guests.teachos): a teaching OS with user processes that make system
  calls, take timer ticks and read the disk -- a workload full of traps.  Bare, it runs
  under OpenSBI on the machine; as a guest, in virtual S-mode with the hypervisor's SBI,
  with the fast path on and off.  Both run to the OS's own power-off.
- **Debian's Linux** (vmlab.guests.linux, when fetched): boot to the busybox shell prompt,
  bare (OpenSBI + kernel + initramfs), as a guest (fast path on, and on request off) and
  on QEMU TCG with the same kernel and initramfs.  Minutes of work, so behind a flag.

Wall seconds (and CPU seconds of the vmlab runs), best of the repeats asked for.
``guest_speed`` is bare / guest (1.0: no cost; 0.5: the guest takes twice as long): CPU
seconds for teachos, wall seconds for Linux (QEMU, a child process, has only those); the
ratios are what to read, as absolute seconds move with the machine's load.
"""
from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
PROMPT = "vmlab# "
#: QEMU's hart with what vmlab's implements (RV64IMAFDC, Sv39, no Sstc)
QEMU_CPU = "rv64,h=false,v=false,zba=false,zbb=false,zbc=false,zbs=false,sstc=false,svpbmt=false"


def _timed(fn):
    """(wall seconds, CPU seconds of this process, fn's result)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def _guest_vm(ram_size: int, fast: bool, drive=None):
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    hv = Hypervisor(Machine(ram_size=ram_size + HOST_EXTRA))
    return hv.create_vm(ram_size=ram_size, drive=drive, fast_exits=fast)


# --- the teaching OS -----------------------------------------------------------------------------
def teachos(repeats: int = 1) -> dict:
    """The teaching OS to its power-off: bare (if OpenSBI is installed) and as a guest."""
    from vmlab.guests import teachos as tos
    program = tos.build()
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk.img"
        disk.write_bytes(b"Hello from sector 0 of the disk!\n".ljust(8 * 512, b"\0"))
        _teachos_guest(program, disk, True)        # load (or compile) every path first
        out = {"guest": _best(repeats, lambda: _teachos_guest(program, disk, True)),
               "guest_python": _best(repeats, lambda: _teachos_guest(program, disk, False))}
        if OPENSBI.is_file():
            out["bare"] = _best(repeats, lambda: _teachos_bare(program, disk))
            # CPU seconds: both run in this process, and a shared host disturbs them less
            out["guest_speed"] = out["bare"]["cpu_seconds"] / out["guest"]["cpu_seconds"]
    return out


def _best(repeats: int, fn) -> dict:
    runs = [fn() for _ in range(max(1, repeats))]
    return min(runs, key=lambda r: r["seconds"])


def _teachos_guest(program, disk, fast: bool) -> dict:
    from vmlab.hv.trace import EXIT
    vm = _guest_vm(128 << 20, fast, drive=disk)
    vm.boot(kernel=program.elf)
    seconds, cpu, r = _timed(lambda: vm.run(instructions=400_000_000))
    if r.reason != "halt":
        raise RuntimeError(f"teachos as a guest stopped with {r.reason!r}")
    return {"seconds": seconds, "cpu_seconds": cpu, "instructions": r.instructions,
            "exits": vm.trace.count(EXIT)}


def _teachos_bare(program, disk) -> dict:
    from vmlab.machine import Machine
    m = Machine(ram_size=128 << 20, drive=str(disk))
    m.boot_virt(bios=str(OPENSBI), kernel=program.elf)
    seconds, cpu, r = _timed(lambda: m.run(instructions=600_000_000))
    if r.reason != "halt":
        raise RuntimeError(f"teachos bare stopped with {r.reason!r}")
    return {"seconds": seconds, "cpu_seconds": cpu, "instructions": r.instructions}


# --- Debian's Linux ------------------------------------------------------------------------------
def linux_boot(python_path: bool = False) -> dict:
    """Seconds from power-on to the shell prompt: bare, as a guest, on QEMU TCG."""
    from vmlab.guests import linux
    kernel, initrd, cmdline = linux.boot_files()       # GuestMissing says how to fetch it
    files = (str(kernel), str(initrd), cmdline)
    out = {"bare": _linux_bare(*files), "guest": _linux_guest(*files, fast=True)}
    if python_path:
        out["guest_python"] = _linux_guest(*files, fast=False)
    out["guest_speed"] = out["bare"]["seconds"] / out["guest"]["seconds"]
    qemu = _linux_qemu(*files)
    if qemu is not None:
        out["qemu"] = qemu
    return out


def _linux_bare(kernel, initrd, cmdline) -> dict:
    from vmlab.machine import Machine
    m = Machine(ram_size=256 << 20)
    m.boot_virt(bios=str(OPENSBI), kernel=kernel, initrd=initrd, bootargs=cmdline)
    seconds, cpu, r = _timed(lambda: m.run(instructions=8_000_000_000, until_output=PROMPT))
    if r.reason != "output":
        raise RuntimeError(f"Linux bare stopped with {r.reason!r} before its prompt")
    return {"seconds": seconds, "cpu_seconds": cpu, "instructions": r.instructions}


def _linux_guest(kernel, initrd, cmdline, fast: bool) -> dict:
    from vmlab.hv.trace import EXIT
    vm = _guest_vm(256 << 20, fast)
    vm.boot(kernel=kernel, initrd=initrd, bootargs=cmdline)
    seconds, cpu, r = _timed(lambda: vm.run(instructions=8_000_000_000, until_output=PROMPT))
    if r.reason != "output":
        raise RuntimeError(f"Linux as a guest stopped with {r.reason!r} before its prompt")
    handlers = vm.trace.handler_counts
    exits = vm.trace.count(EXIT)
    return {"seconds": seconds, "cpu_seconds": cpu, "instructions": r.instructions, "exits": exits,
            "by_handler": {k: handlers[k] for k in sorted(handlers, key=handlers.get,
                                                              reverse=True)[:12]}}


def _linux_qemu(kernel, initrd, cmdline) -> dict | None:
    """QEMU TCG to the same prompt (None without qemu-system-riscv64 or OpenSBI's .bin)."""
    qemu, bios = shutil.which("qemu-system-riscv64"), OPENSBI.with_suffix(".bin")
    if qemu is None or not bios.is_file():
        return None
    cmd = [qemu, "-M", "virt", "-cpu", QEMU_CPU, "-m", "256M", "-bios", str(bios),
           "-kernel", kernel, "-initrd", initrd, "-append", cmdline, "-nographic",
           "-serial", "stdio", "-monitor", "none"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = b""
    try:
        while PROMPT.encode() not in out:
            ready, _, _ = select.select([p.stdout], [], [], 300)
            chunk = p.stdout.read1(4096) if ready else b""
            if not chunk:
                return None
            out += chunk
        return {"seconds": time.perf_counter() - t0}
    finally:
        p.kill()
        p.wait()
