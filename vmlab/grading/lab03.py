"""Lab 03's graded exercises: a virtual CPU of the student's own.

1. ``exit_counts``: predict, then read off the trace, the exits of a generated guest.
2. ``virtual_csrs``: the student writes the virtual S-mode CSR file -- ``read``/``write``
   with the write masks of sstatus, sie, sip, stvec, sscratch, sepc, scause, stval, satp --
   and ``sret`` and ``wfi``, as a class.  It is installed into a real VM through
   :mod:`vmlab.hv.hooks` and graded in *lockstep with bare metal*: one seeded random
   program of CSR accesses, trips to U-mode and back, traps and interrupts runs on the bare
   machine in S-mode and as a guest with the student's handlers; every register and every
   S-mode CSR must come out the same.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls, TraceNumbers
from vmlab.grading.exercise import Assignment, Case

lab03 = Assignment("lab03", title="Lab 03 -- trap and emulate")

#: the CSRs the student's handlers own: (name, number)
S_CSRS = (("sstatus", 0x100), ("sie", 0x104), ("stvec", 0x105), ("sscratch", 0x140),
          ("sepc", 0x141), ("scause", 0x142), ("stval", 0x143), ("sip", 0x144), ("satp", 0x180))
#: registers the random program computes in (s11 holds where a trap handler goes back to;
#: t3..t6 record the traps: scause, sepc, stval and a count)
POOL = tuple(range(5, 27))
CONTINUE, TRAPS = 27, 31
BUDGET = 100_000
#: a guest run stops after this many exits (the programs make a few hundred; a handler that
#: never moves the pc on makes one per instruction, and each costs a Python round trip)
MAX_EXITS = 5_000
MASK64 = (1 << 64) - 1
FORMS = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}


# ---- exits of a generated guest ----------------------------------------------------------
EXIT_KEYS = ("illegal_instruction", "supervisor_ecall", "load_page_fault", "store_page_fault")


def exit_guest_source(params) -> str:
    """A small virtual-S-mode guest: CSR accesses, SBI calls and UART accesses, in loops."""
    return f"""
        .equ UART, 0x10000000
_start: li      s0, {params['csr_loops']}
1:      csrr    t0, sscratch            # privileged: the deprivileged guest traps
        addi    t0, t0, 1
        csrw    sscratch, t0
        addi    s0, s0, -1
        bnez    s0, 1b
        li      s1, {params['sbi_calls']}
2:      li      a7, 1                   # SBI legacy console putchar
        li      a0, '.'
        ecall
        addi    s1, s1, -1
        bnez    s1, 2b
        li      t1, UART
        li      s2, {params['uart_polls']}
3:      lbu     t2, 5(t1)               # the UART's line status register
        addi    s2, s2, -1
        bnez    s2, 3b
        li      t2, '!'
        li      s3, {params['uart_writes']}
4:      sb      t2, 0(t1)               # the UART's transmit register
        addi    s3, s3, -1
        bnez    s3, 4b
        li      a7, 8                   # SBI legacy shutdown
        ecall
"""


def run_exit_guest(params) -> dict:
    """Run the guest under the hypervisor; its exit counts by cause name."""
    from vmlab.asm import assemble
    from vmlab.hv import Hypervisor
    from vmlab.isa.causes import CAUSE_BY_NAME
    program = assemble(exit_guest_source(params), 0x8000_0000, filename="exits.s")
    vm = Hypervisor().create_vm(ram_size=16 << 20)
    vm.boot(kernel=program.elf)
    vm.run(2_000_000)
    counts = vm.trace.by_cause()
    return {k: int(counts.get(CAUSE_BY_NAME[k].code, 0)) for k in EXIT_KEYS}


@lab03.exercise(points=4, checker=TraceNumbers("exit_counts", run_exit_guest, lambda p: EXIT_KEYS),
                prompt=lambda p: ("This guest runs in virtual S-mode under the hypervisor. "
                                  "**Predict** how many exits of each cause it makes, then run "
                                  "it and read the counts off the trace:\n\n```\n"
                                  + exit_guest_source(p).strip("\n") + "\n```"))
def exit_counts(rng):
    return {"csr_loops": rng.randrange(2, 9), "sbi_calls": rng.randrange(1, 6),
            "uart_polls": rng.randrange(1, 6), "uart_writes": rng.randrange(2, 8)}


# ---- the random program -------------------------------------------------------------------
def _value(rng) -> int:
    """A 64-bit operand: dense, sparse, all ones, a single bit, or with both FS bits set
    (each finds other bugs)."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.getrandbits(64)
    if kind == 1:
        return rng.getrandbits(64) & rng.getrandbits(64) & rng.getrandbits(64)
    if kind == 2:
        return MASK64
    if kind == 3:
        return 1 << rng.randrange(64)
    return rng.getrandbits(64) | 3 << 13


def _csr_operand(rng, name: str, form: str):
    """An operand that keeps the program on its rails: stvec keeps pointing at the handler
    (only its mode bits vary), satp never turns translation on (only Bare or modes this
    hart lacks, which a write must ignore)."""
    if form.endswith("i"):
        return rng.randrange(4) if name == "stvec" else rng.randrange(32)
    if name == "stvec":
        return rng.randrange(4) if form != "csrrw" else None       # None: the handler | mode
    if name == "satp":
        low = rng.getrandbits(60)
        return low if form != "csrrw" else rng.choice((0, 1, 9, 10, 15)) << 60 | low
    return _value(rng)


#: how often each CSR is picked: the ones with the most rules to get wrong, more often
CSR_WEIGHTS = (3, 1, 2, 1, 1, 1, 1, 2, 2)


def _csr_op(rng, k: int) -> list[str]:
    (name, _), = rng.choices(S_CSRS, CSR_WEIGHTS)
    forms = [f for f in FORMS if not (name == "stvec" and f == "csrrwi")]
    form = rng.choice(forms + ["csrrw"] * (2 if name == "satp" else 0))   # (satp: its modes)
    rd = rng.choice((0,) + POOL)
    operand = _csr_operand(rng, name, form)
    if form.endswith("i"):
        return [f"{form} x{rd}, {name}, {operand}"]
    src = rng.choice(POOL)
    if operand is None:
        load = [f"la x{src}, trap", f"ori x{src}, x{src}, {rng.randrange(4)}"]
    else:
        load = [f"li x{src}, {operand:#x}"]
    if form != "csrrw" and rng.random() < 0.15:
        return [f"{form} x{rd}, {name}, x0"]            # a read that writes nothing
    return load + [f"{form} x{rd}, {name}, x{src}"]


USER_ACTS = ("ecall", "csrr t0, sstatus", "wfi", "wfi", "sret", "sret", "csrw sscratch, t1")


def _to_user(rng, k: int, act: str | None = None) -> list[str]:
    """sret into U-mode code that does something U-mode may not: it traps back to vS."""
    return [f"la x{CONTINUE}, c{k}", f"la t0, u{k}", "csrw sepc, t0", "li t0, 0x100",
            "csrc sstatus, t0", "sret", f"u{k}: {act or rng.choice(USER_ACTS)}", f"j c{k}",
            f"c{k}:"]


def _to_super(rng, k: int) -> list[str]:
    """sret with SPP = S: back to S-mode at the next label (SIE from SPIE)."""
    return [f"la x{CONTINUE}, c{k}", f"la t0, c{k}", "csrw sepc, t0", "li t0, 0x100",
            "csrs sstatus, t0", "sret", f"c{k}:"]


def _wfi_pending(rng, k: int) -> list[str]:
    """wfi with an interrupt pending and enabled in sie (but SIE clear): it does not sleep."""
    return [f"la x{CONTINUE}, c{k}", "csrci sstatus, 2", "li t0, 2", "csrs sie, t0",
            "csrs sip, t0", "wfi", f"c{k}:"]


def _s_trap(rng, k: int) -> list[str]:
    """An exception in S-mode itself (a breakpoint, an M-mode CSR): SPP must say S."""
    return [f"la x{CONTINUE}, c{k}", rng.choice(("ebreak", "csrr t0, mstatus")), f"c{k}:"]


OPS = ((_csr_op, 10), (_to_user, 2), (_to_super, 1), (_wfi_pending, 1), (_s_trap, 1))


#: one program that visits every rule once (seed None): what random programs may miss
EDGES = ["li t0, -1", "csrw sstatus, t0", "csrr s0, sstatus",       # FS = 3: SD reads 1
         "csrw sip, t0", "csrr s1, sip", "csrw sip, x0",            # only SSIP is writable
         "csrw sie, t0", "csrr a1, sie", "csrw sie, x0",
         "la t1, trap", "ori t1, t1, 1", "csrw stvec, t1", "csrsi stvec, 2",   # mode 3: kept 1
         "csrr a2, stvec", "csrw stvec, t1",
         "li t1, 0x9000000000001234", "csrw satp, t1", "csrr a3, satp",  # Sv48: ignored
         "li t1, 0x8000abcd", "csrw sepc, t1", "csrr a4, sepc",          # bit 0 reads 0
         "li t1, 0x120", "csrs sstatus, t1", "csrci sstatus, 2", "la t1, e1", "csrw sepc, t1",
         "sret", "e1:", "csrr a5, sstatus",                              # SIE from SPIE
         "li t1, 0x120", "csrc sstatus, t1", "li t1, 0x100", "csrs sstatus, t1",
         "la t1, e2", "csrw sepc, t1", "sret", "e2:", "csrr a6, sstatus"]  # SPIE becomes 1


def program_source(seed: int | None, steps: int = 40, privileged: bool = True) -> str:
    """The random program ``seed`` gives: ``steps`` steps of S-mode code, then every S-mode
    CSR read into s2..s10 and an SBI shutdown (``done``).  ``privileged=False``: CSR
    accesses only (no sret, no wfi).  Seed None: the edge cases (:data:`EDGES`) first,
    then U-mode trying wfi and sret."""
    import random
    if seed is None:
        rng = random.Random(0)
        u_tries = [op for k, act in ((1, "wfi"), (2, "sret")) for op in _to_user(rng, k, act)]
        return _frame(EDGES + u_tries + ["mv t2, t6"])
    rng = random.Random(seed)
    ops = [op for op, weight in OPS for _ in range(weight) if privileged or op is _csr_op]
    body = [f"la x{CONTINUE}, c0", "la t0, trap", "csrw stvec, t0", "c0:"]
    for k in range(1, steps + 1):
        body += rng.choice(ops)(rng, k)
    reads = [f"csrr x{18 + i}, {name}" for i, (name, _) in enumerate(S_CSRS)]
    return _frame(body + reads)


def _frame(body: list[str]) -> str:
    lines = "\n".join("        " + s if not s.endswith(":") and ": " not in s else s for s in body)
    return f"""
        .globl _start
_start: li      a0, 0
        li      a1, 0
{lines}
        li      a7, 8               # SBI legacy shutdown (bare metal: a breakpoint here)
done:   ecall
        j       done

        .balign 256
trap:   j       exception           # stvec, direct mode: every trap; vectored: exceptions
        j       ssi                 # vectored mode: supervisor software interrupt (cause 1)
exception:
        csrr    t3, scause
        bltz    t3, ssi             # an interrupt (direct mode sends those here too)
        csrr    ra, sstatus         # SPP, SPIE: where the trap came from
        csrr    t4, sepc
        csrr    t5, stval
        addi    t6, t6, 1
        jr      x{CONTINUE}         # on to the step after the one that trapped
ssi:    addi    t6, t6, 0x100
        csrci   sip, 2              # acknowledge: clear SSIP
        sret
m_trap: j       m_trap              # bare metal only: a trap nobody delegated
"""


def build(source: str):
    from vmlab.asm import assemble
    return assemble(source, 0x8000_0000, march="rv64ima", filename="csr_program.s")


# ---- running it bare and as a guest ---------------------------------------------------------
def final_state(regs, csr) -> dict:
    """What must match: x1..x31 (but a0, which the guest's SBI shutdown answers) and the
    S-mode CSRs as the guest reads them (hex strings: JSON carries 64-bit values exactly)."""
    return {"regs": {f"x{i}": f"{regs(i) & MASK64:#x}" for i in range(1, 32) if i != 10},
            "csrs": {name: f"{csr(num) & MASK64:#x}" for name, num in S_CSRS}}


def run_bare(source: str) -> dict:
    """The program in S-mode on the bare machine, with M-mode set up as the hypervisor sets
    up a guest's firmware view (vmlab.hv.vm: delegation, counters, Sstc)."""
    from vmlab.hv.vm import VS_MEDELEG, VS_MIDELEG
    from vmlab.machine import Machine
    from vmlab.machine.csr import STCE
    prog = build(source)
    m = Machine(ram_size=16 << 20)
    m.load_elf(prog.elf)
    for name, value in (("medeleg", VS_MEDELEG), ("mideleg", VS_MIDELEG), ("mcounteren", 7),
                        ("menvcfg", int(STCE) & MASK64), ("mtvec", prog.symbols["m_trap"])):
        m.set_csr(name, value)
    m.priv, m.pc = 1, prog.symbols["_start"]
    m.add_breakpoint(prog.symbols["done"])
    m.add_breakpoint(prog.symbols["m_trap"])
    r = m.run(BUDGET)
    state = final_state(m.reg, m.csr)
    state["end"] = "done" if r.reason == "breakpoint" and m.pc == prog.symbols["done"] else r.reason
    return state


def install(vm, handlers) -> None:
    """Put the student's object (``read``, ``write``, ``sret``, ``wfi``) into ``vm``."""
    from vmlab.hv import hooks
    hooks.csr(vm, handlers.read, handlers.write, csrs=[num for _, num in S_CSRS])
    hooks.instruction(vm, "sret", handlers.sret)
    hooks.instruction(vm, "wfi", handlers.wfi)


def run_guest(source: str, handlers) -> dict:
    """The same program as a guest in virtual S-mode, with ``handlers`` installed."""
    from vmlab.hv import Hypervisor
    from vmlab.machine import Machine
    prog = build(source)
    vm = Hypervisor(Machine(ram_size=32 << 20)).create_vm(ram_size=16 << 20)
    vm.boot(kernel=prog.elf)
    if handlers is not None:
        install(vm, handlers)
    r = run_bounded(vm, BUDGET)
    v = vm.vcpus[0]
    state = final_state(v.reg, v.csr)
    state["end"] = "done" if r.reason == "halt" else r.reason
    return state


def run_bounded(vm, instructions: int, chunk: int = 20_000, max_exits: int = MAX_EXITS):
    """vm.run(instructions), in chunks, giving up after ``max_exits`` exits (reason
    "too many exits"): a broken handler must not keep the grader busy for minutes."""
    from vmlab.hv.trace import EXIT
    done = 0
    while True:
        r = vm.run(min(chunk, instructions - done))
        done += r.instructions
        if r.reason != "budget" or done >= instructions:
            return r
        if vm.trace.count(EXIT) > max_exits:
            r.reason = "too many exits"
            return r


def drive_lockstep(cls, seed: int, steps: int, privileged: bool) -> dict:
    """The driver (runs in the student's process): their class on program ``seed``."""
    from vmlab.hv.hooks import HookError
    try:
        return run_guest(program_source(seed, steps, privileged), cls())
    except HookError as exc:
        return {"error": str(exc)}


def differences(got: dict, want: dict) -> list[str]:
    """What differs between two final states, CSRs first (names only, in order)."""
    if "error" in got:
        return [got["error"]]
    out = []
    if got.get("end") != want.get("end"):
        out.append(f"the guest ended with {got.get('end')!r}, bare metal reached `done`")
    out += [f"{n} = {got['csrs'].get(n)}" for n in want["csrs"] if got["csrs"].get(n) != want["csrs"][n]]
    out += [f"{r} = {got['regs'].get(r)}" for r in want["regs"] if got["regs"].get(r) != want["regs"][r]]
    return out


class Lockstep(PythonCalls):
    """PythonCalls whose expected value is the bare machine's run of the same program, and
    whose feedback names what differs (the guest's values, never bare metal's)."""

    def __init__(self, name: str, scenarios):
        super().__init__(name, scenarios, reference=lambda p, seed, steps, priv: run_bare(
            program_source(seed, steps, priv)), driver="vmlab.grading.lab03:drive_lockstep")

    def _line(self, case, result, params):
        from vmlab.grading.exercise import Line
        where = case.label
        if not result.get("ok"):
            return Line(False, f"{where}: raised {result.get('error')}", hidden=case.hidden)
        got = result.get("value") or {}
        if "error" in got:
            return Line(False, f"{where}: {got['error']}", hidden=case.hidden)
        diff = differences(got, self.expected(params, case.inputs["args"]))
        if not diff:
            return Line(True, f"{where}: every register and S-mode CSR as on bare metal",
                        hidden=case.hidden)
        more = f" (and {len(diff) - 3} more)" if len(diff) > 3 else ""
        return Line(False, f"{where}: differs from bare metal: {'; '.join(diff[:3])}{more}",
                    hidden=case.hidden)


def _program_cases(params, rng):
    visible = [Case({"args": [params["csr_seed"], 30, False]}, label="CSR program"),
               Case({"args": [params["priv_seed"], 30, True]}, label="program with sret/wfi/traps")]
    hidden = [Case({"args": [None, 0, True]}, True, "hidden edge cases")]
    hidden += [Case({"args": [rng.getrandbits(32), 40, i > 0]}, True, f"hidden program {i + 1}")
               for i in range(3)]
    return visible + hidden


@lab03.exercise(points=12, checker=Lockstep("VirtualCsrs", _program_cases),
                prompt="Write the class **`VirtualCsrs`** with `read(hart, csr)`, `write(hart, csr, "
                       "value)`, `sret(hart)` and `wfi(hart)`: the virtual S-mode CSR file of "
                       "sstatus, sie, sip, stvec, sscratch, sepc, scause, stval and satp, with "
                       "their write masks. It is graded in lockstep with bare metal: your "
                       "programs are seeds **{csr_seed}** (CSR accesses only) and "
                       "**{priv_seed}** (with sret, wfi, traps and interrupts) -- "
                       "`lab03.program_source(seed, 30, privileged)` -- and hidden ones.")
def virtual_csrs(rng):
    return {"csr_seed": rng.getrandbits(32), "priv_seed": rng.getrandbits(32)}
