"""The graded exercises of lab 07 (Popek and Goldberg, binary translation).

1. ``sensitive``: write the translator's test -- which instruction words read a given CSR
   without writing it (each student gets their own CSR), checked on visible and hidden words.
2. ``popek_numbers``: run the Popek-Goldberg guest with your own key three ways and read
   the results off the console and the trace: what trap-and-emulate on the quirky hart
   answers, how many CSR exits it took, and how many reads the translator emulated.
"""
from __future__ import annotations

from vmlab.grading.checkers import PythonCalls, TraceNumbers
from vmlab.grading.exercise import Assignment, Case

lab07 = Assignment("lab07", title="Lab 07 -- Popek and Goldberg")

#: CSRs a student may get: (name, number)
READ_CSRS = (("sstatus", 0x100), ("sie", 0x104), ("sscratch", 0x140), ("sip", 0x144),
             ("satp", 0x180))
SYSTEM = 0x73


def csr_word(f3: int, rd: int, rs1: int, csr: int) -> int:
    """A Zicsr instruction: csr[31:20] rs1/uimm[19:15] funct3 rd opcode SYSTEM."""
    return (csr << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | SYSTEM


def reads_without_writing(params, word: int) -> bool:
    """The reference: csrrs/csrrc with rs1 = x0, or csrrsi/csrrci with uimm = 0, of the CSR."""
    f3, rs1 = (word >> 12) & 7, (word >> 15) & 31
    return (word & 0x7F == SYSTEM and word >> 20 == params["csr"] and f3 in (2, 3, 6, 7)
            and rs1 == 0)


def _sensitive_cases(params, rng):
    csr = params["csr"]
    visible = [csr_word(2, 10, 0, csr), csr_word(1, 0, 10, csr), csr_word(2, 10, 0, 0x141),
               csr_word(7, 5, 0, csr), 0x00000013]
    other = [c for _, c in READ_CSRS if c != csr]
    hidden = [csr_word(rng.randrange(8), rng.randrange(32), rng.choice((0, 0, rng.randrange(32))),
                       rng.choice((csr, csr, rng.choice(other)))) for _ in range(12)]
    return ([Case({"args": [w]}, label=f"{w:#010x}") for w in visible]
            + [Case({"args": [w]}, True, f"hidden case {i + 1}") for i, w in enumerate(hidden)])


@lab07.exercise(points=4, checker=PythonCalls("sensitive", _sensitive_cases, reads_without_writing),
                prompt="Write **`sensitive(word)`**: True exactly when the 32-bit instruction "
                       "`word` *reads* CSR **{name}** (number `{csr:#x}`) *without writing* it "
                       "(`{example:#010x}` is one) "
                       "-- the instructions a hart with the quirk would let U-mode run. "
                       "Remember which Zicsr forms write nothing: `csrrs`/`csrrc` with "
                       "`rs1 = x0`, and `csrrsi`/`csrrci` with `uimm = 0`.")
def sensitive(rng):
    name, csr = rng.choice(READ_CSRS)
    return {"name": name, "csr": csr,
            "example": csr_word(rng.choice((2, 3, 6, 7)), rng.randrange(1, 32), 0, csr)}


NUMBER_KEYS = ("answer_trap_and_emulate", "csr_exits_with_quirk", "bt_emulated")


def run_popek_three_ways(params) -> dict:
    """The true numbers for the student's key (the grader runs the guest itself)."""
    from vmlab.hv import translate
    from vmlab.hv.vm import Hypervisor
    from vmlab.guests import popek
    from vmlab.machine import Machine
    prog = popek.build(params["key"], params["bits"])
    results = {}
    for bt in (False, True):
        hv = Hypervisor(Machine(ram_size=32 << 20))
        vm = hv.create_vm(ram_size=8 << 20)
        translate.set_sensitive_read(hv.machine, True)
        tr = translate.attach(vm) if bt else None
        vm.boot(kernel=prog.elf)
        vm.vcpus[0].set_pc(prog.symbols["s_start"])
        vm.run(instructions=10_000_000)
        if bt:
            results["bt_emulated"] = tr.counters["emulated"]
        else:
            results["answer_trap_and_emulate"] = vm.mem.read64(prog.symbols["answer"])
            results["csr_exits_with_quirk"] = vm.trace.handler_counts["csr"]
    return results


@lab07.exercise(points=3, checker=TraceNumbers("popek_numbers", run_popek_three_ways,
                                               lambda p: NUMBER_KEYS),
                prompt="Build the Popek-Goldberg guest with **your key `{key:#x}` of {bits} "
                       "bits** (`popek.build({key:#x}, {bits})`) and run it on the quirky hart under "
                       "trap-and-emulate, then with the binary translator. Fill in "
                       "`popek_numbers`: the answer trap-and-emulate computes, how many `csr` "
                       "exits that run took, and how many reads the translator emulated.")
def popek_numbers(rng):
    bits = rng.randrange(8, 33)
    return {"key": rng.randrange(1 << (bits - 1), 1 << bits), "bits": bits}
