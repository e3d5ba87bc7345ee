"""HTIF for guests: the riscv-tests way of talking to the host, through two words in RAM.

A program linked with ``tohost``/``fromhost`` symbols (riscv-tests, and much bare-metal test
code) reports its result by storing ``code << 1 | 1`` into ``tohost`` and then spinning.  On
the bare machine the store itself is checked; a guest's store is a plain store into its RAM,
so the hypervisor looks at the word between exits (at the latest after one run slice) and
answers as the machine would: exit, a byte of console output (device 1), or write(2) from a
syscall block.
"""
from __future__ import annotations

SYS_WRITE = 64


class Htif:
    """Watches one VM's ``tohost`` word (gpa) and answers in ``fromhost``."""

    def __init__(self, vm, tohost_gpa: int, fromhost_gpa: int | None):
        self.vm, self.tohost_gpa, self.fromhost_gpa = vm, tohost_gpa, fromhost_gpa

    def poll(self) -> None:
        mem = self.vm.mem
        if not mem.holds_data(self.tohost_gpa):
            return                  # never touched (a swapped-out page still holds tohost)
        value = mem.read64(self.tohost_gpa) or 0
        if value == 0:
            return
        device, cmd, payload = value >> 56, (value >> 48) & 0xFF, value & ((1 << 48) - 1)
        reply = 0
        if device == 0 and cmd == 0 and payload & 1:
            self.vm.stop("halt", payload >> 1)
            return
        if device == 0 and cmd == 0:
            reply = self._syscall(payload)
        elif device == 1 and cmd == 1:
            self.vm.devices.print_bytes(bytes([payload & 0xFF]))
            reply = (1 << 56) | (1 << 48)
        mem.write64(self.tohost_gpa, 0)
        if self.fromhost_gpa:
            mem.write64(self.fromhost_gpa, reply)

    def _syscall(self, block_gpa: int) -> int:
        """write(fd 1 or 2, buf, len) from a riscv-tests syscall block; the result goes
        into the block's first word, as the test environment expects."""
        mem = self.vm.mem
        words = [mem.read64(block_gpa + 8 * i) for i in range(4)]
        if None in words:
            return 1
        num, fd, buf_gpa, n = words
        result = -38                                # -ENOSYS
        if num == SYS_WRITE and fd in (1, 2):
            data = mem.read(buf_gpa, n)
            if data is not None:
                self.vm.devices.print_bytes(data)
                result = n
        mem.write64(block_gpa, result & ((1 << 64) - 1))
        return 1
