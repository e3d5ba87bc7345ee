"""The virt board's small devices, as compiled functions over the ``dev``/``io`` arrays.

- CLINT (0x0200_0000): per-hart ``msip`` (software interrupt) and ``mtimecmp``; ``mtime``
  counts simulated time at 10 MHz.  mtime >= mtimecmp raises MTIP.
- PLIC (0x0C00_0000): wires 1..31 with a priority each; per context (hart h has context 2h
  for M-mode and 2h+1 for S-mode) an enable bitmap, a threshold and a claim/complete register.
  As QEMU's (7.2) sifive_plic: each time a device *signals* its wire (set_irq_line), the
  source's pending bit becomes the wire's level; a claim clears the pending bit and marks the
  source claimed; a complete only unmarks it.  So a wire left high by a driver that never
  acknowledges the reason (a 16550 THR-empty nobody reads IIR for) does not interrupt again
  until the device signals again -- the difference between a teaching OS running on QEMU and
  an endless interrupt storm.  Devices signal where QEMU's do: the UART on receive, on reading
  RBR, on reading an IIR that acknowledges THRE, and on writing THR, IER or FCR; virtio-mmio
  on a notify, InterruptACK and Status writes.
- UART 16550 (0x1000_0000, wire 10): transmit is instantaneous (bytes go to the output ring,
  which Python drains), receive reads the input ring that Python fills.
- sifive_test (0x10_0000): write 0x5555 to pass, (code << 16) | 0x3333 to fail, 0x7777 to reset.

Everything here is plain numba over arrays, so the hot loop calls it directly and Python code
(tests, the future hypervisor) can call the same functions.
"""
from __future__ import annotations

from vmlab.machine.jit import jit

from vmlab.machine.bits import ltu, srl
from vmlab.machine.csr import STCE, mtime_now
from vmlab.machine.layout import (
    C_EXIT, C_EXIT_ARG, C_FLAGS, C_HARTS, C_IN_HEAD, C_IN_TAIL, C_OUT_HEAD, C_OUT_TAIL,
    CLINT_BASE, CLINT_SIZE, D_MSIP, D_MTIMECMP, D_TEST_STATUS, EXIT_HALT, EXIT_OUTPUT,
    EXIT_RESET, F_EXIT_ON_OUTPUT, HWIP, IN_BYTES, MENVCFG, MIP_MEIP, MIP_MSIP, MIP_MTIP,
    MIP_SEIP, MIP_STIP, MIP_VSTIP, HENVCFG, HTIMEDELTA, VSTIMECMP, OUT_BYTES, P_CLAIMED, P_ENABLE, P_LEVEL, P_PENDING, P_PRIO,
    P_THRESHOLD, PLIC_BASE, PLIC_SIZE, STIMECMP, TEST_BASE, TEST_SIZE, U_DLL, U_DLM, U_FCR,
    U_IER, U_LCR, U_MCR, U_SCR, U_THRE_IP, UART_BASE, UART_IRQ, UART_SIZE,
)

DEV_OK, DEV_FAULT = 0, 1


@jit(inline="always")
def part_read(reg, off, size):
    """Bytes [off, off+size) of a 64-bit register (devices accept 4- and 8-byte accesses)."""
    v = srl(reg, 8 * off)
    return v if size == 8 else v & ((1 << (8 * size)) - 1)


@jit(inline="always")
def part_write(reg, off, size, v):
    if size == 8:
        return v
    m = ((1 << (8 * size)) - 1) << (8 * off)
    return (reg & ~m) | ((v << (8 * off)) & m)


# ---------------------------------------------------------------------------------------
# interrupt lines into the harts
# ---------------------------------------------------------------------------------------
@jit
def plic_best(dev, ctx):
    """The highest-priority pending source enabled for ``ctx`` above its threshold, or 0."""
    ready = dev[P_PENDING] & ~dev[P_CLAIMED] & dev[P_ENABLE + ctx]
    if ready == 0:
        return 0
    best, prio = 0, dev[P_THRESHOLD + ctx]
    for src in range(1, 32):
        if (ready >> src) & 1 and dev[P_PRIO + src] > prio:
            best, prio = src, dev[P_PRIO + src]
    return best


@jit
def update_hwip(cpu, dev, ctl, h):
    """Recompute the device-driven mip bits of hart ``h`` (timer, software, external)."""
    c = cpu[h]
    now = mtime_now(dev, ctl)
    hw = 0
    if not ltu(now, dev[D_MTIMECMP + h]):
        hw |= MIP_MTIP
    if dev[D_MSIP + h] & 1:
        hw |= MIP_MSIP
    if plic_best(dev, 2 * h):
        hw |= MIP_MEIP
    if plic_best(dev, 2 * h + 1):
        hw |= MIP_SEIP
    if (c[MENVCFG] & STCE) and not ltu(now, c[STIMECMP]):
        hw |= MIP_STIP
    if vstimer_on(c) and not ltu(now + c[HTIMEDELTA], c[VSTIMECMP]):
        hw |= MIP_VSTIP             # a guest's own timer (Sstc for VS): time as it sees it
    c[HWIP] = hw


@jit(inline="always")
def vstimer_on(c):
    """Does vstimecmp drive hip.VSTIP?  Only while both menvcfg and henvcfg enable Sstc
    (else VSTIP is hvip's alone, and the hypervisor emulates a guest's timer)."""
    return (c[MENVCFG] & STCE) != 0 and (c[HENVCFG] & STCE) != 0


@jit
def next_timer_ns(cpu, dev, h):
    """Simulated ns at which hart h's next timer interrupt becomes pending (or a huge value).
    A guest's vstimecmp is compared with time + htimedelta: its deadline in mtime ticks is
    vstimecmp - htimedelta."""
    far = 1 << 62
    t = far
    c = cpu[h]
    vs = c[VSTIMECMP] - c[HTIMEDELTA] if vstimer_on(c) else -1
    for cmp in (dev[D_MTIMECMP + h], c[STIMECMP] if c[MENVCFG] & STCE else -1, vs):
        if cmp >= 0 and cmp < far // 100:
            t = min(t, cmp * 100)
    return t


# ---------------------------------------------------------------------------------------
# UART 16550
# ---------------------------------------------------------------------------------------
@jit
def uart_rx_ready(ctl):
    return ctl[C_IN_HEAD] != ctl[C_IN_TAIL]


@jit
def set_irq_line(dev, src, level):
    """A device signals its PLIC wire: the level is recorded and the source's pending bit
    follows it (raised: pending; lowered: not pending), as QEMU's PLIC does."""
    bit = 1 << src
    if level:
        dev[P_LEVEL] |= bit
        dev[P_PENDING] |= bit
    else:
        dev[P_LEVEL] &= ~bit
        dev[P_PENDING] &= ~bit


@jit
def uart_update(dev, ctl):
    """Signal wire 10: received data with ERBFI, or transmitter empty with ETBEI."""
    ier = dev[U_IER]
    level = ((ier & 1) and uart_rx_ready(ctl)) or ((ier & 2) and dev[U_THRE_IP])
    set_irq_line(dev, UART_IRQ, level)


@jit
def uart_signals_on_read(dev, reg, value):
    """Which reads make QEMU's 16550 re-evaluate its wire: RBR (data taken) and an IIR that
    reported (and so acknowledged) THR-empty.  LSR, MSR and the others do not."""
    if reg == 0:
        return not (dev[U_LCR] & 0x80)
    return reg == 2 and (value & 0x0F) == 0x02


@jit
def uart_signals_on_write(dev, reg):
    """Writes after which QEMU's 16550 re-evaluates its wire: THR, IER, FCR."""
    if reg <= 1:
        return not (dev[U_LCR] & 0x80)
    return reg == 2


@jit
def output_byte(io, ctl, b):
    """Append a console byte; ask the loop to return when Python should look at it."""
    head = ctl[C_OUT_HEAD]
    if head - ctl[C_OUT_TAIL] >= OUT_BYTES:
        return                                    # ring full (cannot happen: we exit early)
    io[head & (OUT_BYTES - 1)] = b & 0xFF
    ctl[C_OUT_HEAD] = head + 1
    if (ctl[C_FLAGS] & F_EXIT_ON_OUTPUT) or head + 1 - ctl[C_OUT_TAIL] >= OUT_BYTES - 4096:
        ctl[C_EXIT] = EXIT_OUTPUT


@jit
def uart_read(dev, io, ctl, reg):
    dlab = dev[U_LCR] & 0x80
    if reg == 0:
        if dlab:
            return dev[U_DLL]
        if not uart_rx_ready(ctl):
            return 0
        tail = ctl[C_IN_TAIL]
        b = io[OUT_BYTES + (tail & (IN_BYTES - 1))]
        ctl[C_IN_TAIL] = tail + 1
        return b
    if reg == 1:
        return dev[U_DLM] if dlab else dev[U_IER]
    if reg == 2:                                  # IIR: highest-priority reason
        fifo = 0xC0 if dev[U_FCR] & 1 else 0
        ier = dev[U_IER]
        if (ier & 1) and uart_rx_ready(ctl):
            return fifo | 0x04
        if (ier & 2) and dev[U_THRE_IP]:
            dev[U_THRE_IP] = 0                    # reading IIR acknowledges THRE
            return fifo | 0x02
        return fifo | 0x01
    if reg == 3:
        return dev[U_LCR]
    if reg == 4:
        return dev[U_MCR]
    if reg == 5:                                  # LSR: THR empty, transmitter empty, DR
        return 0x60 | (1 if uart_rx_ready(ctl) else 0)
    if reg == 6:
        return 0xB0                               # MSR: DCD, DSR, CTS
    return dev[U_SCR]


@jit
def uart_write(dev, io, ctl, reg, v):
    v &= 0xFF
    dlab = dev[U_LCR] & 0x80
    if reg == 0:
        if dlab:
            dev[U_DLL] = v
        else:
            output_byte(io, ctl, v)
            dev[U_THRE_IP] = 1                    # sent at once: THR empty again
    elif reg == 1:
        if dlab:
            dev[U_DLM] = v
        else:
            if (v & 2) and not (dev[U_IER] & 2):
                dev[U_THRE_IP] = 1
            dev[U_IER] = v & 0x0F
    elif reg == 2:
        dev[U_FCR] = v & 0xC9
    elif reg == 3:
        dev[U_LCR] = v
    elif reg == 4:
        dev[U_MCR] = v & 0x1F
    elif reg == 7:
        dev[U_SCR] = v


# ---------------------------------------------------------------------------------------
# CLINT and PLIC
# ---------------------------------------------------------------------------------------
@jit
def clint_read(dev, ctl, off, size):
    harts = ctl[C_HARTS]
    if off < 0x4000:
        h = off >> 2
        return dev[D_MSIP + h] if h < harts and (off & 3) == 0 else 0
    if off < 0xBFF8:
        h = (off - 0x4000) >> 3
        return part_read(dev[D_MTIMECMP + h], off & 7, size) if h < harts else 0
    return part_read(mtime_now(dev, ctl), off & 7, size)


@jit
def clint_write(dev, ctl, off, size, v):
    harts = ctl[C_HARTS]
    if off < 0x4000:
        h = off >> 2
        if h < harts and (off & 3) == 0:
            dev[D_MSIP + h] = v & 1
    elif off < 0xBFF8:
        h = (off - 0x4000) >> 3
        if h < harts:
            dev[D_MTIMECMP + h] = part_write(dev[D_MTIMECMP + h], off & 7, size, v)
    # mtime is read-only here: simulated time only moves with instructions


@jit
def plic_read(dev, ctl, off):
    nctx = 2 * ctl[C_HARTS]
    if off < 0x1000:
        src = off >> 2
        return dev[P_PRIO + src] if src < 32 else 0
    if off == 0x1000:
        return dev[P_PENDING] & 0xFFFFFFFF
    if off >= 0x2000 and off < 0x200000:
        ctx, word = (off - 0x2000) >> 7, (off & 0x7F) >> 2
        return dev[P_ENABLE + ctx] & 0xFFFFFFFF if ctx < nctx and word == 0 else 0
    if off >= 0x200000:
        ctx, reg = (off - 0x200000) >> 12, off & 0xFFF
        if ctx >= nctx:
            return 0
        if reg == 0:
            return dev[P_THRESHOLD + ctx]
        if reg == 4:                              # claim
            src = plic_best(dev, ctx)
            if src:
                dev[P_CLAIMED] |= 1 << src
                dev[P_PENDING] &= ~(1 << src)
            return src
    return 0


@jit
def plic_write(dev, ctl, off, v):
    nctx = 2 * ctl[C_HARTS]
    v &= 0xFFFFFFFF
    if off < 0x1000:
        src = off >> 2
        if 0 < src < 32:
            dev[P_PRIO + src] = v & 7
    elif off >= 0x2000 and off < 0x200000:
        ctx, word = (off - 0x2000) >> 7, (off & 0x7F) >> 2
        if ctx < nctx and word == 0:
            dev[P_ENABLE + ctx] = v & ~1
    elif off >= 0x200000:
        ctx, reg = (off - 0x200000) >> 12, off & 0xFFF
        if ctx < nctx:
            if reg == 0:
                dev[P_THRESHOLD + ctx] = v & 7
            elif reg == 4 and v < 32:             # complete
                dev[P_CLAIMED] &= ~(1 << v)


# ---------------------------------------------------------------------------------------
# the bus: physical address -> device
# ---------------------------------------------------------------------------------------
@jit
def mmio_read(dev, io, ctl, pa, size):
    """Read a device register; return (DEV_OK, value) or (DEV_FAULT, 0) if nothing is there."""
    if pa - UART_BASE >= 0 and pa - UART_BASE < UART_SIZE:
        reg = (pa - UART_BASE) & 7
        v = uart_read(dev, io, ctl, reg)
        if uart_signals_on_read(dev, reg, v):
            uart_update(dev, ctl)
        return DEV_OK, v
    if pa - CLINT_BASE >= 0 and pa - CLINT_BASE < CLINT_SIZE:
        return DEV_OK, clint_read(dev, ctl, pa - CLINT_BASE, size)
    if pa - PLIC_BASE >= 0 and pa - PLIC_BASE < PLIC_SIZE:
        return DEV_OK, plic_read(dev, ctl, pa - PLIC_BASE)
    if pa - TEST_BASE >= 0 and pa - TEST_BASE < TEST_SIZE:
        return DEV_OK, 0
    return DEV_FAULT, 0


@jit
def test_write(dev, ctl, v):
    cmd, code = v & 0xFFFF, (v >> 16) & 0xFFFF
    if cmd == 0x5555 or cmd == 0x3333:
        dev[D_TEST_STATUS] = 0 if cmd == 0x5555 else code
        ctl[C_EXIT] = EXIT_HALT
        ctl[C_EXIT_ARG] = dev[D_TEST_STATUS]
    elif cmd == 0x7777:
        ctl[C_EXIT] = EXIT_RESET


@jit
def mmio_write(dev, io, ctl, pa, size, v):
    """Write a device register; return DEV_OK or DEV_FAULT."""
    if pa - UART_BASE >= 0 and pa - UART_BASE < UART_SIZE:
        reg = (pa - UART_BASE) & 7
        uart_write(dev, io, ctl, reg, v)
        if uart_signals_on_write(dev, reg):
            uart_update(dev, ctl)
        return DEV_OK
    if pa - CLINT_BASE >= 0 and pa - CLINT_BASE < CLINT_SIZE:
        clint_write(dev, ctl, pa - CLINT_BASE, size, v)
        return DEV_OK
    if pa - PLIC_BASE >= 0 and pa - PLIC_BASE < PLIC_SIZE:
        plic_write(dev, ctl, pa - PLIC_BASE, v)
        return DEV_OK
    if pa - TEST_BASE >= 0 and pa - TEST_BASE < TEST_SIZE:
        if pa == TEST_BASE:
            test_write(dev, ctl, v)
        return DEV_OK
    return DEV_FAULT
