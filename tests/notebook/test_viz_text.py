"""Where no browser draws the widgets, the pictures still say what they show.

A notebook with the four picture widgets is executed and converted by nbconvert's own
command line (``--execute --to markdown``: a real kernel, then the exporter a terminal
reader or a diff tool sees).  The widget views cannot be drawn there; each picture's
text/plain -- its ``text()`` -- must be in the output instead of a bare repr.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from nb_kernels import require  # noqa: E402

require("anywidget")

ROOT = Path(__file__).resolve().parents[2]

CELL = '''
from vmlab import sv39
from vmlab.viz import GuestVsShadow, PageTableTree, TlbView, WalkView
from vmlab.hv import Hypervisor
from vmlab.guests import teachos
mem = {}
root, l1, l0 = 0x8010_0000, 0x8010_1000, 0x8010_2000
va = 0x4020_0000
mem[root + 8 * sv39.vpn(va, 2)] = sv39.make_pte(l1, sv39.PTE_V)
mem[l1 + 8 * sv39.vpn(va, 1)] = sv39.make_pte(l0, sv39.PTE_V)
mem[l0 + 8 * sv39.vpn(va, 0)] = sv39.make_pte(0x8020_0000, sv39.PTE_V | sv39.PTE_R)
read64 = lambda pa: mem.get(pa, 0)
guest = Hypervisor().create_vm(ram_size=64 << 20)
guest.boot(kernel=teachos.build().elf)
guest.run(instructions=2_000_000)
display(WalkView(read64, sv39.make_satp(root), va + 0x18))
display(PageTableTree(read64, root))
display(TlbView(guest.machine))
display(GuestVsShadow(guest))
'''


def test_pictures_in_words_through_nbconvert(tmp_path):
    nb = new_notebook(cells=[new_code_cell(CELL)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    path = tmp_path / "pictures.ipynb"
    nbformat.write(nb, path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-m", "nbconvert", "--execute", "--to", "markdown", "--stdout",
                          "--ExecutePreprocessor.timeout=600", str(path)],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "→ physical 0x80200018" in text                              # the walk
    assert "root 0x80100000 · 3 valid entries · 1 mappings" in text     # the tree
    assert "TLB (hart 0):" in text and " hits, " in text                 # the TLB
    assert "VM 0 · " in text and " shadow trees " in text                # guest vs shadow
    assert "<vmlab " not in text                                         # no bare repr anywhere
