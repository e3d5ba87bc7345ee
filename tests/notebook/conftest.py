"""Real kernels for the notebook tests: started through jupyter_client from ``kernels/``.

JUPYTER_PATH points at the repository, so the kernelspecs under test are the ones in
``kernels/`` (not whatever an earlier install left on the machine); PYTHONPATH makes the
kernel process import this checkout.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def kernel_env():
    from oracles import need_module
    need_module("jupyter_client")
    need_module("ipykernel")
    old = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PYTHONPATH")}
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(ROOT), old["JUPYTER_PATH"]]))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), old["PYTHONPATH"]]))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


