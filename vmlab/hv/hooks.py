"""Student hooks: replace one of the hypervisor's handlers, for one VM, with your own function.

A lab can hand one part of the hypervisor to the student while everything else keeps
running: the student's function is called exactly where vmlab's own handler would have been,
on the same exit, and the guest goes on with whatever it did::

    from vmlab.hv import hooks

    hooks.csr(vm, read=my_read, write=my_write, csrs=("sstatus", "sie"))   # CSR emulation
    hooks.instruction(vm, "sret", my_sret)        # sret / wfi / mret on the virtual hart
    hooks.reflect(vm, my_reflect)                 # delivering a trap into the guest
    hooks.sbi(vm, my_sbi)                         # answering the guest's SBI calls
    hooks.device(vm, 0x1000_1000, 0x100, read=dev_read, write=dev_write)
    hooks.shadow_fill(vm, my_fill)                # the shadow pager's fill (lab 09)

Where they plug in: :func:`vmlab.hv.exits.dispatch` takes its handlers from the VM's own
table (``vm.exit_handlers``), :func:`vmlab.hv.csr_emul.dispatch` from ``vm.system_handlers``,
an SBI call goes to ``vm.sbi_call`` and :func:`vmlab.hv.exit_types.reflect` to
``vm.deliver_trap`` when the VM has them -- a VM without hooks has none and runs vmlab's own.
The shadow pager's fill has its own seam, ``ShadowPaging.set_fill`` (vmlab.hv.shadow_fill):
:func:`shadow_fill` hands it over when this vmlab's pager has it.

Student functions see the virtual hart through :class:`VirtualHart`: CSR *storage* by name
(``hart["mstatus"]``), ``hart.pc``, ``hart.priv``, ``hart.reg(i)`` -- plain unsigned ints.
A hooked VM takes every exit in Python (the compiled fast path would skip the student's
code).  A student function that raises, or hands back something that is not a 64-bit
value, stops the run with a :class:`HookError`: one line naming the function and where the
guest was -- the VM stays as it was, to be inspected, and the kernel lives on.
"""
from __future__ import annotations

import types

from vmlab.hv import csr_emul, exits, sbi as sbi_mod
from vmlab.hv.exit_types import Exit
from vmlab.machine import layout as L
from vmlab.machine.bits import MASK64, i64, u64
from vmlab.machine.csr import csr_allowed
from vmlab.machine.names import csr_number

#: the instructions :func:`instruction` may hand to a student
INSTRUCTIONS = ("sret", "wfi", "mret")


class HookError(Exception):
    """A student's hook function failed; the message is one line naming it.  (Shown in a
    notebook without a traceback: IPython asks ``_render_traceback_`` for the lines.)"""

    def _render_traceback_(self):
        return [f"HookError: {self}"]


class IllegalInstruction(Exception):
    """Raise it from a hook: the guest may not do this here (the hook layer then reflects an
    illegal-instruction trap into the guest, as the hardware would have raised it)."""


# ---- what a student function sees ---------------------------------------------------------------
class VirtualHart:
    """The vCPU's virtual hart as plain unsigned 64-bit ints.

    ``hart["sepc"]`` is the CSR's *storage*: sstatus, sie and sip have none of their own
    (they are windows onto mstatus, mie and mip, which your handler computes).  Reading
    ``hart["mip"]`` includes the bits the virtual devices drive (a timer, the PLIC); writing
    it leaves those device-driven bits as the devices set them.
    """

    def __init__(self, vcpu):
        self.vcpu = vcpu
        self._row = vcpu.row

    def __getitem__(self, csr) -> int:
        num = csr_number(csr)
        if num == L.MIP:
            return u64(self._row[L.MIP] | self._row[L.HWIP])
        return u64(self._row[num])

    def __setitem__(self, csr, value) -> None:
        num = csr_number(csr)
        value = _u64(value, f"the value written to {csr!r}")
        if num == L.MIP:
            driven = u64(self._row[L.HWIP])
            value = (value & ~driven) | (u64(self._row[L.MIP]) & driven)
        self._row[num] = i64(value)

    @property
    def pc(self) -> int:
        return self.vcpu.pc

    @pc.setter
    def pc(self, gva) -> None:
        self.vcpu.set_pc(_u64(gva, "pc"))

    @property
    def priv(self) -> int:
        """The virtual privilege: 0 U, 1 S, 3 M."""
        return self.vcpu.priv

    @priv.setter
    def priv(self, mode) -> None:
        if mode not in (L.PRIV_U, L.PRIV_S, L.PRIV_M) or isinstance(mode, bool):
            raise ValueError(f"priv must be 0 (U), 1 (S) or 3 (M), not {mode!r}")
        self._row[L.PRIV] = mode

    def reg(self, i: int) -> int:
        return self.vcpu.reg(i)

    def set_reg(self, i: int, value) -> None:
        self.vcpu.set_reg(i, _u64(value, f"x{i}"))

    @property
    def pending(self) -> bool:
        """Is an interrupt pending *and* enabled in mie (what wakes a wfi)?"""
        self.vcpu.update_lines()
        return bool((self._row[L.MIP] | self._row[L.HWIP]) & self._row[L.MIE])

    @property
    def waiting(self) -> bool:
        return bool(self._row[L.WAITING])

    @waiting.setter
    def waiting(self, flag) -> None:
        self._row[L.WAITING] = 1 if flag else 0

    # --- what firmware does for a kernel (the tools of an SBI hook) ---------------------------
    def console_write(self, data: bytes) -> None:
        """Print on the VM's console (as OpenSBI prints on its UART)."""
        self.vcpu.vm.devices.print_bytes(bytes(data))

    def read_physical(self, gpa: int, n: int) -> bytes:
        """``n`` bytes of guest-physical memory (ValueError outside the guest's RAM)."""
        mem = self.vcpu.vm.mem
        if n < 0 or not mem.contains(_u64(gpa, "gpa"), max(n, 1)):
            raise ValueError(f"{n} bytes at gpa {gpa:#x} are not guest RAM")
        return mem.read(gpa, n)

    def set_timer(self, mtime: int) -> None:
        """Raise the virtual timer interrupt (STIP) once ``time`` reaches ``mtime``; clears
        a pending one (what SBI set_timer promises)."""
        sbi_mod.set_timer(self.vcpu, _u64(mtime, "the timer value"))

    def shutdown(self, failure: bool = False) -> None:
        """Power the VM off: its run ends with reason "halt"."""
        self.vcpu.vm.stop("halt", int(bool(failure)))

    def reboot(self) -> None:
        self.vcpu.vm.stop("reset", 0)

    def __repr__(self) -> str:
        return f"<VirtualHart of {self.vcpu!r}>"


def _u64(value, what: str) -> int:
    """A value a student hands back: a whole number that fits in 64 bits (negative ones are
    taken as their two's-complement pattern, as a register holds them)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} is {type(value).__name__} {value!r:.40}, not a whole number")
    value = int(value)
    if not -(1 << 63) <= value <= MASK64:
        raise ValueError(f"{what} = {value:#x} does not fit in 64 bits")
    return value & MASK64


def _call(fn, vcpu, ex: Exit | None, what: str, *args):
    """Run a student function; anything it raises becomes one HookError line."""
    try:
        return fn(*args)
    except IllegalInstruction:
        raise
    except Exception as exc:
        where = f" at guest pc {ex.pc:#x}" if ex is not None else ""
        detail = str(exc).splitlines()[0] if str(exc) else "no detail"
        raise HookError(f"your function {_name(fn)} raised {type(exc).__name__} ({detail}) "
                        f"while {what} for VM {vcpu.vm.id}{where}") from None


def _name(fn) -> str:
    """``VirtualCsrs.read``, as the student wrote it (without ``f.<locals>.`` in front)."""
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return name.rsplit("<locals>.", 1)[-1]


# ---- the per-VM tables ----------------------------------------------------------------------
def _tables(vm):
    """The VM's own copies of the handler tables (made on the first hook).  A hooked VM
    takes every exit in Python, and its run reports a failed hook as one line."""
    if getattr(vm, "exit_handlers", None) is None:
        vm.exit_handlers = dict(exits.HANDLERS)
        vm.system_handlers = dict(csr_emul.SYSTEM_HANDLERS)
        vm.fast_exits = False
        vm.run = types.MethodType(_run_reporting, vm)
    return vm


def _run_reporting(vm, *args, **kwargs):
    """VM.run; a HookError comes out as itself, not wrapped as a vmlab defect (the vCPU
    turns any handler's exception into an InternalError naming where the guest was)."""
    try:
        return type(vm).run(vm, *args, **kwargs)
    except Exception as exc:
        cause = exc.__cause__
        if isinstance(cause, HookError) or type(cause).__name__ == "FillError":
            raise HookError(str(cause)) from None
        raise


def remove(vm) -> None:
    """Take every hook off ``vm``: vmlab's own handlers again (the fast path stays off)."""
    for name in ("exit_handlers", "system_handlers", "sbi_call", "deliver_trap", "run"):
        vm.__dict__.pop(name, None)


def hooked(vm) -> bool:
    return getattr(vm, "exit_handlers", None) is not None


# ---- CSR emulation -------------------------------------------------------------------------
def csr(vm, read, write, csrs=None) -> None:
    """csrrw/csrrs/csrrc (and the immediate forms) on the CSRs ``csrs`` (names or numbers;
    None: every CSR) go to ``read(hart, number) -> value`` and ``write(hart, number, value)``.

    The hook layer decodes the instruction and checks that the virtual mode may access the
    CSR (else an illegal instruction is reflected); your functions decide the values: what
    a read returns, what a write keeps (the write masks).  A write is ``read``, then combine
    (set or clear bits for csrrs/csrrc), then ``write`` -- as the hardware does it."""
    nums = None if csrs is None else frozenset(csr_number(c) for c in csrs)
    _tables(vm).system_handlers["csr"] = lambda vcpu, ex: _csr_exit(vcpu, ex, read, write, nums)


def _csr_exit(vcpu, ex: Exit, read, write, nums) -> str:
    w = ex.insn
    num = w >> 20
    if nums is not None and num not in nums:
        return csr_emul.emulate_csr(vcpu, ex)
    f3, rd, rs1 = (w >> 12) & 7, (w >> 7) & 31, (w >> 15) & 31
    kind = f3 & 3                               # 1 write, 2 set bits, 3 clear bits
    writes = kind == 1 or rs1 != 0
    if not csr_allowed(vcpu.row, i64(num), writes):
        return exits.reflect(vcpu, ex, L.CAUSE_ILLEGAL, w)
    src = vcpu.reg(rs1) if f3 < 4 else rs1
    if num in csr_emul.LINE_CSRS:
        vcpu.update_lines()
    hart, name = VirtualHart(vcpu), f"CSR {num:#x}"
    old = 0
    if kind != 1 or rd != 0:                    # csrrw with rd=x0 does not read
        old = _checked(read, vcpu, ex, f"reading {name}", hart, num)
    if writes:
        new = src if kind == 1 else (old | src if kind == 2 else old & ~src & MASK64)
        _call(write, vcpu, ex, f"writing {name}", hart, num, new)
    vcpu.set_reg(rd, old)
    vcpu.set_pc(ex.pc + 4)
    return "csr"


def _checked(fn, vcpu, ex, what: str, *args) -> int:
    """A student function's return value, which must be a 64-bit value."""
    return _returned(fn, _call(fn, vcpu, ex, what, *args), vcpu, what)


def _returned(fn, value, vcpu, what: str) -> int:
    try:
        return _u64(value, "the value returned")
    except (TypeError, ValueError) as exc:
        raise HookError(f"your function {_name(fn)} returned a bad value while {what} for "
                        f"VM {vcpu.vm.id} at guest pc {vcpu.pc:#x}: {exc}") from None


# ---- privileged instructions ----------------------------------------------------------------
def instruction(vm, name: str, fn) -> None:
    """``sret``, ``wfi`` or ``mret`` (whatever the guest's mode) goes to ``fn(hart)``: it
    changes the virtual hart as the instruction would (pc, priv, mstatus, ``hart.waiting``)
    or raises :class:`IllegalInstruction` when the guest's mode may not execute it."""
    if name not in INSTRUCTIONS:
        raise ValueError(f"instruction hooks exist for {', '.join(INSTRUCTIONS)}, not {name!r}")
    _tables(vm).system_handlers[name] = lambda vcpu, ex: _priv_exit(vcpu, ex, name, fn)


def _priv_exit(vcpu, ex: Exit, name: str, fn) -> str:
    try:
        _call(fn, vcpu, ex, f"emulating {name}", VirtualHart(vcpu))
    except IllegalInstruction:
        vcpu.set_pc(ex.pc)
        return exits.reflect(vcpu, ex, L.CAUSE_ILLEGAL, ex.insn)
    return name


# ---- trap reflection ------------------------------------------------------------------------
def reflect(vm, fn) -> None:
    """Every trap the hypervisor reflects into the guest goes to ``fn(hart, cause, tval)``,
    with ``hart.pc`` at the trapping instruction: deliver it as the hardware would (which
    mode takes it, xepc/xcause/xtval, the status stack, the new pc).  Virtual interrupts
    are still injected by vmlab."""
    _tables(vm).deliver_trap = lambda vcpu, ex, cause, tval: _deliver(vcpu, ex, fn, cause, tval)


def _deliver(vcpu, ex: Exit, fn, cause: int, tval: int) -> None:
    _call(fn, vcpu, ex, f"reflecting cause {cause}", VirtualHart(vcpu), cause, tval & MASK64)


# ---- SBI ------------------------------------------------------------------------------------
def sbi(vm, fn, extensions=None) -> None:
    """The guest's SBI calls (``ecall`` from virtual S-mode, when the hypervisor is its
    firmware) go to ``fn(hart, eid, fid, args) -> (error, value)``: ``args`` are a0..a5.
    ``extensions`` (ids) limits it to those; the others stay vmlab's.  A legacy call (eid
    0..8) returns its one result as the error word, as the legacy convention has it."""
    wanted = None if extensions is None else frozenset(extensions)
    _tables(vm).sbi_call = lambda vcpu: _sbi_call(vcpu, fn, wanted)


def _sbi_call(vcpu, fn, wanted) -> None:
    eid, fid = vcpu.reg(17), vcpu.reg(16)
    if wanted is not None and eid not in wanted:
        return sbi_mod.call(vcpu)
    args = [vcpu.reg(10 + i) for i in range(6)]
    what = f"answering SBI call {eid:#x}/{fid}"
    ex = Exit("trap", L.CAUSE_ECALL_S, 0, vcpu.pc)
    answer = _call(fn, vcpu, ex, what, VirtualHart(vcpu), eid, fid, args)
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise HookError(f"your function {_name(fn)} returned {answer!r:.40} while {what} for "
                        f"VM {vcpu.vm.id}: an SBI call answers (error, value)")
    error, value = (_returned(fn, v, vcpu, what) for v in answer)
    vcpu.set_reg(10, error)
    if eid > sbi_mod.LEGACY_SHUTDOWN:           # legacy calls return a0 alone
        vcpu.set_reg(11, value)
    vcpu.vm.sbi_calls[eid] += 1


# ---- a device of the student's --------------------------------------------------------------
class _StudentDevice:
    """Adapts ``read(offset, size) -> value`` / ``write(offset, size, value)`` to a VM's
    device slot (vmlab.hv.devices): the guest's loads and stores in its range trap, and
    the MMIO emulation calls these."""

    irq_level = 0

    def __init__(self, vm, read, write):
        self.vm, self.read, self.write = vm, read, write

    def attach(self, dma) -> None:
        self.dma = dma

    def mmio_read(self, offset: int, size: int) -> int:
        what = f"reading device offset {offset:#x}"
        value = _call(self.read, self.vm.vcpus[0], None, what, offset, size)
        return _returned(self.read, value, self.vm.vcpus[0], what) & ((1 << 8 * size) - 1)

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        _call(self.write, self.vm.vcpus[0], None, f"writing device offset {offset:#x}",
              offset, size, value)

    def signals_after_write(self, offset: int) -> bool:
        return False


def device(vm, base_gpa: int, size: int, read, write) -> None:
    """A device of the student's at guest-physical ``base_gpa`` (outside RAM): every guest
    load or store there exits and calls ``read(offset, size)`` or ``write(offset, size,
    value)``.  (No interrupt line and no device-tree node: the guest must know the address.)"""
    if vm.mem.contains(base_gpa, 1):
        raise ValueError(f"a device at {base_gpa:#x} would sit inside guest RAM")
    _tables(vm).devices.add_slot(base_gpa, size, 0, _StudentDevice(vm, read, write),
                                 lambda tree: None)
    shadow = vm.shadow               # never mapped in a shadow table: every access exits
    shadow.device_ranges = tuple(shadow.device_ranges) + ((base_gpa, size),)


# ---- the shadow fill ------------------------------------------------------------------------
def shadow_fill(vm, fn) -> None:
    """One guest page fault in a shadow tree goes to ``fn(req)`` (a FillRequest of
    vmlab.hv.shadow_fill): the pager's own seam, whose checks and one-line FillError name
    the function."""
    _tables(vm)
    vm.shadow.set_fill(fn)
