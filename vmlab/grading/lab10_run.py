"""Lab 10's guests, runs and drivers: what its exercises execute, in the grader and in the lab.

The drivers (``drive_walk``, ``drive_serve``) run in the student's process with the student's
function, and in the grader's with the reference (:mod:`vmlab.hv.virtq`): the same scenario
gives the same JSON report when the two behave alike.  The hostile requests of
``drive_serve`` are written into the guest's own queue after its driver set it up, as a
malicious (or buggy) driver would, and the report says what the device did about each:
asked for a reset, failed the request (and with which status), or touched memory it must
not -- anywhere in guest RAM outside the request's buffers, or in host RAM outside the VM.
"""
from __future__ import annotations

import os
import random
import struct
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from vmlab.hv import virtq
from vmlab.machine import layout as L

GUEST_RAM, HOST_RAM = 16 << 20, 40 << 20
DISK_SECTORS = 64
HOSTILE = ("loop", "next_outside", "head_outside", "avail_ahead", "data_outside_ram",
           "length_wraps", "data_into_mmio", "data_read_only", "header_writable",
           "status_read_only", "indirect")


DISK_GREETING = b"Hello from lab 10's disk!\n"


def disk_image() -> bytes:
    """The lab's disk: 64 sectors, a line of text (what teachos prints of sector 0), then
    a fixed pseudo-random pattern (the same for grader and student)."""
    rng = random.Random(10)
    rest = bytes(rng.randrange(256) for _ in range(DISK_SECTORS * 512 - 512))
    return DISK_GREETING.ljust(512, b"\0") + rest


def disk_path() -> str:
    """The image as a file (shared by the runs of one machine; written whole, then renamed,
    so a grader running submissions side by side never reads half of it)."""
    path = Path(tempfile.gettempdir()) / "vmlab-lab10-disk.img"
    if not path.exists() or path.read_bytes() != disk_image():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".img")
        with os.fdopen(fd, "wb") as f:
            f.write(disk_image())
        os.replace(tmp, path)
    return str(path)


def new_vm():
    from vmlab.hv.vm import Hypervisor
    from vmlab.machine import Machine
    return Hypervisor(Machine(ram_size=HOST_RAM)).create_vm(ram_size=GUEST_RAM)


def exit_counts(vm) -> Counter:
    """Exits (not shadow events) by handler name."""
    from vmlab.hv.trace import EXIT
    return Counter(vm.trace.names[h] for h in vm.trace.records(EXIT)["handler"])


# ---- the 16550 driver of teachos -------------------------------------------------------------
def uart_guest(n: int):
    """teachos's console part (its 16550 driver), called to print ``n`` bytes, then SRST."""
    from vmlab.asm import assemble
    from vmlab.guests import teachos
    harness = f"""
        .equ UART0, 0x10000000
        .text
        .globl _start
_start: la      sp, stack_top
        call    uart_init
        la      a0, message
        li      a1, {n}
        call    kwrite
        li      a0, 0
sbi_shutdown:
        mv      a1, a0
        li      a0, 0
        li      a7, 0x53525354
        li      a6, 0
        ecall
1:      j       1b
        .data
message: .fill {max(n, 1)}, 1, 0x2e
        .bss
        .balign 16
        .skip 4096
stack_top:
"""
    return assemble(harness + teachos.part("console"), filename="uart.s")


def uart_exits_of(n: int) -> int:
    """The device (mmio) exits of the guest above under trap-and-emulate."""
    vm = new_vm()
    vm.boot(kernel=uart_guest(n).elf)
    vm.run(instructions=2_000_000 + 200 * n)
    return exit_counts(vm)["mmio"]


# ---- the DBCN console ----------------------------------------------------------------------------
def dbcn_harness(src: str, messages: list[str]) -> str:
    """Call the student's ``console_write`` on each message, check the registers a callee
    must keep, print "done" with putchar-free DBCN write_byte, power off."""
    calls = "".join(f"""
        la      a0, msg{i}
        li      a1, {len(m.encode())}
        call    console_write
        bne     s0, s9, broken
        bne     sp, s10, broken""" for i, m in enumerate(messages))
    data = "".join(f"msg{i}:\n" + _bytes(m.encode()) for i, m in enumerate(messages))
    return f"""
        .text
        .globl _start
_start: la      sp, stack_top
        li      s0, 0x5eed
        mv      s9, s0
        mv      s10, sp
{calls}
        la      a0, done
        j       say
broken: la      a0, bad
say:    mv      s1, a0
1:      lbu     a0, 0(s1)
        beqz    a0, 2f
        li      a7, 0x4442434E
        li      a6, 2
        ecall
        addi    s1, s1, 1
        j       1b
2:      li      a7, 0x53525354
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
3:      j       3b
        .data
done:   .asciz "done\\n"
bad:    .asciz "registers clobbered\\n"
{data}
        .text
{src}
        .bss
        .balign 16
        .skip 4096
stack_top:
"""


def _bytes(data: bytes) -> str:
    """``.byte`` lines of at most 32 values (the message, NULs and quotes included)."""
    rows = [data[i:i + 32] for i in range(0, len(data), 32)] or [b"\0"]
    return "".join(f"        .byte {', '.join(str(b) for b in row)}\n" for row in rows)


def run_dbcn(src: str, messages: list[str]) -> dict:
    """The student's routine in the harness: console text and the exits that printed it."""
    from vmlab.asm import assemble
    from vmlab.hv.sbi import EXT_DBCN
    try:
        program = assemble(dbcn_harness(src, messages), filename="console_write.s")
    except Exception as exc:          # the student's source: an error is their answer
        return {"error": f"does not assemble ({str(exc).splitlines()[0][:120]})"}
    vm = new_vm()
    vm.boot(kernel=program.elf)
    r = vm.run(instructions=5_000_000)
    if r.reason != "halt":
        return {"error": f"the guest did not finish ({r.reason})"}
    exits = exit_counts(vm)
    harness = len("done\n")                       # its write_byte calls (and SRST: + 1)
    return {"console": vm.console_output, "mmio": exits["mmio"],
            "sbi": exits["sbi"] - harness - 1, "dbcn": vm.sbi_calls[EXT_DBCN] - harness}


# ---- walking a chain -------------------------------------------------------------------------
class FlatRam:
    """A few pages of pretend guest RAM for walker scenarios (contains/read/write)."""

    def __init__(self, base: int, size: int):
        self.base, self.data = base, bytearray(size)

    def contains(self, gpa: int, n: int = 1) -> bool:
        return self.base <= gpa and gpa + n <= self.base + len(self.data)

    def read(self, gpa: int, n: int) -> bytes:
        return bytes(self.data[gpa - self.base:gpa - self.base + n])

    def write(self, gpa: int, data: bytes) -> None:
        self.data[gpa - self.base:gpa - self.base + len(data)] = data


def drive_walk(fn, scenario: dict):
    """``fn(ram, q, head)`` on the scenario's table: the segments, or the error's name."""
    num, table = scenario["num"], L.RAM_BASE + 0x1000
    mem = FlatRam(L.RAM_BASE, 0x1000 + 16 * max(num, 1))
    for i, (addr, length, flags, nxt) in enumerate(scenario["descs"]):
        mem.write(table + 16 * i, virtq.DESC.pack(addr, length, flags, nxt))
    q = virtq.Queue(num, table, 0, 0)
    try:
        segs = fn(virtq.GuestRam(mem, budget=10 * num + 10), q, scenario["head"])
        return [[int(s.gpa), int(s.length), bool(s.writable)] for s in segs]
    except virtq.QueueError:
        return "QueueError"
    except virtq.Hung:
        return "hung (it never stopped walking)"
    except Exception as exc:  # noqa: BLE001 - any other exception is the answer
        return f"raised {type(exc).__name__}"


# ---- serving a queue ---------------------------------------------------------------------------
def drive_serve(fn, scenario: dict):
    """``fn`` as the host side of a VM's virtio-blk: the guest's reads, teachos's own
    driver, or one injection."""
    from vmlab.guests import blockio
    if scenario.get("teachos"):
        return _teachos_serve(fn)
    g = scenario.get("guest") or {"sectors": 1, "first": 0}
    vm = new_vm()
    dev = virtq.hosted(vm, disk_path(), fn)
    vm.boot(kernel=blockio.build("virtio", g["sectors"], g["first"]).elf)
    r = vm.run(instructions=20_000_000)
    report = {"console": vm.console_output, "halted": r.reason == "halt",
              "needs_reset": bool(dev.status & 64), "failures": len(dev.failures)}
    if "hostile" in scenario:
        report = inject(vm, dev, scenario["hostile"], random.Random(scenario["seed"]))
    vm.close_devices()
    return report


TEACHOS_BUDGET = 60_000_000       # teachos powers off after about 24 M instructions


def _teachos_serve(fn) -> dict:
    """teachos (its virtio driver, not ours) booted on a disk served by ``fn``."""
    from vmlab.guests import teachos
    vm = new_vm()
    dev = virtq.hosted(vm, disk_path(), fn)
    vm.boot(kernel=teachos.build().elf)
    r = vm.run(instructions=TEACHOS_BUDGET)
    vm.close_devices()
    return {"disk_lines": [line for line in vm.console_output.splitlines() if "disk" in line],
            "halted": r.reason == "halt", "needs_reset": bool(dev.status & 64),
            "failures": len(dev.failures)}


SCRATCH = L.RAM_BASE + (8 << 20)          # the injected request's buffers (unused by the guest)


def _hostile_descs(kind: str, rng: random.Random, num: int):
    """(descriptors {index: (addr, len, flags, next)}, head, avail bump) for ``kind``."""
    hdr, data, status = SCRATCH, SCRATCH + 0x1000, SCRATCH + 0x2000
    a, b, c = rng.sample(range(num), 3)
    n = 512 * rng.randrange(1, 3)
    d = {a: [hdr, 16, virtq.NEXT, b], b: [data, n, virtq.NEXT | virtq.WRITE, c],
         c: [status, 1, virtq.WRITE, 0]}
    head, bump = a, 1
    if kind == "loop":
        d[c] = [status, 1, virtq.WRITE | virtq.NEXT, a]
    elif kind == "next_outside":
        d[b][3] = num + rng.randrange(0, 60000)
    elif kind == "head_outside":
        head = num + rng.randrange(0, 60000)
    elif kind == "avail_ahead":
        bump = num + 1 + rng.randrange(0, 1000)
    elif kind == "data_outside_ram":
        d[b][0] = L.RAM_BASE + GUEST_RAM + 0x1000 * rng.randrange(0, 64)
    elif kind == "length_wraps":
        d[b][0] = (1 << 64) - 256
    elif kind == "data_into_mmio":
        d[b][0] = L.VIRTIO_BASE
    elif kind == "data_read_only":
        d[b][2] = virtq.NEXT
    elif kind == "header_writable":
        d[a][2] |= virtq.WRITE
    elif kind == "status_read_only":
        d[c][2] = 0
    elif kind == "indirect":
        d[b][2] |= virtq.INDIRECT
    return d, head, bump


def inject(vm, dev, kind: str, rng: random.Random) -> dict:
    """Write a ``kind`` request into the guest's queue, notify, and say what happened."""
    vq = dev.queue
    descs, head, bump = _hostile_descs(kind, rng, vq.num)
    mem = vm.mem
    mem.write(SCRATCH, struct.pack("<IIQ", 0, 0, rng.randrange(0, DISK_SECTORS - 2)))
    mem.write(SCRATCH + 0x2000, b"\xee")
    for i, fields in descs.items():
        mem.write(vq.desc + 16 * i, virtq.DESC.pack(*[f & m for f, m in zip(
            fields, (virtq.MASK64, 0xFFFFFFFF, 0xFFFF, 0xFFFF))]))
    idx = int.from_bytes(mem.read(vq.driver + 2, 2), "little")
    mem.write(vq.driver + 4 + 2 * (idx % vq.num), (head & 0xFFFF).to_bytes(2, "little"))
    mem.write(vq.driver + 2, ((idx + bump) & 0xFFFF).to_bytes(2, "little"))
    used_before = mem.read(vq.device, 4 + 8 * vq.num)
    guest_before, host_before = _guest_bytes(vm), _host_outside(vm)
    vm.devices.write(L.VIRTIO_BASE + 0x50, 4, 0)          # QueueNotify, as the guest would
    used_now = mem.read(vq.device, 4 + 8 * vq.num)
    published = used_now != used_before
    data = descs[_data_index(descs, head)] if head in descs else None
    return {"kind": kind, "needs_reset": bool(dev.status & 64), "crashed": len(dev.failures),
            "published": published,
            "used_len": _last_used_len(used_now, vq) if published else None,
            "status": mem.read(SCRATCH + 0x2000, 1)[0],
            "data_written": mem.read(SCRATCH + 0x1000, 1024) != bytes(1024) if data else False,
            "stray_writes": _stray(guest_before, _guest_bytes(vm), vq),
            "host_memory_changed": not np.array_equal(host_before, _host_outside(vm))}


def _data_index(descs: dict, head: int) -> int:
    return descs[head][3] if descs[head][3] in descs else head


def _last_used_len(used: bytes, vq) -> int:
    idx = int.from_bytes(used[2:4], "little")
    return struct.unpack_from("<I", used, 4 + 8 * ((idx - 1) % vq.num) + 4)[0]


def _guest_bytes(vm) -> np.ndarray:
    return np.frombuffer(vm.mem.read(L.RAM_BASE, GUEST_RAM), dtype=np.uint8).copy()


def _host_outside(vm) -> np.ndarray:
    """Host RAM in every frame this VM does not own."""
    frames = vm.hv.frames
    pages = frames.ram.reshape(-1, 4096)
    return pages[frames.owner != vm.id].copy()


def _stray(before: np.ndarray, after: np.ndarray, vq) -> bool:
    """Guest bytes changed outside the used ring, the data buffer and the status byte."""
    changed = np.nonzero(before != after)[0] + L.RAM_BASE
    allowed = ((vq.device, vq.device + 4 + 8 * vq.num), (SCRATCH + 0x1000, SCRATCH + 0x1400),
               (SCRATCH + 0x2000, SCRATCH + 0x2001))
    return any(not any(lo <= g < hi for lo, hi in allowed) for g in changed.tolist())


# ---- exits per KiB -----------------------------------------------------------------------------
def run_blockio(kind: str, sectors: int, first: int):
    """The block-I/O guest with a ``kind`` disk: (vm, its exits by handler)."""
    from vmlab.guests import blockio
    from vmlab.hv import piodisk
    vm = new_vm()
    dev = piodisk.attach(vm, disk_path(), kind)
    vm.boot(kernel=blockio.build(kind, sectors, first).elf)
    vm.run(instructions=50_000_000)
    counts = exit_counts(vm)
    dev.close()
    return vm, counts


def disk_exits_of(params) -> dict:
    """The device exits of the student's job, both ways."""
    return {f"{kind}_exits": run_blockio(kind, params["sectors"], params["first"])[1]["mmio"]
            for kind in ("pio", "virtio")}
