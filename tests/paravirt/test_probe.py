"""probe_extension announces MMU_UPDATE exactly for the VMs that have the switch on, and
the extension is there whatever module was imported first (a fresh interpreter)."""
from __future__ import annotations

import subprocess
import sys

from vmlab.guests.nano import EXT_MMU_UPDATE
from vmlab.hv import Hypervisor, paravirt, sbi


def probe(vm, eid: int) -> int:
    err, value = sbi.base(vm.vcpus[0], 3, [eid])
    assert err == sbi.SUCCESS
    return value


def test_probe_follows_the_per_vm_switch():
    hv = Hypervisor()
    off, on = hv.create_vm(ram_size=8 << 20), hv.create_vm(ram_size=8 << 20)
    paravirt.enable(on)
    assert probe(off, EXT_MMU_UPDATE) == 0
    assert probe(on, EXT_MMU_UPDATE) == 1
    assert probe(off, sbi.EXT_TIME) == 1            # the standard ones stay announced


def test_registration_does_not_depend_on_import_order():
    code = ("from vmlab.hv import Hypervisor, sbi; from vmlab.guests.nano import EXT_MMU_UPDATE;"
            "print(EXT_MMU_UPDATE in sbi.EXTENSIONS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
