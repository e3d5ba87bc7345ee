"""Every lab, executed top to bottom by nbval (``pytest --nbval-lax labs/``).

nbval runs in its own pytest process, per lab, with a kernel of this very Python
(``--nbval-current-env``: a stray system-wide "python3" kernelspec cannot take over), so that ``make test`` (pytest over tests/)
executes the labs too without changing the suite's own options.  Cells tagged
``nbval-check-output`` (the guest runs in labs 01 and 02: the machine is deterministic)
must also reproduce their stored output exactly.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted((ROOT / "labs").glob("*.ipynb"))

from nb_kernels import require  # noqa: E402

require("nbval")


def test_the_labs_are_there():
    assert [p.stem for p in LABS] == ["00-welcome", "01-the-machine", "02-paging", "03-trap-and-emulate", "05-memory"]


@pytest.mark.parametrize("lab", LABS, ids=[p.stem for p in LABS])
def test_lab_runs_under_nbval(lab, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", str(lab), "--nbval-current-env",
         "--nbval-kernel-startup-timeout=180", "--nbval-cell-timeout=600", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:randomly", f"--rootdir={lab.parent}", "-o", "addopts="],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "failed" not in proc.stdout, tail
