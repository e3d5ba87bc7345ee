"""The graded exercises of lab 11 (isolation, security and performance).

1. ``escape_load``: a guest that tries to read another VM's memory with plain loads (the
   shadow pager maps what the guest names); ``escape_read``: the same through the SBI debug
   console (a guest pointer the hypervisor reads for it).
2. ``escape_dma``: a guest that tries to overwrite another VM's memory by virtio DMA.
   Each attempt runs twice: on a seeded *flawed* hypervisor (:mod:`vmlab.grading.lab11_run`)
   it must succeed -- so it is a real attempt -- and on the real one it must fail.
3. ``nanobench_predict``: exits per operation of seeded nanobenchmark rows, predicted, then
   compared with ``vmlab nanobench``.
4. ``exit_time_share``: from a trace, each exit kind's share of the time exits cost, and
   where to optimize first.
"""
from __future__ import annotations

import re

from vmlab.grading.checkers import TraceNumbers
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.grading.lab11_run import attack, study_trace, time_shares

lab11 = Assignment("lab11", title="Lab 11 -- isolation, security and performance")

#: what every escape program may call (and must not redefine): a one-sector virtio read
#: into any buffer, and power-off
ESCAPE_LIB = r"""
        .equ VIRTIO0, 0x10001000
vio_read:                               # a0 = buffer gpa (512 bytes), a1 = sector -> a0 = status
        li      t0, VIRTIO0
        sw      zero, 0x070(t0)         # reset
        li      t1, 3
        sw      t1, 0x070(t0)
        li      t1, 1
        sw      t1, 0x024(t0)
        sw      t1, 0x020(t0)           # VIRTIO_F_VERSION_1
        li      t1, 11
        sw      t1, 0x070(t0)
        sw      zero, 0x030(t0)
        li      t1, 4
        sw      t1, 0x038(t0)           # a queue of 4
        la      t2, lib_vq
        sw      t2, 0x080(t0)
        srli    t3, t2, 32
        sw      t3, 0x084(t0)
        addi    t3, t2, 256
        sw      t3, 0x090(t0)
        srli    t3, t3, 32
        sw      t3, 0x094(t0)
        addi    t3, t2, 512
        sw      t3, 0x0a0(t0)
        srli    t3, t3, 32
        sw      t3, 0x0a4(t0)
        li      t1, 1
        sw      t1, 0x044(t0)
        li      t1, 15
        sw      t1, 0x070(t0)           # DRIVER_OK
        la      t3, lib_hdr
        sd      zero, 0(t3)
        sd      a1, 8(t3)
        sd      t3, 0(t2)               # desc 0: the header
        li      t1, 16
        sw      t1, 8(t2)
        li      t1, 0x00010001          # flags NEXT, next 1
        sw      t1, 12(t2)
        sd      a0, 16(t2)              # desc 1: the buffer the device writes
        li      t1, 512
        sw      t1, 24(t2)
        li      t1, 0x00020003          # flags NEXT|WRITE, next 2
        sw      t1, 28(t2)
        la      t3, lib_status
        li      t1, 0xff
        sb      t1, 0(t3)
        sd      t3, 32(t2)              # desc 2: the status byte
        li      t1, 1
        sw      t1, 40(t2)
        li      t1, 2                   # flags WRITE
        sw      t1, 44(t2)
        sh      zero, 260(t2)           # avail.ring[0] = 0
        li      t1, 1
        fence   rw, w
        sh      t1, 258(t2)             # avail.idx = 1
        fence   w, o
        sw      zero, 0x050(t0)         # notify
        li      t4, 100000
1:      lhu     t1, 514(t2)             # used.idx
        bnez    t1, 2f
        addi    t4, t4, -1
        bnez    t4, 1b
2:      lbu     a0, 0(t3)
        ret
shutdown:
        li      a7, 0x53525354
        li      a6, 0
        li      a0, 0
        li      a1, 0
        ecall
1:      j       1b
        .bss
        .balign 4096
lib_vq:         .skip 4096
lib_hdr:        .skip 16
lib_status:     .skip 8
        .balign 16
        .skip 4096
stack_top:
        .text
"""


class EscapeAttempt:
    """The student's guest (assembly in a variable), run on the flawed and the real hypervisor."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path

    def cases(self, params, hidden_rng):
        return [Case({}, label="your attempt")]

    def requests(self, params, cases):
        return {"source": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        src = (artifacts.get("source") or {}).get("value")
        if not isinstance(src, str) or "_start" not in src:
            return [Line(False, f"`{self.name}`: no program with a `_start` yet", weight=3)]
        try:
            elf = _assemble(src)
        except Exception as exc:   # noqa: BLE001 - the student's source
            return [Line(False, f"`{self.name}` does not assemble: {str(exc).splitlines()[0][:120]}",
                         weight=3)]
        flawed, real = (self._run(elf, params, f) for f in (True, False))
        worked = flawed["leaked"] or flawed["overwritten"]
        stopped = not (real["leaked"] or real["overwritten"])
        return [Line(worked, "on the flawed hypervisor: " + (
                    "the attempt reached the other VM" if worked else
                    "the other VM's memory was neither read nor changed -- not yet a real attempt")),
                Line(worked and stopped, "on the real hypervisor: " + (
                    "stopped" if stopped else "the attempt got through!") + (
                    "" if worked else " (counts once the attempt is real)")),
                Line(worked and real["reason"] == "halt", f"on the real hypervisor the guest "
                     f"ended with {real['reason']!r} (it should power off through SBI)", weight=0.5)]

    def _run(self, elf, params, flawed):
        from vmlab.grading.lab10_run import disk_path
        disk = disk_path() if self.path == "dma" else None
        return attack(elf, params, self.path, flawed, disk)


#: runs first: a trap vector that reports the trap and powers off (on the real hypervisor
#: an escape attempt usually ends in an access fault, reflected into the guest's kernel)
PROLOGUE = r"""
        .text
        .globl _start
_start: la      t0, lib_trap
        csrw    stvec, t0
        la      sp, stack_top
        j       escape_start
        .balign 4
lib_trap:
        li      a0, '!'
        li      a7, 1
        ecall
        j       shutdown
"""


def _assemble(src: str) -> bytes:
    """The student's program (its ``_start`` renamed) between the prologue and the library."""
    from vmlab.asm import assemble
    body = re.sub(r"\b_start\b", "escape_start", src)
    return assemble(PROLOGUE + body + "\n" + ESCAPE_LIB, filename="escape.s").elf


def _escape_params(rng) -> dict:
    ram = rng.choice((4, 6, 8, 12)) << 20
    words = ("orchid", "basalt", "quartz", "lichen", "fjord", "cobalt", "ember", "tundra")
    return {"ram": ram, "ram_end": 0x8000_0000 + ram, "ram_mib": ram >> 20,
            "secret_gpa": 0x8000_0000 + rng.randrange(0x10, 0x300) * 0x1000 + rng.randrange(0, 64) * 8,
            "secret": f"{rng.choice(words)}-{rng.randrange(10**5, 10**6)}"}


#: what the two read attempts share: the student's RAM and where the other VM's secret is
_SECRET_SCENE = ("Your guest's RAM is gpa `0x80000000` up to **{ram_end:#x}** ({ram_mib} MiB); "
                 "another VM keeps a secret of {secret_len} bytes at *its* guest-physical "
                 "address **{secret_gpa:#x}**. ")


def _secret_params(rng) -> dict:
    p = _escape_params(rng)
    return dict(p, secret_len=len(p["secret"]))


@lab11.exercise(points=5, checker=EscapeAttempt("escape_load_src", "shadow"),
                prompt=_SECRET_SCENE + "A flawed shadow pager "
                       "checks the gpa of a guest access against its whole RAM block, where that "
                       "VM's RAM follows yours. Write a guest (`escape_load_src`: `_start`, ending "
                       "with `j shutdown`) that tries to read the secret with plain loads (paging "
                       "off: gva = gpa) and print it (SBI putchar). It must work on the flawed "
                       "hypervisor and fail on the real one.")
def escape_load(rng):
    return _secret_params(rng)


@lab11.exercise(points=5, checker=EscapeAttempt("escape_read_src", "dbcn"),
                prompt=_SECRET_SCENE + "A flawed hypervisor checks SBI pointers against its "
                       "whole RAM block, where that VM's RAM follows yours. Write a guest "
                       "(`escape_read_src`: `_start`, ending with `j shutdown`) that tries to "
                       "print the secret with DBCN `console_write`. It must work on the flawed "
                       "hypervisor and fail on the real one.")
def escape_read(rng):
    return _secret_params(rng)


@lab11.exercise(points=5, checker=EscapeAttempt("escape_dma_src", "dma"),
                prompt="Your guest's RAM is gpa `0x80000000` up to **{ram_end:#x}** "
                       "({ram_mib} MiB); another VM keeps data at its guest-physical address "
                       "**{secret_gpa:#x}**. A flawed virtio "
                       "disk checks DMA addresses against the hypervisor's whole RAM block, where "
                       "that VM's RAM follows yours. Write a guest (`escape_dma_src`) that tries "
                       "to overwrite that data with a sector of the disk, using the provided "
                       "`vio_read` (a0 = buffer, a1 = sector; `la sp, stack_top` first). It must "
                       "work on the flawed hypervisor and fail on the real one.")
def escape_dma(rng):
    return _escape_params(rng)


# ---- the nanobenchmark table, predicted ------------------------------------------------------
#: rows whose exits per operation are whole numbers (the batched rows' fills are not)
NANO_ROWS = (("syscall", "sfence"), ("mmio", "sfence"), ("csrwr", "sfence"), ("callret", "sfence"),
             ("pgfault", "sfence"), ("illegal", "sfence"), ("ptemod", "sfence"),
             ("ptemod", "write-protect"), ("console-uart", "sfence"), ("timer-sbi", "sfence"),
             ("console-sbi", "sfence"), ("divzero", "sfence"))


def nano_truth(params) -> dict:
    """Exits per operation of the student's rows, measured (rounded to whole exits)."""
    from vmlab.bench import nanobench
    return {f"{name} @ {tech}": round(nanobench.measure(name, tech, 8).exits)
            for name, tech in params["rows"]}


@lab11.exercise(points=4, checker=TraceNumbers("nano_predictions", nano_truth,
                                               lambda p: [f"{n} @ {t}" for n, t in p["rows"]]),
                prompt=lambda p: ("**Predict**, then measure: the exits per operation of these "
                                  "nanobenchmark rows (`nanobench.measure(name, technique, 8)`), "
                                  "as whole numbers in `nano_predictions`: "
                                  + ", ".join(f"`{n} @ {t}`" for n, t in p["rows"])))
def nanobench_predict(rng):
    return {"rows": [list(r) for r in rng.sample(NANO_ROWS, 4)]}


# ---- a performance study from a trace --------------------------------------------------------
class TimeShares:
    """The student's percentages per exit handler, within half a point, and their choice."""

    name = "exit_shares"

    def cases(self, params, hidden_rng):
        return [Case({}, label="shares"), Case({}, label="optimize first")]

    def requests(self, params, cases):
        return {"answers": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        got = (artifacts.get("answers") or {}).get("value")
        if not isinstance(got, dict):
            return [Line(False, f"`{self.name}`: not a dict yet", weight=2)]
        truth = time_shares(study_trace(params))
        shares = got.get("shares") if isinstance(got.get("shares"), dict) else {}
        wrong = [k for k in truth if not _close(shares.get(k), truth[k])]
        extra = [k for k in shares if k not in truth]
        top = max(truth, key=truth.get)
        return [Line(not wrong and not extra, "shares: " + (
                    "all within half a point" if not wrong and not extra else
                    f"{', '.join(wrong + extra)} do not match the trace")),
                Line(got.get("optimize") == top, f"optimize first: {got.get('optimize')!r}" + (
                    "" if got.get("optimize") == top else " is not where the exits' time goes"))]


def _close(got, want: float) -> bool:
    return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - want) <= 0.5


@lab11.exercise(points=5, checker=TimeShares(),
                prompt="Run the study guest with **your parameters** "
                       "(`lab11_run.study_trace(P)`) and, from its trace alone "
                       "(`vm.trace.records(EXIT)`: each record's `handler` and `cost`), fill in "
                       "`exit_shares`: `shares`, the percent of the exits' total cost each "
                       "handler takes, and `optimize`, the handler to make cheaper first.")
def exit_time_share(rng):
    return {"csr_loops": rng.randrange(15, 60), "sbi_calls": rng.randrange(5, 60),
            "uart_polls": rng.randrange(10, 45), "uart_writes": rng.randrange(10, 45)}
