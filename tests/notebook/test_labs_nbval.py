"""Every lab, executed top to bottom by nbval (``pytest --nbval-lax labs/``).

nbval runs in its own pytest process, per lab, with a kernel of this very Python
(``--nbval-current-env``: a stray system-wide "python3" kernelspec cannot take over), so that ``make test`` (pytest over tests/)
executes the labs too without changing the suite's own options.  Cells tagged
``nbval-check-output`` (the guest runs in labs 01 and 02: the machine is deterministic)
must also reproduce their stored output exactly.  Lab 03 boots Debian's Linux to a shell
(one to two minutes on a quiet machine, several on a shared one): hence the long limits.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted((ROOT / "labs").glob("*.ipynb"))

from nb_kernels import require  # noqa: E402

require("nbval")


def test_every_lab_is_numbered_and_in_the_readme():
    """Labs are NN-name notebooks with distinct numbers, each listed in the README's labs
    table (a lab nobody can find is not part of the course)."""
    readme = (ROOT / "README.md").read_text()
    numbers = [p.stem[:2] for p in LABS]
    assert len(LABS) >= 4 and len(set(numbers)) == len(numbers)
    for p in LABS:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+", p.stem), p.stem
        assert p.stem in readme, f"{p.name} is not in the README"


@pytest.mark.parametrize("lab", LABS, ids=[p.stem for p in LABS])
def test_lab_runs_under_nbval(lab, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", str(lab), "--nbval-current-env",
         "--nbval-kernel-startup-timeout=180", "--nbval-cell-timeout=1800", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:randomly", f"--rootdir={lab.parent}", "-o", "addopts="],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=2400)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "failed" not in proc.stdout, tail
