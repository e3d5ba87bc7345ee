"""What the guests see of scheduling: steal time (SBI STA), the paravirtual yield against
lock-holder preemption, HSM retentive suspend -- and the libvirt-style management API."""
from __future__ import annotations

import re

import pytest
from sched_support import host_with, hypervisor, ms

from vmlab.asm import assemble
from vmlab.hv.sched import Credit, Host, RoundRobin
from vmlab.hv.sched import metrics as M
from vmlab.hv.sched import slices as SL
from vmlab.hv.sched import virt
from vmlab.hv.sched import workloads as W

STA_GUEST = r'''
        .text
        .globl _start
_start: li      a7, 0x535441            # STA set_shmem(lo, hi, flags)
        li      a6, 0
        la      a0, bad + 8             # not 64-byte aligned
        li      a1, 0
        li      a2, 0
        ecall
        la      t0, results
        sd      a0, 0(t0)
        li      a0, 0x7ff00000          # not guest RAM
        li      a1, 0
        li      a2, 0
        ecall
        sd      a0, 8(t0)
        la      a0, sta
        li      a1, 0
        li      a2, 0
        ecall
        sd      a0, 16(t0)
1:      j       1b
        .data
        .balign 64
sta:    .space  64
bad:    .space  64
results: .dword 1, 1, 1
'''


def sta_vm(hv):
    p = assemble(STA_GUEST, march="rv64imac")
    vm = hv.create_vm(ram_size=W.GUEST_RAM)
    vm.boot(kernel=p.elf)
    vm.symbols.update(p.symbols)
    return vm


def test_steal_time_reaches_the_guest():
    hv = hypervisor()
    vms = [sta_vm(hv), sta_vm(hv)]
    host = Host(hv, pcpus=1, policy=RoundRobin(slice_ns=ms(10)), window_ns=ms(1))
    host.run(ms(200))
    for vm in vms:
        results = [W.counter(vm, "results", i) for i in range(3)]
        assert results == [(-3) & (1 << 64) - 1, (-5) & (1 << 64) - 1, 0]
        record = vm.mem.read(vm.symbols["sta"], 17)
        seq, steal = int.from_bytes(record[:4], "little"), int.from_bytes(record[8:16], "little")
        assert seq % 2 == 0 and seq >= 2
        view = host.view(vm)
        # what the host last reported: its ready time when the vCPU last went on or off
        assert 0 < steal <= view._ready_ns
        assert steal >= view._ready_ns - ms(10) - ms(1)
    # two equal VMs on one pCPU: each waited about half the time
    assert M.vcpu_rows(host)[0]["ready_ms"] == pytest.approx(host.now / 2e6, rel=0.1)


def lock_holder_run(yield_after):
    """The spinlock guest's two vCPUs and a CPU-bound VM on one pCPU, round robin."""
    host, (lock, _) = host_with(RoundRobin(slice_ns=ms(10)),
                                [("spinlock", {"vcpus": 2, "YIELD_AFTER": yield_after}),
                                 "spin"])
    host.run(ms(300))
    spins = W.counter(lock, "spins", 0) + W.counter(lock, "spins", 1)
    done = W.counter(lock, "acquired", 0) + W.counter(lock, "acquired", 1)
    return spins, done, host


def test_paravirtual_yield_wastes_less_spinning():
    spins, done, _ = lock_holder_run(0)
    y_spins, y_done, host = lock_holder_run(20)
    assert spins > 10 * y_spins            # the spinner gave the holder its pCPU
    assert y_done > done                    # and more critical sections got done
    assert any(s.left == "yield" for s in SL.slices(host.trace, host.now))


def test_hsm_retentive_suspend_blocks_until_the_timer():
    src = r'''
        .text
        .globl _start
_start: li      t0, 1 << 5
        csrs    sie, t0
        la      s0, wakes
loop:   rdtime  a0
        addi    a0, a0, 1000            # 100 µs
        li      a7, 0x54494D45
        li      a6, 0
        ecall
        li      a7, 0x48534D            # hart_suspend(retentive, 0, 0)
        li      a6, 3
        li      a0, 0
        li      a1, 0
        li      a2, 0
        ecall
        sd      a0, 8(s0)               # its error code
        ld      t1, 0(s0)
        addi    t1, t1, 1
        sd      t1, 0(s0)
        j       loop
        .data
        .balign 8
wakes:  .dword 0, 1
'''
    p = assemble(src, march="rv64imac")
    hv = hypervisor()
    vm = hv.create_vm(ram_size=W.GUEST_RAM)
    vm.boot(kernel=p.elf)
    vm.symbols.update(p.symbols)
    host = Host(hv, pcpus=1, window_ns=ms(1))
    host.run(ms(100))                       # 1 ms: about ten 100 µs sleeps
    assert W.counter(vm, "wakes", 1) == 0
    assert 8 <= W.counter(vm, "wakes") <= 10
    assert host.pcpus[0].idle_ns > host.now * 0.9


def test_libvirt_style_management():
    host, vms = host_with(Credit(slice_ns=ms(30), tick_ns=ms(10), period_ns=ms(30)),
                          ["spin", ("spin", {"vcpus": 2, "firmware": True})], pcpus=2)
    conn = virt.open(host)
    doms = conn.listAllDomains()
    assert [d.name() for d in doms] == ["vm0", "vm1"]
    assert conn.getCPUMap() == (2, [True, True], 2)
    doms[1].pinVcpu(0, (True, False))
    doms[1].pinVcpu(1, [False, True])
    doms[0].setSchedulerParameters({"weight": 512})
    host.run(ms(100))
    info, maps = doms[1].vcpus()
    assert maps == [(True, False), (False, True)]
    assert [(n, cpu) for n, _, _, cpu in info] == [(0, 0), (1, 1)]
    assert sum(t for _, _, t, _ in info) == doms[1].getCPUStats()[0]["cpu_time"]
    assert doms[0].schedulerParameters()["weight"] == 512
    assert doms[0].schedulerType()[0] == "credit"
    assert host.pin_changes == 2
    assert conn.lookupByID(1).ID() == 1


@pytest.mark.parametrize("call, message", [
    (lambda d: d.pinVcpu(0, (False, False)), "at least one existing pCPU"),
    (lambda d: d.pinVcpu(5, (True, False)), "has no vCPU 5"),
    (lambda d: d.setSchedulerParameters({"wieght": 3}), "unknown scheduler parameter 'wieght'"),
    (lambda d: d.setSchedulerParameters({"weight": 0}), "weight must be"),
    (lambda d: d.setSchedulerParameters({"cap": -1}), "cap must be"),
])
def test_management_errors_name_what_is_wrong(call, message):
    host, _ = host_with(Credit(), ["spin"], pcpus=2)
    with pytest.raises(virt.VirtError, match=message):
        call(virt.open(host).lookupByID(0))


STEAL_LINE = re.compile(r"teachos: steal time of hart 0: (\d+) us\n")


def teachos_on_a_host(kernel, others: int):
    """teachos with ``others`` CPU-bound VMs on one pCPU under Credit, run until it powers
    off: (host, its VM, the steal time it printed in ns)."""
    from vmlab.hv.sched import MS
    hv = hypervisor()
    vm = hv.create_vm(ram_size=32 << 20)
    vm.boot(kernel=kernel.elf)
    for _ in range(others):
        W.boot(hv, "spin")
    host = Host(hv, pcpus=1, policy=Credit())
    while not vm.stopped and host.now < 1000 * MS:
        host.run(10 * MS)
    assert vm.stopped == ("halt", 0), vm.console_output[-500:]
    found = STEAL_LINE.findall(vm.console_output)
    assert len(found) == 1, vm.console_output[-500:]
    return host, vm, int(found[0]) * 1000


def test_the_teaching_os_prints_the_steal_time_the_host_reported():
    """teachos (timer-driven processes, SBI, paging) reads its steal time through SBI STA and
    prints it at shutdown: 0 alone on its pCPU; sharing the pCPU with a CPU-bound VM under
    Credit, what the host's metrics count as its ready time -- and otherwise the same
    console, only later in simulated time."""
    from vmlab.guests import teachos
    kernel = teachos.build()
    host, alone, steal = teachos_on_a_host(kernel, 0)
    assert steal == 0 and host.view(alone)._ready_ns == 0
    host, shared, steal = teachos_on_a_host(kernel, 1)
    view = host.view(shared)
    ready_ns = M.vcpu_rows(host)[0]["ready_ms"] * 1e6
    assert steal > 0 and abs(steal - ready_ns) < 1000           # to the µs it prints in
    assert host.now > view.runtime + steal * 0.99                # it waited while the spin ran
    assert steal > 0.3 * host.now                                # about half: equal weights
    assert (STEAL_LINE.sub("", shared.console_output)
            == STEAL_LINE.sub("", alone.console_output))
    assert "teachos: all processes are done" in shared.console_output


IPI_GUEST = r'''
        .text
        .globl _start
_start: bnez    a0, waiter
        li      a0, 1                   # hart_start(1, _start, 0)
        la      a1, _start
        li      a2, 0
        li      a7, 0x48534D
        li      a6, 0
        ecall
        la      s0, sent
sender: li      t0, 5000                # work a while, then poke hart 1
1:      addi    t0, t0, -1
        bnez    t0, 1b
        li      a0, 2                   # send_ipi(mask = hart 1, base 0)
        li      a1, 0
        li      a7, 0x735049
        li      a6, 0
        ecall
        ld      t1, 0(s0)
        addi    t1, t1, 1
        sd      t1, 0(s0)
        j       sender
waiter: li      t0, 2                   # sie.SSIE: an IPI ends wfi (interrupts stay off)
        csrs    sie, t0
        la      s0, woken
2:      wfi
        csrc    sip, t0                 # take the IPI as handled
        ld      t1, 0(s0)
        addi    t1, t1, 1
        sd      t1, 0(s0)
        j       2b
        .data
        .balign 8
sent:   .dword 0
woken:  .dword 0
'''


@pytest.mark.parametrize("pcpus", [1, 2])
def test_an_ipi_wakes_a_blocked_sibling(pcpus):
    """IPIs sent while the waiter is not running coalesce (sip.SSIP is one bit): sharing
    the sender's pCPU it wakes once per turn; on a pCPU of its own, for most of them."""
    p = assemble(IPI_GUEST, march="rv64imac")
    hv = hypervisor()
    vm = hv.create_vm(ram_size=W.GUEST_RAM, vcpus=2)
    vm.boot(kernel=p.elf)
    vm.symbols.update(p.symbols)
    host = Host(hv, pcpus=pcpus, policy=RoundRobin(slice_ns=ms(10)), window_ns=ms(1))
    host.run(ms(100))
    sent, woken = W.counter(vm, "sent"), W.counter(vm, "woken")
    assert sent > 20
    waiter = host.view(vm, 1)
    turns = sum(1 for s in SL.slices(host.trace, host.now) if (s.vm, s.vcpu) == (vm.id, 1))
    assert 0 < woken <= sent
    assert woken >= (sent // 2 if pcpus == 2 else turns - 1)
    assert waiter.runtime < host.now * 0.2        # blocked in between, not spinning
    assert waiter._wakes >= woken
