"""The graded exercises of lab 10 (devices, paravirtualization and virtio).

1. ``uart_exits``: a model of what teachos's 16550 driver costs -- ``uart_exits(n)``, the
   exits to print ``n`` bytes -- checked against real runs for the student's n and hidden ones.
2. ``dbcn_console``: the console ported to SBI DBCN: the student's ``console_write``
   routine, run under the hypervisor; graded by the output and by the exits dropping.
3. ``virtq_walk``: the device's descriptor-chain walker, on seeded chains and broken ones.
4. ``virtq_serve``: the whole host side of the queue, plugged into a real VM under a real
   guest driver, then fed hostile descriptors the grader injects.
5. ``disk_exits``: the same job through the register-by-register disk and through virtio,
   counted from the trace.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls, TraceNumbers
from vmlab.grading.exercise import Assignment, Case, Line
from vmlab.grading.lab10_run import HOSTILE, disk_exits_of, run_dbcn, uart_exits_of
from vmlab.hv import virtq

lab10 = Assignment("lab10", title="Lab 10 -- devices, paravirtualization and virtio")


# ---- 1. the 16550's exits per byte ---------------------------------------------------------
def _uart_cases(params, rng):
    mine = params["n"]
    return ([Case({"args": [mine]}, label=f"uart_exits({mine})")]
            + [Case({"args": [n]}, True, f"hidden case {i + 1}")
               for i, n in enumerate((0, rng.randrange(1, 40), rng.randrange(100, 400)))])


@lab10.exercise(points=4, checker=PythonCalls("uart_exits", _uart_cases,
                                              lambda p, n: uart_exits_of(n)),
                prompt="Write **`uart_exits(n)`**: how many device (mmio) exits teachos's 16550 "
                       "driver (`uart_init`, then `kwrite` of `n` bytes) makes under "
                       "trap-and-emulate. "
                       "Predict it from the driver's code first; then run it for your message of "
                       "**{n} bytes** and check. Hidden lengths are tested too.")
def uart_exits(rng):
    return {"n": rng.randrange(12, 90)}


# ---- 2. the console on SBI DBCN -------------------------------------------------------------
WORDS = ("virtio", "shadow", "exit", "trap", "hypercall", "vcpu", "ring", "notify", "guest")


class DbcnConsole:
    """The student's ``console_write`` (assembly source in a variable) run in a guest."""

    name = "console_write_src"

    def cases(self, params, hidden_rng):
        hidden = "".join(hidden_rng.choice(WORDS) + " " for _ in range(hidden_rng.randrange(30, 60)))
        return [Case({"messages": [params["message"], "\n"]}, label="your message"),
                Case({"messages": ["", hidden.strip() + "\n"]}, True, "hidden case 1")]

    def requests(self, params, cases):
        return {"source": {"kind": "value", "name": self.name}}

    def check(self, artifacts, params, cases):
        art = artifacts.get("source") or {}
        src = art.get("value")
        if not isinstance(src, str) or "console_write" not in src:
            return [Line(False, f"`{self.name}`: no assembly defining `console_write` yet",
                         weight=3 * len(cases))]
        return [line for c in cases for line in self._case(src, c)]

    @staticmethod
    def _case(src: str, case: Case) -> list[Line]:
        where, text = case.label, "".join(case.inputs["messages"])
        r = run_dbcn(src, case.inputs["messages"])
        if "error" in r:
            return [Line(False, f"{where}: {r['error']}", weight=3, hidden=case.hidden)]
        out_ok = r["console"] == text + "done\n"
        return [Line(out_ok, f"{where}: output " + ("as expected" if out_ok else
                     f"{r['console'][:60]!r}, not the message and then 'done'"), hidden=case.hidden),
                Line(out_ok and r["mmio"] == 0 and r["sbi"] == r["dbcn"],
                     f"{where}: {r['mmio']} device exits, {r['sbi'] - r['dbcn']} SBI calls other "
                     "than DBCN (DBCN needs neither)", hidden=case.hidden),
                Line(out_ok and r["sbi"] <= len(case.inputs["messages"]),
                     f"{where}: {r['sbi']} exits to print {len(case.inputs['messages'])} "
                     f"messages of {len(text)} bytes (the 16550 driver: {2 * len(text)})",
                     hidden=case.hidden)]


@lab10.exercise(points=6, checker=DbcnConsole(),
                prompt="Port the console to SBI's **debug console extension (DBCN)**: write "
                       "`console_write` in assembly (put the source in `console_write_src`): "
                       "`a0` = the address of a buffer, `a1` = its length; print the bytes with "
                       "DBCN's `console_write` (EID `0x4442434E`, FID 0) and return with every "
                       "register but `a0`-`a7` and `t0`-`t6` intact. It is run with **{message!r}** "
                       "and with hidden messages (the empty one too).")
def dbcn_console(rng):
    return {"message": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 7)))}


# ---- 3. walking a descriptor chain ------------------------------------------------------------
def _random_chain(rng, num: int) -> dict:
    """A well-formed chain of 1-4 descriptors scattered over a table of ``num``."""
    order = rng.sample(range(num), rng.randrange(1, min(4, num) + 1))
    descs = [[0, 0, 0, 0] for _ in range(num)]
    for i, idx in enumerate(order):
        last = i == len(order) - 1
        descs[idx] = [0x8010_0000 + rng.randrange(1 << 16) * 16, rng.randrange(1, 4097),
                      rng.choice((0, virtq.WRITE)) | (0 if last else virtq.NEXT),
                      0 if last else order[i + 1]]
    return {"num": num, "descs": descs, "head": order[0]}


def _broken_chain(rng, num: int, kind: str) -> dict:
    sc = _random_chain(rng, num)
    tail = sc["head"]
    while sc["descs"][tail][2] & virtq.NEXT:
        tail = sc["descs"][tail][3]
    d = sc["descs"][tail]
    if kind == "loop":
        d[2] |= virtq.NEXT
        d[3] = sc["head"]
    elif kind == "outside":
        d[2] |= virtq.NEXT
        d[3] = num + rng.randrange(0, 1000)
    else:                                   # an indirect table we never offered
        d[2] |= virtq.INDIRECT
    return sc


def _walk_cases(params, rng):
    num = params["num"]
    visible = [params["chain"], _broken_chain(rng, num, "loop"), _broken_chain(rng, num, "outside")]
    hidden = ([_random_chain(rng, 16) for _ in range(3)]
              + [_broken_chain(rng, 16, k) for k in ("loop", "outside", "indirect")]
              + [dict(_random_chain(rng, num), head=num)])          # the head itself outside
    return ([Case({"args": [s]}, label=f"chain {i + 1}") for i, s in enumerate(visible)]
            + [Case({"args": [s]}, True, f"hidden case {i + 1}") for i, s in enumerate(hidden)])


class WalkCalls(PythonCalls):
    """PythonCalls, except that refusing a broken chain earns nothing until some good chain
    is walked right (a walker that refuses everything would otherwise pass half the cases)."""

    def check(self, artifacts, params, cases):
        lines = super().check(artifacts, params, cases)
        good = [c.inputs["args"][0].get("head", 0) < c.inputs["args"][0]["num"]
                and _well_formed(c.inputs["args"][0]) for c in cases]
        if len(lines) != len(cases) or any(ok and line.ok for ok, line in zip(good, lines)):
            return lines
        return [line if ok else Line(False, line.text.split(":")[0] + ": counts once a good "
                                     "chain is walked", line.weight, line.hidden)
                for ok, line in zip(good, lines)]


def _well_formed(sc: dict) -> bool:
    try:
        virtq.walk_chain(virtq.GuestRam(_table_ram(sc)), virtq.Queue(sc["num"], TABLE, 0, 0), sc["head"])
        return True
    except virtq.QueueError:
        return False


TABLE = 0x8000_1000


def _table_ram(sc: dict):
    from vmlab.grading.lab10_run import FlatRam
    ram = FlatRam(0x8000_0000, 0x1000 + 16 * max(sc["num"], 1))
    for i, d in enumerate(sc["descs"]):
        ram.write(TABLE + 16 * i, virtq.DESC.pack(*d))
    return ram


@lab10.exercise(points=5, checker=WalkCalls("walk_chain", _walk_cases, solution=virtq.walk_chain,
                                            driver="vmlab.grading.lab10_run:drive_walk"),
                prompt="Write **`walk_chain(ram, q, head)`**: the buffers of the descriptor chain "
                       "starting at `head`, as a list of `virtq.Segment(gpa, length, writable)`; "
                       "raise `virtq.QueueError` if the chain is broken. Your queue has "
                       "**{num} entries**; read descriptors with `ram.read(q.desc + 16 * i, 16)`. "
                       "Hidden chains include broken ones of every kind.")
def virtq_walk(rng):
    num = rng.choice((4, 8, 16, 32))
    return {"num": num, "chain": _random_chain(rng, num)}


# ---- 4. the host side, against a real driver and a hostile grader ------------------------------
def _serve_cases(params, rng):
    mine = [Case({"args": [{"guest": params["guest"]}]}, label="the guest driver's reads"),
            Case({"args": [{"teachos": True}]}, label="teachos's own virtio driver")]
    kinds = list(params["visible"])
    mine += [Case({"args": [{"hostile": k, "seed": params["seed"]}]}, label=f"injected: {k}")
             for k in kinds]
    hidden = [k for k in HOSTILE if k not in kinds]
    return mine + [Case({"args": [{"hostile": k, "seed": rng.randrange(1 << 30)}]}, True,
                        f"hidden case {i + 1}") for i, k in enumerate(hidden)]


@lab10.exercise(points=10, checker=PythonCalls("serve", _serve_cases, solution=virtq.serve,
                                               driver="vmlab.grading.lab10_run:drive_serve"),
                prompt="Write **`serve(ram, q, disk)`**, the host side of a virtio-blk queue: take "
                       "every available chain, walk it, do the read (`disk.read(sector, nbytes)`), "
                       "write the status byte, publish the used entry. It is plugged into a VM "
                       "whose guest reads **{sectors} sectors from sector {first}**, into one "
                       "that boots teachos (another driver), then the "
                       "grader injects broken and hostile requests ({shown}, and hidden ones): "
                       "a broken ring must raise `virtq.QueueError`; a bad buffer must fail its "
                       "request with IOERR -- and nothing outside the request's own buffers "
                       "may change.")
def virtq_serve(rng):
    sectors, first = rng.randrange(3, 12), rng.randrange(0, 40)
    visible = sorted(rng.sample(HOSTILE, 3))
    return {"sectors": sectors, "first": first, "guest": {"sectors": sectors, "first": first},
            "visible": visible, "shown": ", ".join(visible), "seed": rng.randrange(1 << 30)}


# ---- 5. exits per KiB: register by register vs virtio ------------------------------------------
DISK_KEYS = ("pio_exits", "virtio_exits")


@lab10.exercise(points=4, checker=TraceNumbers("disk_exits", disk_exits_of, lambda p: DISK_KEYS),
                prompt="Run the block-I/O guest (`blockio.build(kind, {sectors}, {first})`) once "
                       "with the register-by-register disk and once with virtio, and fill in "
                       "`disk_exits`: the **device (mmio) exits** of each whole run. Predict them "
                       "first from the drivers' code.")
def disk_exits(rng):
    return {"sectors": rng.randrange(2, 20), "first": rng.randrange(0, 40)}

