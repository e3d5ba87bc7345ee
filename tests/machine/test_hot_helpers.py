"""The hot loop's per-instruction helpers compile to code LLVM inlines, with no refcounting.

exec_hart (hart.py) calls small ``@jit`` functions for every instruction: fetch_word
(fetch.py), load and store (loadstore.py), write_rd (hart.py).  They are free only while
(1) the reference-count operations numba adds for their array arguments cancel out and
(2) LLVM then inlines them into the loop.  Both depend on the shape of the code
(loadstore.py's docstring says which), and an innocent-looking edit can break them -- the
loop then runs at a third of its speed while every other test still passes.  So this test
compiles a loop around each helper in a fresh process with an empty numba cache (cached code
cannot be inspected) and reads the optimised LLVM IR: no call left to the helper, no
NRT_incref/NRT_decref.  The same check on a helper written the wrong way (an array written
on one path only) must find the latter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent('''
    import json, re
    import numpy as np
    from numba import njit
    from vmlab.machine.fetch import fetch_word
    from vmlab.machine.hart import write_rd
    from vmlab.machine.loadstore import DataView, fast_offset, load, load_value, store

    @njit(error_model="numpy")
    def written_on_one_path(r, mem, tlbf, w, dv, hits, size, f3):
        o = fast_offset(tlbf, dv.load_tlb, r[(w >> 15) & 31], size, dv.vm, dv.ctx,
                        dv.ram_base, dv.ram_size)
        if o < 0:
            return -2, hits
        r[(w >> 7) & 31] = load_value(mem, o, f3)
        return -1, hits

    def loop_over(helper, kind):
        @njit(error_model="numpy")
        def loop(r, mem, tlbf, rvc, dv, n):
            hits, acc = 0, 0
            for i in range(n):
                w = 0x0005B503 + (i << 7)
                if kind == 0:
                    a, b, c = helper(mem, rvc, np.int64(i & 0xFF), np.int64(0))
                    acc += a + b + c
                elif kind == 2:
                    acc += helper(r, i & 31, (i & 1 == 0, np.int64(i)))
                else:
                    cause, hits = helper(r, mem, tlbf, w, dv, hits, np.int64(8), np.int64(3))
                    acc += cause
            return acc + hits
        return loop

    r = np.zeros(32, np.int64)
    mem = np.zeros(1 << 16, np.uint8)
    tlbf = np.zeros(1 << 12, np.int64)
    rvc = np.zeros(1 << 16, np.int64)
    dv = DataView(0, 1024, True, 0, 0, 1 << 16, 0, 0, 0)
    out = {}
    for name, helper, kind in (("fetch_word", fetch_word, 0), ("load", load, 1),
                               ("store", store, 1), ("write_rd", write_rd, 2),
                               ("written_on_one_path", written_on_one_path, 1)):
        loop = loop_over(helper, kind)
        loop(r, mem, tlbf, rvc, dv, 3)
        ir = loop.inspect_llvm(loop.signatures[0])
        body = ir[ir.index("define"):]
        body = body[:body.index("\\n}")]
        calls = re.findall(r"call [^@]*@([\\w.$]+)", body)
        out[name] = {"nrt": sum("NRT_" in c for c in calls),
                     "helper_called": any(name in c for c in calls)}
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba")),
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("helper", ["fetch_word", "load", "store", "write_rd"])
def test_the_helper_is_inlined_without_reference_counting(compiled, helper):
    assert compiled[helper] == {"nrt": 0, "helper_called": False}


def test_the_check_sees_a_helper_written_the_wrong_way(compiled):
    assert compiled["written_on_one_path"]["nrt"] > 0
