"""The trace's whole-run counters for a block of records, in one compiled pass.

``Trace`` keeps counts by (kind, cause) and by handler for the whole run, dropped records
included.  The compiled fast path hands it blocks of a thousand records and more at a time
(two per shadow fill), and counting them with numpy (a sort for the distinct keys, two
bincounts) cost ~38 µs a block of 1,024: more than storing them.  A block holds only a few
distinct keys, so one pass with a short list of the keys seen so far does it in a few µs.
"""
from __future__ import annotations

import numpy as np

from vmlab.hv.fast_jit import jit


@jit
def tally(block: np.ndarray, kind_col: int, cause_col: int, handler_col: int, cost_col: int,
          keys: np.ndarray, counts: np.ndarray, hcount: np.ndarray, hcost: np.ndarray) -> int:
    """Count ``block``'s rows by ``kind << 48 | cause`` into ``keys``/``counts`` (the
    distinct keys in order of first appearance) and by handler id into ``hcount`` and
    ``hcost`` (the costs summed); returns how many distinct keys, or -1 if the rows hold
    more distinct keys than ``keys`` has room for, or a handler id outside ``hcount`` --
    then nothing is to be used, and the caller counts another way."""
    nkeys = 0
    for r in range(block.shape[0]):
        handler = block[r, handler_col]
        if handler < 0 or handler >= hcount.shape[0]:
            return -1
        hcount[handler] += 1
        hcost[handler] += block[r, cost_col]
        key = block[r, kind_col] << 48 | block[r, cause_col]
        j = 0
        while j < nkeys and keys[j] != key:
            j += 1
        if j == nkeys:
            if nkeys == keys.shape[0]:
                return -1
            keys[j] = key
            counts[j] = 0
            nkeys += 1
        counts[j] += 1
    return nkeys
