"""The virt board's devices: UART 16550, CLINT, PLIC, sifive_test, HTIF; the device tree."""
from __future__ import annotations

from machine_asm import HARNESS, machine_for, run_asm

from vmlab.machine import Machine
from vmlab.machine.fdt import parse_dtb

UART = 0x10000000


def test_uart_transmit_goes_to_console_output():
    m, _ = run_asm(f"""
        li t0, {UART:#x}
        la t1, msg
    1:  lbu t2, 0(t1)
        beqz t2, 2f
    3:  lbu t3, 5(t0)               # LSR: wait for THR empty
        andi t3, t3, 0x20
        beqz t3, 3b
        sb t2, 0(t0)
        addi t1, t1, 1
        j 1b
    2:
    """, extra='msg: .asciz "hello, uart\\n"')
    assert m.console_output == "hello, uart\n"


def test_uart_receive_and_line_status():
    m, _ = machine_for(HARNESS.format(body=f"""
        li t0, {UART:#x}
        lbu a0, 5(t0)               # LSR before input: no data ready
    1:  lbu t1, 5(t0)
        andi t1, t1, 1
        beqz t1, 1b
        lbu a1, 0(t0)
        lbu a2, 0(t0)
        lbu a3, 5(t0)
    """, extra=""))
    assert m.run(instructions=5000).reason == "budget"
    m.send_input(b"ok")
    assert m.run(instructions=5000).reason == "halt"
    assert m.reg("a0") == 0x60
    assert (m.reg("a1"), m.reg("a2")) == (ord("o"), ord("k"))
    assert m.reg("a3") == 0x60


def test_uart_registers_divisor_scratch_and_iir():
    m, _ = run_asm(f"""
        li t0, {UART:#x}
        li t1, 0x80
        sb t1, 3(t0)                # LCR.DLAB
        li t1, 0x12
        sb t1, 0(t0)                # DLL
        li t1, 0x34
        sb t1, 1(t0)                # DLM
        lbu a0, 0(t0)
        lbu a1, 1(t0)
        li t1, 3
        sb t1, 3(t0)                # 8N1, DLAB off
        li t1, 0x5a
        sb t1, 7(t0)
        lbu a2, 7(t0)               # scratch
        li t1, 1
        sb t1, 2(t0)                # FCR: FIFO on
        lbu a3, 2(t0)               # IIR: no interrupt, FIFOs enabled
        li t1, 2
        sb t1, 1(t0)                # IER: THR empty interrupt
        lbu a4, 2(t0)               # IIR: THRE pending
        lbu a5, 2(t0)               # reading IIR acknowledged it
    """)
    assert (m.reg("a0"), m.reg("a1"), m.reg("a2")) == (0x12, 0x34, 0x5A)
    assert m.reg("a3") == 0xC1 and m.reg("a4") == 0xC2 and m.reg("a5") == 0xC1


def test_clint_mtime_counts_at_10mhz_of_simulated_time():
    m, _ = run_asm("""
        li t0, 0x200BFF8
        ld a0, 0(t0)
        li t1, 1000
    1:  addi t1, t1, -1
        bnez t1, 1b
        ld a1, 0(t0)
        rdtime a2
    """)
    # ~2000 instructions = 2000 ns = 20 ticks of a 10 MHz timer
    assert 19 <= m.reg("a1") - m.reg("a0") <= 22
    assert m.reg("a2") >= m.reg("a1")


def test_clint_mtimecmp_halves_and_msip():
    m, _ = run_asm("""
        li t0, 0x2004000
        li t1, 0x11223344
        sw t1, 0(t0)
        li t1, 0x55667788
        sw t1, 4(t0)
        ld a0, 0(t0)
        li t0, 0x2000000
        li t1, 1
        sw t1, 0(t0)
        csrr a1, mip
        sw zero, 0(t0)
        csrr a2, mip
        li t0, 0x2004000
        li t1, -1
        sd t1, 0(t0)
    """)
    assert m.reg("a0") == 0x5566778811223344
    assert m.reg("a1") & 8 and not m.reg("a2") & 8


def test_plic_claim_complete_threshold_and_pending():
    m, _ = machine_for(HARNESS.format(body=f"""
        li t0, 0x0C000000
        li t1, 3
        sw t1, 40(t0)               # priority(10) = 3
        li t0, 0x0C002000           # context 0 (hart 0 M) enables
        li t1, 1 << 10
        sw t1, 0(t0)
        li t0, {UART:#x}
        li t1, 1
        sb t1, 1(t0)                # UART IER: RX
        li t0, 0x0C200000
        li t1, 3
        sw t1, 0(t0)                # threshold 3: priority 3 is not above it
    1:  lbu t2, 5(t0)               # (harmless read of the PLIC)
        li t3, {UART:#x}
        lbu t2, 5(t3)
        andi t2, t2, 1
        beqz t2, 1b
        csrr a0, mip                # MEIP masked by the threshold
        li t1, 0x0C001000
        lw a1, 0(t1)                # pending bits
        sw zero, 0(t0)              # threshold 0
        csrr a2, mip                # MEIP now
        lw a3, 4(t0)                # claim -> 10
        lw a4, 4(t0)                # claim again -> 0 (in service)
        lbu t2, 0(t3)               # consume the byte: wire goes low
        sw a3, 4(t0)                # complete
        csrr a5, mip
    """, extra=""))
    m.run(instructions=2000)
    m.send_input("z")
    assert m.run(instructions=10_000).reason == "halt"
    assert not m.reg("a0") & (1 << 11)
    assert m.reg("a1") == 1 << 10
    assert m.reg("a2") & (1 << 11)
    assert (m.reg("a3"), m.reg("a4")) == (10, 0)
    assert not m.reg("a5") & (1 << 11)


def test_sifive_test_pass_and_fail_codes():
    m, _ = machine_for(HARNESS.format(body="""
        li t6, 0x100000
        li t5, (42 << 16) | 0x3333
        sw t5, 0(t6)
    """, extra=""))
    r = m.run(instructions=1000)
    assert (r.reason, r.exit_code) == ("halt", 42)
    m2, _ = run_asm("nop")
    assert m2.run(instructions=1).reason in ("budget", "halt")


def test_htif_exit_code_and_putchar():
    source = """
        .globl _start
    _start:
        la t0, tohost
        li t1, (1 << 56) | (1 << 48) | 'H'
        sd t1, 0(t0)
    1:  ld t2, 0(t0)                # the host clears tohost when done
        bnez t2, 1b
        li t1, (1 << 56) | (1 << 48) | 'i'
        sd t1, 0(t0)
        li t1, (7 << 1) | 1         # exit code 7
        sd t1, 0(t0)
    2:  j 2b
        .balign 8
    tohost: .dword 0
    fromhost: .dword 0
    """
    m, syms = machine_for(source)
    r = m.run(instructions=10_000)
    assert (r.reason, r.exit_code) == ("halt", 7)
    assert m.console_output == "Hi"


def test_accesses_to_nothing_are_access_faults_and_the_host_survives():
    m, _ = run_asm("""
        li t0, 0x3000000
        lw a0, 0(t0)
        mv a1, s10
        li t0, -8
        sd a0, 0(t0)
        mv a2, s10
    """)
    assert (m.reg("a1"), m.reg("a2")) == (5, 7)


def test_boot_virt_passes_hart_id_and_device_tree():
    m = Machine(ram_size=64 << 20, harts=2)
    dtb = m.boot_virt(bios=None, kernel=None)
    assert m.harts[1].reg("a0") == 1 and m.harts[0].reg("a1") == dtb
    size = int.from_bytes(m.read_mem(dtb + 4, 4), "big")
    tree = parse_dtb(m.read_mem(dtb, size))
    text = repr(tree)
    assert tree is not None and size > 0 and text


def test_virtio_accesses_reach_the_python_model(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(512 * 8))
    m, _ = machine_for(HARNESS.format(body="""
        li t0, 0x10001000
        lw a0, 0(t0)                # magic "virt"
        lw a1, 4(t0)                # version 2
        lw a2, 8(t0)                # device id 2: block
        li t1, 0x7f
        sw t1, 0x70(t0)             # status register: a write reaches the model
        lw a3, 0x70(t0)
    """, extra=""))
    m2 = Machine(ram_size=4 << 20, drive=str(disk))
    m2.mem[:] = m.mem
    m2.pc = m.pc
    r = m2.run(instructions=1000)
    assert r.reason == "halt"
    assert m2.reg("a0") == 0x74726976 and m2.reg("a1") == 2 and m2.reg("a2") == 2
    assert m2.reg("a3") != 0


def test_uart_rx_interrupts_through_the_plic_one_byte_per_claim():
    """Three bytes typed at once; the handler reads one byte per interrupt and completes.
    Reading RBR makes the UART signal its wire again (as QEMU's 16550 does), and the wire is
    still high while bytes remain, so the source is pending again after the complete: three
    claims of source 10, each reading one byte.  IIR says "received data" while there is any."""
    m, syms = machine_for(f"""
    .globl _start
_start:
        la t0, trap
        csrw mtvec, t0
        li t0, 0x0C000000
        li t1, 1
        sw t1, 40(t0)               # priority(10) = 1
        li t0, 0x0C002000
        li t1, 1 << 10
        sw t1, 0(t0)                # enabled for hart 0 M
        li t0, {UART:#x}
        li t1, 1
        sb t1, 1(t0)                # IER: received data available
        li t0, 1 << 11
        csrs mie, t0
        csrsi mstatus, 8
        la s1, got
        li s2, 0                    # bytes received
    1:  wfi
        li t0, 3
        bltu s2, t0, 1b
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
    2:  j 2b
        .balign 4
    trap:
        li t0, 0x0C200004
        lw t1, 0(t0)                # claim
        li t2, {UART:#x}
        lbu t3, 2(t2)               # IIR
        add t4, s1, s2
        sb t3, 8(t4)                # record IIR per interrupt
        lbu t3, 0(t2)               # one byte
        sb t3, 0(t4)
        addi s2, s2, 1
        la t4, claims
        ld t5, 0(t4)
        addi t5, t5, 1
        sd t5, 0(t4)
        sw t1, 0(t0)                # complete
        mret
        .data
        .balign 8
    got: .zero 16
    claims: .dword 0
    """)
    assert m.run(instructions=5000).reason == "idle"
    m.send_input("abc")
    r = m.run(instructions=100_000)
    assert r.reason == "halt"
    assert m.read_mem(syms["got"], 3) == b"abc"
    assert all(b & 0x0F == 0x04 for b in m.read_mem(syms["got"] + 8, 3))
    assert int.from_bytes(m.read_mem(syms["claims"], 8), "little") == 3
