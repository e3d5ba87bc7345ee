"""An instructor's solution of lab 03's virtual CSR file, and subtly wrong variants of it
(each one a mistake a student makes: the grader must take points for every one)."""
from __future__ import annotations

from vmlab.hv.hooks import IllegalInstruction

SIE, SPIE, SPP, FS, SUM, MXR = 1 << 1, 1 << 5, 1 << 8, 3 << 13, 1 << 18, 1 << 19
MPRV, TW, TSR = 1 << 17, 1 << 21, 1 << 22
UXL, SD = 3 << 32, 1 << 63
SSTATUS_READ = SIE | SPIE | SPP | FS | SUM | MXR | UXL | SD
SSTATUS_WRITE = SIE | SPIE | SPP | FS | SUM | MXR
S_INTERRUPTS = 0x222
OWN = {0x105: "stvec", 0x140: "sscratch", 0x141: "sepc", 0x142: "scause", 0x143: "stval",
       0x180: "satp"}


class VirtualCsrs:
    """The virtual S-mode CSR file on the vCPU's storage (sstatus/sie/sip are views)."""

    def read(self, hart, csr):
        if csr == 0x100:
            return hart["mstatus"] & SSTATUS_READ
        if csr == 0x104:
            return hart["mie"] & hart["mideleg"]
        if csr == 0x144:
            return hart["mip"] & hart["mideleg"]
        return hart[OWN[csr]]

    def write(self, hart, csr, value):
        if csr == 0x100:
            new = (hart["mstatus"] & ~SSTATUS_WRITE) | (value & SSTATUS_WRITE)
            hart["mstatus"] = self.with_sd(new)
        elif csr in (0x104, 0x144):
            name = "mie" if csr == 0x104 else "mip"
            mask = hart["mideleg"] & (S_INTERRUPTS if csr == 0x104 else 2)
            hart[name] = (hart[name] & ~mask) | (value & mask)
        elif csr == 0x105:
            if value & 3 >= 2:                      # reserved mode: keep the old one
                value = (value & ~3) | (hart["stvec"] & 3)
            hart["stvec"] = value
        elif csr == 0x141:
            hart["sepc"] = value & ~1
        elif csr == 0x180:
            if value >> 60 in (0, 8):               # Bare or Sv39; other modes: no effect
                hart["satp"] = value
        else:
            hart[OWN[csr]] = value

    @staticmethod
    def with_sd(mstatus):
        return mstatus | SD if mstatus & FS == FS else mstatus & ~SD

    def sret(self, hart):
        st = hart["mstatus"]
        if hart.priv == 0 or (hart.priv == 1 and st & TSR):
            raise IllegalInstruction
        hart.priv = 1 if st & SPP else 0
        st &= ~(SIE | SPP | MPRV)
        hart["mstatus"] = st | SPIE | (SIE if st & SPIE else 0)
        hart.pc = hart["sepc"]

    def wfi(self, hart):
        if hart.priv == 0 or (hart.priv == 1 and hart["mstatus"] & TW):
            raise IllegalInstruction
        if not hart.pending:
            hart.waiting = True
        hart.pc += 4


class NoSd(VirtualCsrs):
    """Forgets that SD summarizes FS."""
    @staticmethod
    def with_sd(mstatus):
        return mstatus


class StvecAnyMode(VirtualCsrs):
    def write(self, hart, csr, value):
        if csr == 0x105:
            hart["stvec"] = value
        else:
            super().write(hart, csr, value)


class SipAllBits(VirtualCsrs):
    """Lets sip write every delegated bit, not only SSIP."""
    def write(self, hart, csr, value):
        if csr == 0x144:
            mask = hart["mideleg"] & S_INTERRUPTS
            hart["mip"] = (hart["mip"] & ~mask) | (value & mask)
        else:
            super().write(hart, csr, value)


class SatpAnyMode(VirtualCsrs):
    def write(self, hart, csr, value):
        if csr == 0x180:
            hart["satp"] = value
        else:
            super().write(hart, csr, value)


class SretKeepsSpie(VirtualCsrs):
    """sret restores SIE but leaves SPIE as it was (it must become 1)."""
    def sret(self, hart):
        st = hart["mstatus"]
        if hart.priv == 0:
            raise IllegalInstruction
        hart.priv = 1 if st & SPP else 0
        hart["mstatus"] = (st & ~(SIE | SPP | MPRV)) | (SIE if st & SPIE else 0)
        hart.pc = hart["sepc"]


class WfiAnywhere(VirtualCsrs):
    """Lets U-mode execute wfi."""
    def wfi(self, hart):
        hart.pc += 4


class Untouched:
    """The notebook's skeleton, unanswered."""
    def read(self, hart, csr):
        return 0

    def write(self, hart, csr, value):
        pass

    def sret(self, hart):
        pass

    def wfi(self, hart):
        pass


SUBTLY_WRONG = (NoSd, StvecAnyMode, SipAllBits, SatpAnyMode, SretKeepsSpie, WfiAnywhere)
