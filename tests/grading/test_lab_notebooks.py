"""End to end: filled-in copies of lab 02 graded by `vmlab grade` (nbclient in the sandbox),
plus the labs' exercise cells answered correctly score full marks for their student."""
import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from grading_support import ROOT

MAP = ('FLAGS = {"read-only": PTE_R, "read-write": PTE_R | PTE_W, "execute-only": PTE_X}\n'
       'map_page(root, P["va"], P["pa"], FLAGS[P["kind"]]EXTRA | (sv39.PTE_U if P["mode"] == "U" else 0))\n')
SPLIT = ('P2 = student.params("lab02", "split_address", STUDENT_ID)\n'
         'def split_va(va):\n'
         '    f = {"vpn2": va >> 30 & 511, "vpn1": va >> 21 & 511, "vpn0": va >> 12 & 511, "offset": va & 4095}\n'
         '    return [f[k] for k in P2["order"]]\n')


def filled_lab02(extra: str = "") -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "labs" / "02-paging.ipynb", 4)
    for cell in nb.cells:
        if cell.source.startswith("# your code here: one call of map_page"):
            cell.source = MAP.replace("EXTRA", extra)
        elif cell.source.startswith("def split_va(va):"):
            cell.source = SPLIT
    return nb


@pytest.mark.slow
def test_vmlab_grade_on_lab02_notebooks(tmp_path):
    subs = tmp_path / "subs"
    (subs / "uma").mkdir(parents=True)
    nbformat.write(filled_lab02(), subs / "uma" / "02-paging.ipynb")
    nbformat.write(filled_lab02(" | PTE_W | PTE_X"), subs / "vic.ipynb")
    nbformat.write(nbformat.read(ROOT / "labs" / "02-paging.ipynb", 4), subs / "wes.ipynb")  # unanswered
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "vmlab", "grade", str(subs), "--assignment", "lab02",
                        "-j", "2", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                       env=env, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 submissions graded" in p.stdout and "3/3" in p.stderr          # summary, progress bar
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert float(rows["uma"]["total"]) == 12
    assert 4 <= float(rows["vic"]["total"]) < 12 and float(rows["vic"]["split_address"]) == 4
    assert float(rows["wes"]["total"]) == 0
    doc = json.loads((tmp_path / "out" / "gradescope" / "vic" / "results.json").read_text())
    assert doc["tests"][0]["status"] == "failed" and "L0[" in doc["tests"][0]["output"]
